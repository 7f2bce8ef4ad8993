-- Why a callback's delivery failed: the last failed attempt's error (short: an HTTP status, a
-- connect error, a timeout, an egress refusal — never a secret or a URL's query), NULL while
-- no attempt failed and kept once the event is delivered after all; and whether the event was
-- given up (delivered_at is then when it was given up, not a delivery).
ALTER TABLE outbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN given_up INTEGER NOT NULL DEFAULT 0;
