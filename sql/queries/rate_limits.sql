-- owner: service/domain/rate_limits.py
-- name: hit_rate_limit
-- Counts one hit in a fixed window and returns the window's count so far.
INSERT INTO rate_limits (bucket, window_start, hits) VALUES (:bucket, :window_start, 1)
ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1
RETURNING hits;

-- name: rate_limit_hits
SELECT coalesce((SELECT hits FROM rate_limits WHERE bucket = :bucket AND window_start = :window_start), 0);

-- name: prune_rate_limits
DELETE FROM rate_limits WHERE window_start < :before;
