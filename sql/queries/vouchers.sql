-- owner: service/domain/vouchers.py
-- name: resident_vouchers
-- :status may be null (all). Newest first.
SELECT * FROM (
    SELECT v.id, v.code, v.batch_id, b.category, b.title, b.face_value_fen, b.min_spend_fen,
           voucher_status(v.status, v.expires_at, :now) AS status,
           v.claimed_at, v.expires_at, v.redeemed_at
    FROM vouchers v
    JOIN residents r ON r.id = v.resident_id
    JOIN batches b ON b.id = v.batch_id
    WHERE r.sub = :sub
) mine
WHERE :status::text IS NULL OR status = :status
ORDER BY claimed_at DESC, id DESC
LIMIT :limit;

-- name: resident_voucher
SELECT v.code, v.batch_id, b.category, b.title, b.face_value_fen, b.min_spend_fen,
       voucher_status(v.status, v.expires_at, :now) AS status,
       v.claimed_at, v.expires_at, v.redeemed_at
FROM vouchers v
JOIN residents r ON r.id = v.resident_id
JOIN batches b ON b.id = v.batch_id
WHERE r.sub = :sub AND v.code = :code;

-- name: resident_vouchers_by_code
-- The resident's vouchers among :codes (a checkout QR's), in no particular order.
SELECT v.code, v.batch_id, b.category, b.title, b.face_value_fen, b.min_spend_fen,
       voucher_status(v.status, v.expires_at, :now) AS status, v.expires_at
FROM vouchers v
JOIN residents r ON r.id = v.resident_id
JOIN batches b ON b.id = v.batch_id
WHERE r.sub = :sub AND v.code = ANY(:codes::text[]);
