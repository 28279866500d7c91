-- owner: jobs/runner.py
-- name: job_try_period_lock
-- Whoever holds it runs this period; another process due at the same time skips it. Held
-- until the transaction ends, released if the process dies.
SELECT pg_try_advisory_xact_lock(:namespace::integer, hashtext(:job || '/' || :period));

-- name: job_lock
-- Runs of one job (of any periods) take turns: a run waits here for the one before it.
SELECT pg_advisory_xact_lock(:namespace::integer, hashtext(:job));

-- name: jobs_running
-- Which of :jobs hold their lock right now, in any process on this database (pg_locks shows
-- every database of the server; another festival's jobs are not ours).
SELECT name FROM unnest(:jobs::text[]) AS name
WHERE EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 2
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND classid::bigint = (:namespace::bigint & 4294967295)
      AND objid::bigint = (hashtext(name)::bigint & 4294967295)
);

-- name: job_run_status
SELECT status FROM job_runs WHERE job = :job AND period = :period;

-- name: job_succeeded_periods
SELECT period FROM job_runs WHERE job = :job AND status = 'succeeded';

-- name: record_job_run
INSERT INTO job_runs (job, period, status, started_at, finished_at, rows, error)
VALUES (:job, :period, :status, :started_at, :finished_at, :rows, :error)
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
