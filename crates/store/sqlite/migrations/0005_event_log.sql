-- The event log and tasks' last error.
--
-- The outbox is every task's event log now: the state machine records each event, callback URL
-- or not. An event without one (url '') is inserted as delivered at its own time
-- (delivered_at = event_time), so it is never due and is purged with the delivered ones.
-- TaskStore::task_events (one account's task's events, newest first, by page: seq < ?) and the
-- check at insert that no event of a task with the new task's ID is still stored (by task_id
-- alone, task IDs being global: hence task_id first).
CREATE INDEX outbox_by_task ON outbox (task_id, account, seq);

-- The last error a task's relay reported (JSON: side, code, message, at), NULL if none ever
-- did. Kept through recovery, stop and restart: only a later error replaces it.
ALTER TABLE tasks ADD COLUMN last_error TEXT;
