-- name: job_try_period_lock
-- Whoever holds it runs this period; another process due at the same time skips it. Held
-- until the transaction ends, released if the process dies. $1 namespace, $2 job, $3 period.
SELECT pg_try_advisory_xact_lock($1::integer, hashtext($2 || '/' || $3));

-- name: job_lock
-- Runs of one job (of any periods) take turns: a run waits here for the one before it.
SELECT pg_advisory_xact_lock($1::integer, hashtext($2));

-- name: jobs_running
-- Which jobs hold their lock right now, anywhere. $1 namespace, $2 job names.
SELECT name FROM unnest($2::text[]) AS name
WHERE EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 2
      AND classid::bigint = ($1::bigint & 4294967295)
      AND objid::bigint = (hashtext(name)::bigint & 4294967295)
);

-- name: job_run_status
SELECT status FROM job_runs WHERE job = $1 AND period = $2;

-- name: job_succeeded_periods
SELECT period FROM job_runs WHERE job = $1 AND status = 'succeeded';

-- name: record_job_run
-- $1 job, $2 period, $3 status, $4 started, $5 finished, $6 rows, $7 error.
INSERT INTO job_runs (job, period, status, started_at, finished_at, rows, error)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (job, period) DO UPDATE SET
    status = EXCLUDED.status,
    attempts = job_runs.attempts + 1,
    started_at = EXCLUDED.started_at,
    finished_at = EXCLUDED.finished_at,
    rows = EXCLUDED.rows,
    error = EXCLUDED.error;

-- name: jobs_last_runs
SELECT DISTINCT ON (job) job, period, status, attempts, started_at, finished_at, rows, error
FROM job_runs
ORDER BY job, started_at DESC;

-- name: batch_activity_windows
-- Per batch, the first and last instants anything can happen with it: its claim window's
-- start, and the latest moment one of its vouchers can still be redeemed or expire.
SELECT claim_starts_at AS first, claim_ends_at + make_interval(days => valid_days) AS last
FROM batches;

-- name: expire_vouchers
-- Active vouchers past their expiry become expired, each with its ledger event dated at
-- the moment it expired (so a late sweep still counts it on the right day).
WITH expired AS (
    UPDATE vouchers SET status = 'expired'
    WHERE status = 'active' AND expires_at <= $1
    RETURNING id, batch_id, expires_at
)
INSERT INTO voucher_events (voucher_id, batch_id, kind, at)
SELECT id, batch_id, 'expired', expires_at FROM expired;

-- name: prune_idempotency_keys
DELETE FROM idempotency_keys WHERE created_at < $1;

-- name: prune_frequent_job_runs
-- Frequent jobs leave a row per due minute; days-old ones tell nobody anything.
DELETE FROM job_runs WHERE started_at < $1 AND job = ANY($2::text[]);
