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

-- name: lock_idempotency_key
-- Requests with the same merchant and key take turns here: the second one waits until the
-- first commits, then finds its stored answer. Transaction-scoped (safe behind PgBouncer).
-- $1 namespace, $2 "merchant:key".
SELECT pg_advisory_xact_lock($1::integer, hashtext($2));

-- name: redemption_context
-- Everything a redemption decides on, in one round trip: the key's stored answer if any, the
-- merchant's standing, the voucher (locked until the transaction ends, so two checkouts
-- cannot both pass the checks), and the id the redemption will have.
-- $1 merchant, $2 key, $3 code, $4 now.
SELECT k.fingerprint, k.status_code, k.response,
       me.status AS merchant_status, me.category AS merchant_category,
       v.id, v.code, v.batch_id, v.expires_at, v.status, v.category, v.face_value_fen,
       v.min_spend_fen, v.has_merchant_list, v.merchant_listed,
       nextval('redemptions_id_seq') AS next_id
FROM (SELECT 1) AS one
LEFT JOIN idempotency_keys k ON k.merchant_id = $1 AND k.key = $2
LEFT JOIN merchants me ON me.id = $1
LEFT JOIN LATERAL (
    SELECT v.id, v.code, v.batch_id, v.expires_at,
           voucher_status(v.status, v.expires_at, $4) AS status,
           b.category, b.face_value_fen, b.min_spend_fen,
           EXISTS (SELECT 1 FROM batch_merchants m WHERE m.batch_id = v.batch_id) AS has_merchant_list,
           EXISTS (SELECT 1 FROM batch_merchants m WHERE m.batch_id = v.batch_id AND m.merchant_id = $1)
               AS merchant_listed
    FROM vouchers v JOIN batches b ON b.id = v.batch_id
    WHERE v.code = $3
    FOR UPDATE OF v
) v ON true;

-- name: complete_redemption
-- The redemption, the voucher's new state, the ledger event and the key with its answer, in
-- one statement. $1 id, $2 voucher, $3 merchant, $4 batch, $5 category, $6 order,
-- $7 discount, $8 order_ref, $9 key, $10 now, $11 business date, $12 fingerprint, $13 answer.
WITH redemption AS (
    INSERT INTO redemptions (id, voucher_id, merchant_id, batch_id, category, order_amount_fen,
                             discount_fen, payable_fen, order_ref, idempotency_key, redeemed_at,
                             business_date)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $6::bigint - $7::bigint, $8, $9, $10, $11)
    RETURNING id, voucher_id, batch_id, merchant_id, redeemed_at
), voucher AS (
    UPDATE vouchers SET status = 'redeemed', redeemed_at = $10 WHERE id = $2
), ledger AS (
    INSERT INTO voucher_events (voucher_id, batch_id, kind, at, redemption_id, merchant_id)
    SELECT voucher_id, batch_id, 'redeemed', redeemed_at, id, merchant_id FROM redemption
)
INSERT INTO idempotency_keys (merchant_id, key, fingerprint, status_code, response,
                              redemption_id, created_at)
SELECT $3, $9, $12, 201, $13, id, $10 FROM redemption;

-- name: store_refusal
-- A refused redemption's answer, kept with its key so a retry gets the same one.
INSERT INTO idempotency_keys (merchant_id, key, fingerprint, status_code, response, created_at)
VALUES ($1, $2, $3, $4, $5, $6);

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
