-- Baton's PostgreSQL schema: the SQLite store's seven migrations (crates/store/sqlite/migrations)
-- as one, in PostgreSQL's types, with the same meaning column by column:
-- * times are Unix seconds (BIGINT), as the domain's `UnixTime` — no TIMESTAMPTZ, so both
--   stores hold exactly the same values and keyset positions compare the same way;
-- * u64 counters are BIGINT (≤ i64::MAX, checked in code);
-- * every text column is `COLLATE "C"`: byte order, as SQLite's default BINARY collation, so
--   lists sort identically whatever the cluster's locale (and `ILIKE` folds ASCII only, as
--   SQLite's LIKE does);
-- * JSON documents (source URLs, tags, a task's last error, an event's playlist item) are
--   JSONB: the database checks they are JSON; the store still checks their shape on reading.

CREATE TABLE tasks (
    id                  TEXT    COLLATE "C" NOT NULL PRIMARY KEY,
    account             TEXT    COLLATE "C" NOT NULL,
    name                TEXT    COLLATE "C" NOT NULL,
    region              TEXT    COLLATE "C" NOT NULL,
    source_type         TEXT    COLLATE "C" NOT NULL,
    source_protocol     TEXT    COLLATE "C",
    source_urls         JSONB   NOT NULL,   -- array of strings
    dst_url             TEXT    COLLATE "C" NOT NULL,
    start_time          BIGINT  NOT NULL,
    end_time            BIGINT  NOT NULL,
    callback_url        TEXT    COLLATE "C",
    repeat_number       BIGINT  NOT NULL,
    retry_count         BIGINT  NOT NULL,
    retry_interval      BIGINT  NOT NULL,
    file_index          BIGINT  NOT NULL,
    file_offset         BIGINT  NOT NULL,
    auth_key            TEXT    COLLATE "C",
    req_auth            TEXT    COLLATE "C",
    notify_item_switch  TEXT    COLLATE "C",
    status              BIGINT  NOT NULL,   -- Alibaba TaskStatus code: 0, 1, 2, 3, -1
    invalid_reason      TEXT    COLLATE "C",
    exit_reason         TEXT    COLLATE "C",
    exit_time           BIGINT,
    retries             BIGINT  NOT NULL,
    next_retry_at       BIGINT,
    current_file_index  BIGINT  NOT NULL,
    current_offset      BIGINT  NOT NULL,
    run                 BIGINT  NOT NULL,
    event_seq           BIGINT  NOT NULL,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL,
    version             BIGINT  NOT NULL,
    current_loop        BIGINT  NOT NULL,
    group_name          TEXT    COLLATE "C" NOT NULL,
    last_error          JSONB               -- {side, code, message, at}
);

-- One account's tasks, newest first (pages and keyset lists).
CREATE INDEX tasks_by_account ON tasks (account, created_at DESC, id);
-- Recovery (status <> -1) and purge (status = -1 AND exit_time < ?).
CREATE INDEX tasks_by_status ON tasks (status, exit_time);
-- Lists filtered by group, and the "group in use" count of a group's deletion.
CREATE INDEX tasks_by_group ON tasks (account, group_name);

-- Callback events and every task's event log, written in the same transaction as the task
-- change that produced them. No foreign key: the Exit event of a deleted task outlives it.
-- An event without a URL ('') is inserted as delivered at its own time: never due.
CREATE TABLE outbox (
    position         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- insertion order
    event_id         TEXT    COLLATE "C" NOT NULL UNIQUE,
    account          TEXT    COLLATE "C" NOT NULL,
    task_id          TEXT    COLLATE "C" NOT NULL,
    seq              BIGINT  NOT NULL,
    task_name        TEXT    COLLATE "C" NOT NULL,
    url              TEXT    COLLATE "C" NOT NULL,
    state            TEXT    COLLATE "C" NOT NULL,
    reason           TEXT    COLLATE "C",
    exit_reason      TEXT    COLLATE "C",
    event_time       BIGINT  NOT NULL,
    attempts         BIGINT  NOT NULL,
    next_attempt_at  BIGINT  NOT NULL,
    delivered_at     BIGINT,
    item             JSONB,                 -- {kind, file_index, source, detail}
    auth_key         TEXT    COLLATE "C",
    last_error       TEXT    COLLATE "C",
    given_up         BOOLEAN NOT NULL DEFAULT false
);

CREATE INDEX outbox_due ON outbox (next_attempt_at, position) WHERE delivered_at IS NULL;
CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;
CREATE INDEX outbox_by_task ON outbox (task_id, account, seq);

-- Forbidden streams: one row per account and stream path; active while resume_at > now.
CREATE TABLE blocks (
    account     TEXT    COLLATE "C" NOT NULL,
    domain      TEXT    COLLATE "C" NOT NULL,   -- lower-case
    app         TEXT    COLLATE "C" NOT NULL,
    stream      TEXT    COLLATE "C" NOT NULL,
    created_at  BIGINT  NOT NULL,
    resume_at   BIGINT  NOT NULL,
    PRIMARY KEY (account, domain, app, stream)
);

CREATE INDEX blocks_active ON blocks (account, resume_at);
CREATE INDEX blocks_by_resume ON blocks (resume_at);

-- Task groups: one row per account and name, whatever its status (1: deleted, revived by a
-- create of the same name).
CREATE TABLE task_groups (
    account     TEXT    COLLATE "C" NOT NULL,
    name        TEXT    COLLATE "C" NOT NULL,
    project     TEXT    COLLATE "C" NOT NULL,
    tags        JSONB   NOT NULL,   -- array of {category, key, value}
    status      BIGINT  NOT NULL,   -- Volcengine Status: 0 available, 1 deleted
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (account, name)
);

CREATE INDEX task_groups_by_status ON task_groups (account, status, name);

-- Spent signed API requests (ReplayStore). In the same database as the tasks here: PostgreSQL
-- has row locks, not SQLite's one writer per file, so the API's batches do not queue behind
-- task writes. Identity (expires_at, key_hash, digest); the digests are u64 stored with the
-- top bit flipped (`u64 ^ 1<<63` as i64), which keeps their order. status/body: the answer
-- of a Volcengine mutation (NULL until it answered).
CREATE TABLE replay (
    expires_at  BIGINT  NOT NULL,
    key_hash    BIGINT  NOT NULL,
    digest      BIGINT  NOT NULL,
    status      BIGINT,
    body        BYTEA,
    PRIMARY KEY (expires_at, key_hash, digest)
);
