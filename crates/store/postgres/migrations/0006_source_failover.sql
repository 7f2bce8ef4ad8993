-- A live task's failover settings (TaskSpec::failover), for its backup sources (the live
-- source_urls after the first): seconds before the next source is used, and the failback time.
-- NULL: the relay's default (failover) / no failback, as for every task created before.
ALTER TABLE tasks ADD COLUMN failover_after BIGINT;
ALTER TABLE tasks ADD COLUMN failback_after BIGINT;
