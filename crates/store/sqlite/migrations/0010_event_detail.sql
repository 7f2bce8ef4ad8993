-- What a log-only event is about (CallbackEvent::detail, issue 16): the sources of a switch,
-- the destination that went down and its error, the previous owner of a task taken over.
-- Bounded by the domain (MAX_DETAIL). NULL for the provider's callbacks and every older event.
ALTER TABLE outbox ADD COLUMN detail TEXT;
