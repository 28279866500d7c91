-- owner: service/demo/
-- name: database_is_empty
-- The demo loads only where nobody has started a festival yet.
SELECT NOT EXISTS (SELECT 1 FROM merchants) AND NOT EXISTS (SELECT 1 FROM batches);

-- name: demo_daily_sales_per_category
-- What the demo's festival sold per category, and on how many days.
SELECT category, sum(order_amount_fen)::bigint AS sales_fen, count(DISTINCT business_date) AS days
FROM redemptions WHERE status = 'completed'
GROUP BY category;

-- name: demo_batch_vouchers
-- A drawn lottery's vouchers, so the demo plans their use as it does for claims.
SELECT v.code, v.batch_id, b.category, b.title, b.face_value_fen, b.min_spend_fen,
       v.claimed_at, v.expires_at
FROM vouchers v JOIN batches b ON b.id = v.batch_id
WHERE v.batch_id = :batch_id ORDER BY v.id;

-- name: demo_planned_face_value
-- Per category, the face value of every voucher the demo's batches will issue.
SELECT category, sum(face_value_fen::bigint * quantity)::bigint AS fen
FROM batches GROUP BY category;

-- name: demo_merchant_codes
SELECT credit_code, category FROM merchants ORDER BY id;

-- name: demo_residents
-- The demo's residents made ahead of their first claim (parallel arrays :subs, :persons),
-- bound to their persons as a claim would bind them.
INSERT INTO residents (sub, person)
SELECT sub, person FROM unnest(:subs::text[], :persons::text[]) AS w (sub, person)
ON CONFLICT (sub) DO NOTHING
RETURNING id, sub;

-- name: demo_resident_phones
-- Parallel arrays :ids, :phones_enc, :phones_masked: the phones of those who signed in by SMS.
UPDATE residents r SET phone_enc = w.phone_enc, phone_masked = w.phone_masked
FROM unnest(:ids::bigint[], :phones_enc::bytea[], :phones_masked::text[])
     AS w (id, phone_enc, phone_masked)
WHERE r.id = w.id;

-- name: demo_messages_due
-- Whether the outbox still has messages due at :now (the demo's sender goes on till none).
SELECT EXISTS (
    SELECT 1 FROM messages WHERE status IN ('queued', 'sending') AND next_attempt_at <= :now
);
