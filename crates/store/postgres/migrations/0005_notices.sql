-- Cross-node notices (issue 15 item 4; docs/design/multi-node.md): every node LISTENs on one
-- channel per schema, 'baton:<schema>', and acts on what another node (or itself) changed —
-- the owner of a task carries out a command applied on another node, a released lease is
-- claimed at once, a forbid reaches the node holding the publisher. Notices are sent by
-- triggers, so no write path can forget one; PostgreSQL sends them at COMMIT (a rolled-back
-- write notifies nobody) and folds identical ones within a transaction. They are a speed-up
-- only: a node that missed some (its listening connection was down) re-reads everything, and
-- every node also polls.

-- A task row written: 'task:<id>:<version>' (inserted, updated; the owner compares the version
-- with the one it is in line with and reads nothing when they match), 'task:<id>' (deleted).
-- Task IDs hold only letters, digits, '_' and '-'.
CREATE FUNCTION baton_notice_task() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('baton:' || TG_TABLE_SCHEMA, 'task:' || OLD.id);
    ELSE
        PERFORM pg_notify('baton:' || TG_TABLE_SCHEMA, 'task:' || NEW.id || ':' || NEW.version);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER tasks_notice AFTER INSERT OR UPDATE OR DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION baton_notice_task();

-- A lease given back (owner set to NULL: SIGTERM, an exited task): 'released', for the
-- other nodes to claim now rather than at their next round.
CREATE FUNCTION baton_notice_released() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('baton:' || TG_TABLE_SCHEMA, 'released');
    RETURN NULL;
END $$;

CREATE TRIGGER task_leases_notice AFTER UPDATE OF owner ON task_leases
    FOR EACH ROW WHEN (OLD.owner IS NOT NULL AND NEW.owner IS NULL)
    EXECUTE FUNCTION baton_notice_released();

-- Forbidden streams changed (forbid, resume, purge): 'blocks', once per statement.
CREATE FUNCTION baton_notice_blocks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('baton:' || TG_TABLE_SCHEMA, 'blocks');
    RETURN NULL;
END $$;

CREATE TRIGGER blocks_notice AFTER INSERT OR UPDATE OR DELETE ON blocks
    FOR EACH STATEMENT EXECUTE FUNCTION baton_notice_blocks();
