-- The provider's callback signature: the AuthKey a task's event is signed with
-- (ALI-LIVE-SIGNATURE), kept with the event as it was when the event happened (a task that
-- asked for it with ReqAuth=yes); NULL when the event carries only Baton's own signature.
ALTER TABLE outbox ADD COLUMN auth_key TEXT;
