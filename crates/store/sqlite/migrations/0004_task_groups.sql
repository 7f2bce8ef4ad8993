-- Task groups (Volcengine CreatePullToPushGroup and friends). Every task is in one group,
-- fixed at creation; tasks created before groups existed are in the default group.
ALTER TABLE tasks ADD COLUMN group_name TEXT NOT NULL DEFAULT 'default';

-- Lists filtered by group, and the "group in use" count of a group's deletion.
CREATE INDEX tasks_by_group ON tasks (account, group_name);

-- One row per account and group name (case-sensitive), whatever its status: a deleted group
-- (status 1) stays, listed as deleted, until its name is created again, which revives the row.
CREATE TABLE task_groups (
    account     TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    project     TEXT    NOT NULL,
    tags        TEXT    NOT NULL,   -- JSON array of {"category", "key", "value"} objects
    status      INTEGER NOT NULL,   -- Volcengine Status: 0 available, 1 deleted
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (account, name)
) STRICT, WITHOUT ROWID;

-- The primary key serves lookups and lists of every status (by name); this one, lists of
-- one status.
CREATE INDEX task_groups_by_status ON task_groups (account, status, name);
