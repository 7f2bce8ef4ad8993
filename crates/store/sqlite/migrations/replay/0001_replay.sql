-- Spent signed API requests (ReplayStore), in their own database file (baton-replay.db): the
-- API writes one group-committed transaction per batch of requests, thousands a second, and
-- should not take turns with task writes for baton.db's single write lock.
--
-- An entry's identity is (expires_at, key_hash, digest): the oldest entries are contiguous, so
-- inserts append near the end of the B-tree (honest requests expire about now + window) and
-- the purge deletes a prefix. key_hash and digest are u64 digests stored with their top bit
-- flipped (`u64 ^ 1<<63` as i64), which keeps their order. status/body: the answer of a
-- Volcengine mutation (NULL until it answered; always NULL for an Alibaba nonce).

CREATE TABLE replay (
    expires_at  INTEGER NOT NULL,
    key_hash    INTEGER NOT NULL,
    digest      INTEGER NOT NULL,
    status      INTEGER,
    body        BLOB,
    PRIMARY KEY (expires_at, key_hash, digest)
) STRICT, WITHOUT ROWID;
