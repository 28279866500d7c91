-- name: voucher_for_merchant
-- $1 code, $2 merchant, $3 now: the voucher as a cashier may see it (no resident), and the
-- merchant's own standing, in one round trip.
SELECT v.id, v.code, v.batch_id, v.expires_at,
       voucher_status(v.status, v.expires_at, $3) AS status,
       b.category, b.face_value_fen, b.min_spend_fen,
       EXISTS (SELECT 1 FROM batch_merchants m WHERE m.batch_id = v.batch_id) AS has_merchant_list,
       EXISTS (SELECT 1 FROM batch_merchants m WHERE m.batch_id = v.batch_id AND m.merchant_id = $2)
           AS merchant_listed,
       me.status AS merchant_status, me.category AS merchant_category
FROM vouchers v
JOIN batches b ON b.id = v.batch_id
LEFT JOIN merchants me ON me.id = $2
WHERE v.code = $1;

-- name: lock_voucher_for_merchant
-- voucher_for_merchant, holding the voucher's row until the redemption's transaction ends,
-- so two checkouts cannot both pass the checks. (Kept as its own text: a locking clause
-- cannot be a parameter, and the preview must not lock.)
SELECT v.id, v.code, v.batch_id, v.expires_at,
       voucher_status(v.status, v.expires_at, $3) AS status,
       b.category, b.face_value_fen, b.min_spend_fen,
       EXISTS (SELECT 1 FROM batch_merchants m WHERE m.batch_id = v.batch_id) AS has_merchant_list,
       EXISTS (SELECT 1 FROM batch_merchants m WHERE m.batch_id = v.batch_id AND m.merchant_id = $2)
           AS merchant_listed,
       me.status AS merchant_status, me.category AS merchant_category
FROM vouchers v
JOIN batches b ON b.id = v.batch_id
LEFT JOIN merchants me ON me.id = $2
WHERE v.code = $1
FOR UPDATE OF v;

-- name: claim_idempotency_key
-- Inserted first in the redemption's transaction: a concurrent request with the same key
-- waits here until this one commits, then finds the stored answer.
INSERT INTO idempotency_keys (merchant_id, key, fingerprint, status_code, response, created_at)
VALUES ($1, $2, $3, 0, 'null', $4)
ON CONFLICT (merchant_id, key) DO NOTHING
RETURNING true;

-- name: stored_idempotency_key
SELECT fingerprint, status_code, response FROM idempotency_keys WHERE merchant_id = $1 AND key = $2;

-- name: store_idempotent_response
UPDATE idempotency_keys SET status_code = $3, response = $4, redemption_id = $5
WHERE merchant_id = $1 AND key = $2;

-- name: insert_redemption
-- The redemption, the voucher's new state and the ledger event, in one statement.
-- $1 voucher, $2 merchant, $3 batch, $4 category, $5 order, $6 discount, $7 order_ref,
-- $8 idempotency key, $9 now, $10 business date.
WITH redemption AS (
    INSERT INTO redemptions (voucher_id, merchant_id, batch_id, category, order_amount_fen,
                             discount_fen, payable_fen, order_ref, idempotency_key, redeemed_at,
                             business_date)
    VALUES ($1, $2, $3, $4, $5, $6, $5::bigint - $6::bigint, $7, $8, $9, $10)
    RETURNING *
), voucher AS (
    UPDATE vouchers SET status = 'redeemed', redeemed_at = $9 WHERE id = $1
), ledger AS (
    INSERT INTO voucher_events (voucher_id, batch_id, kind, at, redemption_id, merchant_id)
    SELECT voucher_id, batch_id, 'redeemed', redeemed_at, id, merchant_id FROM redemption
)
SELECT * FROM redemption;

-- name: lock_redemption
SELECT r.*, v.code FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id
WHERE r.id = $1
FOR UPDATE OF r, v;

-- name: reverse_redemption
-- $1 redemption, $2 now, $3 reason. The voucher goes back to active, or to expired (with
-- its own ledger event) when its validity has run out meanwhile.
WITH redemption AS (
    UPDATE redemptions SET status = 'reversed', reversed_at = $2, reversal_reason = $3
    WHERE id = $1 AND status = 'completed'
    RETURNING *
), voucher AS (
    UPDATE vouchers v
    SET status = CASE WHEN v.expires_at > $2 THEN 'active' ELSE 'expired' END, redeemed_at = NULL
    FROM redemption r WHERE v.id = r.voucher_id
    RETURNING v.id, v.batch_id, v.status, v.code
), reversed AS (
    INSERT INTO voucher_events (voucher_id, batch_id, kind, at, redemption_id, merchant_id)
    SELECT voucher_id, batch_id, 'reversed', $2, id, merchant_id FROM redemption
), expired AS (
    INSERT INTO voucher_events (voucher_id, batch_id, kind, at)
    SELECT id, batch_id, 'expired', $2 FROM voucher WHERE status = 'expired'
)
SELECT r.*, v.code FROM redemption r JOIN voucher v ON v.id = r.voucher_id;

-- name: merchant_redemption
SELECT r.*, v.code FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id
WHERE r.id = $1 AND r.merchant_id = $2;

-- name: merchant_redemptions_on_day
SELECT r.*, v.code FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id
WHERE r.merchant_id = $1 AND r.business_date = $2
ORDER BY r.id DESC;

-- name: merchant_redemption_by_key
SELECT r.*, v.code FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id
WHERE r.merchant_id = $1 AND r.idempotency_key = $2;
