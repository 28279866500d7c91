-- name: insert_batch
INSERT INTO batches (category, title, face_value_fen, min_spend_fen, quantity, per_resident_limit,
                     claim_starts_at, claim_ends_at, valid_days, valid_until, mode, draw_at, seed,
                     seed_commitment)
VALUES (:category, :title, :face_value_fen, :min_spend_fen, :quantity, :per_resident_limit,
        :claim_starts_at, :claim_ends_at, :valid_days, :valid_until, :mode, :draw_at, :seed,
        :seed_commitment)
RETURNING id;

-- name: insert_batch_merchants
INSERT INTO batch_merchants (batch_id, merchant_id)
SELECT :batch_id, unnest(:merchant_ids::bigint[]);

-- name: get_batch
-- :now is the instant the status is for.
SELECT b.*, b.quantity - b.claimed AS remaining,
       batch_status(b.claim_starts_at, b.claim_ends_at, b.claimed, b.quantity, b.paused, :now) AS status,
       coalesce((SELECT array_agg(m.merchant_id ORDER BY m.merchant_id)
                 FROM batch_merchants m WHERE m.batch_id = b.id), '{}') AS merchant_ids
FROM batches b
WHERE b.id = :batch_id;

-- name: list_batches
-- :category and :status may be null (any). Open batches first, then by start.
SELECT * FROM (
    SELECT b.*, b.quantity - b.claimed AS remaining,
           batch_status(b.claim_starts_at, b.claim_ends_at, b.claimed, b.quantity, b.paused, :now) AS status,
           coalesce((SELECT array_agg(m.merchant_id ORDER BY m.merchant_id)
                     FROM batch_merchants m WHERE m.batch_id = b.id), '{}') AS merchant_ids
    FROM batches b
    WHERE (:category::text IS NULL OR b.category = :category)
) listed
WHERE :status::text IS NULL OR status = :status
ORDER BY CASE status WHEN 'open' THEN 0 WHEN 'scheduled' THEN 1 WHEN 'sold_out' THEN 2 ELSE 3 END,
         claim_starts_at, id;

-- name: lock_batch
SELECT id, claimed, quantity, claim_starts_at FROM batches WHERE id = :batch_id FOR UPDATE;

-- name: update_batch
-- Null leaves a field as it is.
UPDATE batches SET
    quantity = coalesce(:quantity, quantity),
    claim_ends_at = coalesce(:claim_ends_at, claim_ends_at),
    paused = coalesce(:paused, paused),
    updated_at = now()
WHERE id = :batch_id;
