-- name: lock_batch_for_claims
-- Taken first by every claim transaction of a batch: claims of one batch commit one after
-- another, each seeing what the one before it claimed.
SELECT id, category, title, face_value_fen, min_spend_fen, quantity, claimed, per_resident_limit,
       claim_starts_at, claim_ends_at, valid_days, valid_until, paused
FROM batches WHERE id = $1
FOR UPDATE;

-- name: claim_residents
-- $1 distinct subjects, $2 batch: each resident (created on first use) and how many vouchers
-- of the batch it already holds.
WITH wanted AS (
    SELECT unnest($1::text[]) AS sub
), created AS (
    INSERT INTO residents (sub) SELECT sub FROM wanted
    ON CONFLICT (sub) DO NOTHING
    RETURNING id, sub
)
SELECT id, sub, 0::bigint AS held FROM created
UNION ALL
SELECT r.id, r.sub,
       (SELECT count(*) FROM vouchers v WHERE v.batch_id = $2 AND v.resident_id = r.id) AS held
FROM residents r JOIN wanted w ON w.sub = r.sub;

-- name: insert_claimed_vouchers
-- Many claims in one statement: the vouchers, their ledger events and the batch's stock.
-- $1 batch, $2 its per-resident limit, $3 codes, $4 residents, $5 slots, $6 now, $7 expiry.
WITH new AS (
    INSERT INTO vouchers (code, batch_id, per_resident_limit, resident_id, slot, claimed_at, expires_at)
    SELECT c, $1, $2, r, s, $6, $7
    FROM unnest($3::text[], $4::bigint[], $5::int[]) AS t (c, r, s)
    RETURNING id, code
), ledger AS (
    INSERT INTO voucher_events (voucher_id, batch_id, kind, at)
    SELECT id, $1, 'claimed', $6 FROM new
), stock AS (
    UPDATE batches SET claimed = claimed + (SELECT count(*) FROM new) WHERE id = $1
)
SELECT code FROM new;
