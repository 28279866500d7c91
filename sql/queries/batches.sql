-- owner: service/domain/batches.py
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
SELECT id, category, face_value_fen, claimed, quantity, claim_starts_at, claim_ends_at, mode,
       drawn_at
FROM batches WHERE id = :batch_id FOR UPDATE;

-- name: update_batch
-- Null leaves a field as it is.
UPDATE batches SET
    quantity = coalesce(:quantity, quantity),
    claim_ends_at = coalesce(:claim_ends_at, claim_ends_at),
    paused = coalesce(:paused, paused),
    updated_at = now()
WHERE id = :batch_id;

-- name: lock_batches
-- Both ends of a recycling, locked in id order (two recyclings never wait on each other in a
-- circle).
SELECT id, category, face_value_fen, quantity, claimed, claim_ends_at, mode, drawn_at
FROM batches WHERE id = ANY(:batch_ids::bigint[]) ORDER BY id FOR UPDATE;

-- name: recyclable_expired
-- The source's vouchers that expired unused and have not been recycled yet.
SELECT count(*) FROM vouchers
WHERE batch_id = :batch_id AND recycled_at IS NULL
  AND (status = 'expired' OR (status = 'active' AND expires_at <= :now));

-- name: recycle
-- The source's unclaimed stock and its expired, unused vouchers go to the target's quantity:
-- the source keeps only what was claimed, the vouchers are marked (never moved twice), and the
-- ledger of quantities gets a row each way.
WITH marked AS (
    UPDATE vouchers SET recycled_at = :now
    WHERE batch_id = :source_id AND recycled_at IS NULL
      AND (status = 'expired' OR (status = 'active' AND expires_at <= :now))
    RETURNING id
), source AS (
    UPDATE batches SET quantity = claimed, recycled_out = recycled_out + :moved, updated_at = :now
    WHERE id = :source_id
), target AS (
    UPDATE batches SET quantity = quantity + :moved, updated_at = :now WHERE id = :target_id
)
INSERT INTO batch_events (batch_id, kind, quantity, peer_batch_id, unclaimed, expired, at)
VALUES (:source_id, 'recycled_out', -:moved, :target_id, :unclaimed, :expired, :now),
       (:target_id, 'recycled_in', :moved, :source_id, :unclaimed, :expired, :now);

-- name: batch_activity_windows
-- Per batch, the first and last instants anything can happen with it: its claim window's
-- start, and the latest moment one of its vouchers can still be redeemed or expire.
SELECT claim_starts_at AS first, claim_ends_at + make_interval(days => valid_days) AS last
FROM batches;
