-- owner: jobs/expiry.py
-- name: expire_vouchers
-- Active vouchers past their expiry become expired, each with its ledger event dated at
-- the moment it expired (so a late sweep still counts it on the right day).
WITH expired AS (
    UPDATE vouchers SET status = 'expired'
    WHERE status = 'active' AND expires_at <= :now
    RETURNING id, batch_id, expires_at
)
INSERT INTO voucher_events (voucher_id, batch_id, kind, at)
SELECT id, batch_id, 'expired', expires_at FROM expired;
