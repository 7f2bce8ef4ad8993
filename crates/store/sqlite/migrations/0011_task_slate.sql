-- A live task's own slate setting (TaskSpec::slate), as JSON: `false` (no slate) or
-- {"file", "after", "hold"} (each optional). NULL: the operator's [slate], as for every task
-- created before. (10 is taken by work merged separately.)
ALTER TABLE tasks ADD COLUMN slate TEXT;
