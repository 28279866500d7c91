-- owner: jobs/housekeeping.py
-- name: prune_idempotency_keys
-- Checkouts' and claims' keys alike.
WITH claims AS (DELETE FROM claim_keys WHERE created_at < :before)
DELETE FROM idempotency_keys WHERE created_at < :before;

-- name: prune_frequent_job_runs
-- Frequent jobs leave a row per due minute; days-old ones tell nobody anything.
DELETE FROM job_runs WHERE started_at < :before AND job = ANY(:jobs::text[]);
