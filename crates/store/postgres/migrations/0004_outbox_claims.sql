-- Callbacks delivered by one node per event (issue 15 item 4; docs/design/multi-node.md). A node
-- claims due events before it attempts them: claimed_until is the end of that claim, on the
-- database's clock (as leases: nodes' clocks need not agree). NULL, or a time past: unclaimed.
-- Recording an attempt (delivered, rescheduled, given up) ends the claim.
ALTER TABLE outbox ADD COLUMN claimed_until TIMESTAMPTZ;
