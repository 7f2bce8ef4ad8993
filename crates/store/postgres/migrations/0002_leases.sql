-- Task ownership with fenced leases (issue 15 item 2; docs/design/multi-node.md). Unlike the
-- rest of the schema, these times are TIMESTAMPTZ on the database's own clock (`now()`), never
-- a node's: leases must not depend on the nodes' clocks agreeing.

-- The nodes sharing this database: one row per node ID (kept in each node's data dir, so a
-- restarted node keeps its row and recognises its leases).
CREATE TABLE nodes (
    id            TEXT        COLLATE "C" NOT NULL PRIMARY KEY,
    name          TEXT        COLLATE "C" NOT NULL,   -- address or host name, for people
    capacity      BIGINT      NOT NULL,               -- most relays it runs at once
    started_at    TIMESTAMPTZ NOT NULL,
    heartbeat_at  TIMESTAMPTZ NOT NULL                -- last renewal (its leases' and its own)
);

-- One row per task that was ever claimed (created by the first claim, deleted with its task).
-- owner NULL: released (claimable at once). epoch grows by one at every claim and never goes
-- back: a write names (owner, epoch) and is refused once the row says otherwise.
CREATE TABLE task_leases (
    task_id     TEXT        COLLATE "C" NOT NULL PRIMARY KEY,
    owner       TEXT        COLLATE "C",
    epoch       BIGINT      NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    claimed_at  TIMESTAMPTZ NOT NULL
);

-- A node's leases (renewal, counting what it holds).
CREATE INDEX task_leases_by_owner ON task_leases (owner, expires_at);
