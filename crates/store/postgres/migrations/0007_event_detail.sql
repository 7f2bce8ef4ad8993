-- What a log-only event is about (CallbackEvent::detail, issue 16): the sources of a switch,
-- the destination that went down and its error, the previous owner of a task taken over.
-- Bounded by the domain (MAX_DETAIL). NULL for the provider's callbacks and every older event.
ALTER TABLE outbox ADD COLUMN detail TEXT;

-- Who held a task before its latest claim, for the new owner's TakenOver event. A release
-- clears `owner`, so `last_owner` keeps the owner of the latest claim through it; a claim
-- copies (last_owner, epoch) to (previous_owner, previous_epoch) before taking the lease.
-- NULL: never claimed before (or before this migration, when nobody held it).
ALTER TABLE task_leases ADD COLUMN last_owner TEXT COLLATE "C";
ALTER TABLE task_leases ADD COLUMN previous_owner TEXT COLLATE "C";
ALTER TABLE task_leases ADD COLUMN previous_epoch BIGINT;
UPDATE task_leases SET last_owner = owner;
