-- Tasks and their callback outbox. One row per task; the whole task (spec + runtime) is
-- rewritten on every change, guarded by `version` (optimistic concurrency).
-- Times are Unix seconds; u64 counters are stored as INTEGER (≤ i64::MAX, checked in code).

CREATE TABLE tasks (
    id                  TEXT    NOT NULL PRIMARY KEY,
    account             TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    region              TEXT    NOT NULL,
    source_type         TEXT    NOT NULL,
    source_protocol     TEXT,
    source_urls         TEXT    NOT NULL,   -- JSON array of strings
    dst_url             TEXT    NOT NULL,
    start_time          INTEGER NOT NULL,
    end_time            INTEGER NOT NULL,
    callback_url        TEXT,
    repeat_number       INTEGER NOT NULL,
    retry_count         INTEGER NOT NULL,
    retry_interval      INTEGER NOT NULL,
    file_index          INTEGER NOT NULL,
    file_offset         INTEGER NOT NULL,
    auth_key            TEXT,
    req_auth            TEXT,
    notify_item_switch  TEXT,
    status              INTEGER NOT NULL,   -- Alibaba TaskStatus code: 0, 1, 2, 3, -1
    invalid_reason      TEXT,
    exit_reason         TEXT,
    exit_time           INTEGER,
    retries             INTEGER NOT NULL,
    next_retry_at       INTEGER,
    current_file_index  INTEGER NOT NULL,
    current_offset      INTEGER NOT NULL,
    run                 INTEGER NOT NULL,
    event_seq           INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    version             INTEGER NOT NULL
) STRICT;

-- DescribeLivePullToPushList: one account's tasks, newest first.
CREATE INDEX tasks_by_account ON tasks (account, created_at DESC, id);
-- Recovery (status <> -1) and purge (status = -1 AND exit_time < ?).
CREATE INDEX tasks_by_status ON tasks (status, exit_time);

-- Callback events, written in the same transaction as the task change that produced them.
-- No foreign key: the Exit event of a deleted task outlives its task.
CREATE TABLE outbox (
    position         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,  -- insertion order
    event_id         TEXT    NOT NULL UNIQUE,
    account          TEXT    NOT NULL,
    task_id          TEXT    NOT NULL,
    seq              INTEGER NOT NULL,
    task_name        TEXT    NOT NULL,
    url              TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    reason           TEXT,
    exit_reason      TEXT,
    event_time       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    delivered_at     INTEGER
) STRICT;

CREATE INDEX outbox_due ON outbox (next_attempt_at, position) WHERE delivered_at IS NULL;
CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;
