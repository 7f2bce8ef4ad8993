-- Forbidden streams (BlockStore): one row per account and stream path, replaced when the
-- stream is forbidden again. A block is active while resume_at > now; expired rows stay until
-- purged. Times are Unix seconds.

CREATE TABLE blocks (
    account     TEXT    NOT NULL,
    domain      TEXT    NOT NULL,   -- lower-case
    app         TEXT    NOT NULL,
    stream      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    resume_at   INTEGER NOT NULL,
    PRIMARY KEY (account, domain, app, stream)
) STRICT, WITHOUT ROWID;

-- The primary key serves DescribeLiveStreamsBlockList (account, domain, ordered by app then
-- stream) and ResumeLiveStream. This one: the quota (an account's blocks with resume_at > ?).
CREATE INDEX blocks_active ON blocks (account, resume_at);
-- The ingest's index at start (resume_at > ?) and purge (resume_at <= ?).
CREATE INDEX blocks_by_resume ON blocks (resume_at);
