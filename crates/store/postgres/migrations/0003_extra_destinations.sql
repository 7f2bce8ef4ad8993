-- A task's destinations after dst_url (TaskSpec::extra_dst_urls), an array of strings like
-- source_urls; '[]' for every task created before (and for every dialect's task: the Alibaba
-- and Volcengine dialects have one destination).
ALTER TABLE tasks ADD COLUMN extra_dst_urls JSONB NOT NULL DEFAULT '[]'::jsonb;
