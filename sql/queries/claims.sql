-- owner: service/domain/claims.py
-- name: lock_batch_for_claims
-- Taken first by every claim transaction of a batch: claims of one batch commit one after
-- another, each seeing what the one before it claimed.
SELECT id, category, title, face_value_fen, min_spend_fen, quantity, claimed, per_resident_limit,
       claim_starts_at, claim_ends_at, valid_days, valid_until, paused, mode
FROM batches WHERE id = :batch_id
FOR UPDATE;

-- name: claim_residents
-- Each of the distinct :subs (created on first use, bound to the person of the first request
-- that came with it), the person it is bound to, how many vouchers of the batch that person
-- already holds, and whether the person is suspended. :persons are the tokens' persons,
-- parallel to :subs; an account not bound yet is bound here (see 0014_resident_binding).
WITH wanted AS (
    SELECT * FROM unnest(:subs::text[], :persons::text[]) WITH ORDINALITY AS w (sub, person, n)
), created AS (
    INSERT INTO residents (sub, person)
    SELECT DISTINCT ON (sub) sub, person FROM wanted ORDER BY sub, n
    ON CONFLICT (sub) DO NOTHING
    RETURNING id, sub, person
), unbound AS (
    UPDATE residents r SET person = first.person
    FROM (SELECT DISTINCT ON (sub) sub, person FROM wanted ORDER BY sub, n) first
    WHERE r.sub = first.sub AND r.person IS NULL
    RETURNING r.sub, r.person
), resolved AS (
    SELECT DISTINCT w.sub, coalesce(c.id, r.id) AS id, coalesce(c.person, u.person, r.person) AS person
    FROM wanted w
    LEFT JOIN created c ON c.sub = w.sub
    LEFT JOIN unbound u ON u.sub = w.sub
    LEFT JOIN residents r ON r.sub = w.sub
)
SELECT s.sub, s.id, s.person,
       (SELECT count(*) FROM vouchers v WHERE v.batch_id = :batch_id AND v.person = s.person) AS held,
       EXISTS (SELECT 1 FROM person_suspensions p WHERE p.person = s.person) AS suspended
FROM resolved s;

-- name: insert_claimed_vouchers
-- Many claims in one statement: the vouchers, their ledger events and the batch's stock.
-- :codes, :resident_ids, :persons and :slots are parallel arrays, one element per voucher.
WITH new AS (
    INSERT INTO vouchers (code, batch_id, per_resident_limit, resident_id, person, slot, claimed_at,
                          expires_at)
    SELECT c, :batch_id, :per_resident_limit, r, p, s, :now, :expires_at
    FROM unnest(:codes::text[], :resident_ids::bigint[], :persons::text[], :slots::int[])
        AS t (c, r, p, s)
    RETURNING id, code
), ledger AS (
    INSERT INTO voucher_events (voucher_id, batch_id, kind, at)
    SELECT id, :batch_id, 'claimed', :now FROM new
), stock AS (
    UPDATE batches SET claimed = claimed + (SELECT count(*) FROM new) WHERE id = :batch_id
)
SELECT code FROM new;

-- name: stored_claim_answers
-- The answers already stored for these (resident, key) pairs, given as parallel arrays.
SELECT k.resident_id, k.key, k.batch_id, k.status_code, k.response
FROM claim_keys k
JOIN unnest(:resident_ids::bigint[], :keys::text[]) AS w (resident_id, key)
  ON k.resident_id = w.resident_id AND k.key = w.key;

-- name: store_claim_answers
INSERT INTO claim_keys (resident_id, key, batch_id, status_code, response, created_at)
SELECT r, k, :batch_id, s, a, :now
FROM unnest(:resident_ids::bigint[], :keys::text[], :statuses::integer[], :answers::text[])
    AS t (r, k, s, a);
