-- name: resident_vouchers
-- $1 resident subject, $2 now, $3 status or null, $4 limit. Newest first.
SELECT * FROM (
    SELECT v.id, v.code, v.batch_id, b.category, b.title, b.face_value_fen, b.min_spend_fen,
           voucher_status(v.status, v.expires_at, $2) AS status,
           v.claimed_at, v.expires_at, v.redeemed_at
    FROM vouchers v
    JOIN residents r ON r.id = v.resident_id
    JOIN batches b ON b.id = v.batch_id
    WHERE r.sub = $1
) mine
WHERE $3::text IS NULL OR status = $3
ORDER BY claimed_at DESC, id DESC
LIMIT $4;

-- name: resident_voucher
-- $1 resident subject, $2 code, $3 now.
SELECT v.code, v.batch_id, b.category, b.title, b.face_value_fen, b.min_spend_fen,
       voucher_status(v.status, v.expires_at, $3) AS status,
       v.claimed_at, v.expires_at, v.redeemed_at
FROM vouchers v
JOIN residents r ON r.id = v.resident_id
JOIN batches b ON b.id = v.batch_id
WHERE r.sub = $1 AND v.code = $2;
