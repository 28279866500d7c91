-- name: insert_batch
INSERT INTO batches (category, title, face_value_fen, min_spend_fen, quantity, per_resident_limit,
                     claim_starts_at, claim_ends_at, valid_days, valid_until)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING id;

-- name: insert_batch_merchants
INSERT INTO batch_merchants (batch_id, merchant_id)
SELECT $1, unnest($2::bigint[]);

-- name: get_batch
-- $1 batch id, $2 the instant the status is for.
SELECT b.*, b.quantity - b.claimed AS remaining,
       batch_status(b.claim_starts_at, b.claim_ends_at, b.claimed, b.quantity, b.paused, $2) AS status,
       coalesce((SELECT array_agg(m.merchant_id ORDER BY m.merchant_id)
                 FROM batch_merchants m WHERE m.batch_id = b.id), '{}') AS merchant_ids
FROM batches b
WHERE b.id = $1;

-- name: list_batches
-- $1 now, $2 category or null, $3 status or null. Open batches first, then by start.
SELECT * FROM (
    SELECT b.*, b.quantity - b.claimed AS remaining,
           batch_status(b.claim_starts_at, b.claim_ends_at, b.claimed, b.quantity, b.paused, $1) AS status,
           coalesce((SELECT array_agg(m.merchant_id ORDER BY m.merchant_id)
                     FROM batch_merchants m WHERE m.batch_id = b.id), '{}') AS merchant_ids
    FROM batches b
    WHERE ($2::text IS NULL OR b.category = $2)
) listed
WHERE $3::text IS NULL OR status = $3
ORDER BY CASE status WHEN 'open' THEN 0 WHEN 'scheduled' THEN 1 WHEN 'sold_out' THEN 2 ELSE 3 END,
         claim_starts_at, id;

-- name: lock_batch
SELECT id, claimed, quantity, claim_starts_at FROM batches WHERE id = $1 FOR UPDATE;

-- name: update_batch
-- Null leaves a field as it is.
UPDATE batches SET
    quantity = coalesce($2, quantity),
    claim_ends_at = coalesce($3, claim_ends_at),
    paused = coalesce($4, paused),
    updated_at = now()
WHERE id = $1;
