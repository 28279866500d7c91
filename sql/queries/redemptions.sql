-- owner: service/domain/redemptions.py
-- name: vouchers_for_merchant
-- Each of :codes (a cashier's preview: one; a checkout's: several) as a cashier may see it
-- (no resident), and the merchant's own standing, in one round trip. Found ones only, in
-- no order.
SELECT v.id, v.code, v.batch_id, v.expires_at,
       voucher_status(v.status, v.expires_at, :now) AS status,
       b.category, b.face_value_fen, b.min_spend_fen,
       EXISTS (SELECT 1 FROM batch_merchants m WHERE m.batch_id = v.batch_id) AS has_merchant_list,
       EXISTS (SELECT 1 FROM batch_merchants m WHERE m.batch_id = v.batch_id AND m.merchant_id = :merchant_id)
           AS merchant_listed,
       me.status AS merchant_status, me.category AS merchant_category
FROM vouchers v
JOIN batches b ON b.id = v.batch_id
LEFT JOIN merchants me ON me.id = :merchant_id
WHERE v.code = ANY(:codes::text[]);

-- name: lock_idempotency_keys
-- Requests with the same merchant and key take turns here: a later one waits until the
-- earlier commits, then finds its stored answer. Keys are locked in sorted order, so two
-- combined flushes never wait on each other in a circle. :lock_names are "merchant:key"s.
SELECT count(pg_advisory_xact_lock(:namespace::integer, hashtext(k)))
FROM (SELECT k FROM unnest(:lock_names::text[]) AS k ORDER BY k) AS sorted;

-- name: redemptions_context
-- Everything a flush of checkouts decides on, one row per voucher of each checkout in order
-- (a checkout of several vouchers: a row each): the key's stored answer if any, whether the
-- caller is live (the merchant's owner, or a cashier of that merchant not removed), the
-- merchant's standing, the voucher (locked in id order until the transaction ends) and the
-- id a redemption will have.
-- :merchant_ids, :keys, :codes, :moments and :cashier_ids are parallel arrays, one element per
-- row (a moment decides whether the voucher has expired by then; a null cashier: the owner).
WITH wanted AS (
    SELECT * FROM unnest(:merchant_ids::bigint[], :keys::text[], :codes::text[],
                         :moments::timestamptz[], :cashier_ids::bigint[]) WITH ORDINALITY
        AS w (merchant_id, key, code, at, cashier_id, n)
), locked AS (
    SELECT v.id, v.code, v.batch_id, v.expires_at, v.status AS stored_status,
           b.category, b.face_value_fen, b.min_spend_fen,
           EXISTS (SELECT 1 FROM batch_merchants m WHERE m.batch_id = v.batch_id) AS has_merchant_list
    FROM vouchers v JOIN batches b ON b.id = v.batch_id
    WHERE v.code = ANY(:codes::text[])
    ORDER BY v.id
    FOR UPDATE OF v
)
SELECT w.n, k.fingerprint, k.status_code, k.response,
       (w.cashier_id IS NULL OR c.id IS NOT NULL) AS caller_live, c.name AS cashier_name,
       me.status AS merchant_status, me.category AS merchant_category,
       me.daily_subsidy_cap_fen AS merchant_cap,
       l.id, l.code, l.batch_id, l.expires_at,
       voucher_status(l.stored_status, l.expires_at, w.at) AS status, l.category, l.face_value_fen,
       l.min_spend_fen, l.has_merchant_list,
       EXISTS (SELECT 1 FROM batch_merchants m
               WHERE m.batch_id = l.batch_id AND m.merchant_id = w.merchant_id) AS merchant_listed,
       nextval('redemptions_id_seq') AS next_id
FROM wanted w
LEFT JOIN idempotency_keys k ON k.merchant_id = w.merchant_id AND k.key = w.key
LEFT JOIN merchants me ON me.id = w.merchant_id
LEFT JOIN cashiers c
       ON c.id = w.cashier_id AND c.merchant_id = w.merchant_id AND c.removed_at IS NULL
LEFT JOIN locked l ON l.code = w.code
ORDER BY w.n;

-- name: complete_redemptions
-- A flush's redemptions, the vouchers' new state, their ledger events, their money transfers,
-- and every key with its answer (refusals too), in one statement.
-- Parallel arrays, one element per redemption (:moments … :answers) and one per stored
-- refusal (:refused_merchant_ids … :refused_moments): see service/domain/redemptions.py,
-- Completed. A checkout of several vouchers carries its key's answer on one of its rows only.
WITH done AS (
    SELECT * FROM unnest(:moments::timestamptz[], :business_dates::date[], :ids::bigint[], :voucher_ids::bigint[],
                         :merchant_ids::bigint[], :batch_ids::bigint[], :categories::text[],
                         :order_amounts::bigint[], :discounts::bigint[], :order_refs::text[],
                         :cashier_ids::bigint[], :metadatas::text[], :checkout_ids::bigint[],
                         :keys::text[], :fingerprints::bytea[], :answers::text[])
        AS d (at, business_date, id, voucher_id, merchant_id, batch_id, category, order_fen,
              discount_fen, order_ref, cashier_id, metadata, checkout_id, key, fingerprint, answer)
), redemption AS (
    INSERT INTO redemptions (id, voucher_id, merchant_id, batch_id, category, order_amount_fen,
                             discount_fen, payable_fen, order_ref, idempotency_key, redeemed_at,
                             business_date, cashier_id, metadata, checkout_id)
    SELECT id, voucher_id, merchant_id, batch_id, category, order_fen, discount_fen,
           order_fen - discount_fen, order_ref, key, at, business_date, cashier_id, metadata,
           checkout_id
    FROM done
), voucher AS (
    UPDATE vouchers v SET status = 'redeemed', redeemed_at = done.at
    FROM done WHERE v.id = done.voucher_id
), ledger AS (
    INSERT INTO voucher_events (voucher_id, batch_id, kind, at, redemption_id, merchant_id)
    SELECT voucher_id, batch_id, 'redeemed', at, id, merchant_id FROM done
), money AS (
    -- The subsidy, from the festival's cost to the merchant's unsettled account.
    INSERT INTO transfers (kind, source, from_account, to_account, amount_fen, at, business_day,
                           merchant_id, category)
    SELECT 'redemption', id::text, 'subsidy:' || category, 'unsettled:' || merchant_id,
           discount_fen, at, business_date, merchant_id, category
    FROM done
), refused AS (
    SELECT * FROM unnest(:refused_merchant_ids::bigint[], :refused_keys::text[], :refused_fingerprints::bytea[],
                         :refused_statuses::integer[], :refused_answers::text[], :refused_moments::timestamptz[])
        AS r (merchant_id, key, fingerprint, status_code, answer, at)
)
INSERT INTO idempotency_keys (merchant_id, key, fingerprint, status_code, response,
                              redemption_id, created_at)
SELECT merchant_id, key, fingerprint, 201, answer, id, at FROM done WHERE answer IS NOT NULL
UNION ALL
SELECT merchant_id, key, fingerprint, status_code, answer, NULL, at FROM refused;

-- name: lock_checkout
-- One of the merchant's redemptions and the other items of its checkout (a checkout of one
-- voucher: itself alone), locked with their vouchers in the vouchers' id order (as a flush
-- locks vouchers: the two never wait on each other in a circle; another merchant's: none),
-- and what a reversal must know besides: whether each was clawed back, whether its day is
-- settled.
SELECT r.*, v.code,
       EXISTS (SELECT 1 FROM transfers t
               WHERE t.kind = 'clawback' AND t.source = r.id::text) AS clawed_back,
       EXISTS (SELECT 1 FROM transfers t
               WHERE t.kind = 'settlement'
                 AND t.source = r.merchant_id || ':' || r.business_date) AS day_settled
FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id
WHERE r.merchant_id = :merchant_id
  AND (r.id = :redemption_id
       OR r.checkout_id = (SELECT o.checkout_id FROM redemptions o
                           WHERE o.id = :redemption_id AND o.merchant_id = :merchant_id))
ORDER BY v.id
FOR UPDATE OF r, v;

-- name: reverse_redemptions
-- The redemptions (:redemption_ids: one, or a checkout's) reversed; each voucher goes back
-- to active, or to expired (with its own ledger event) when its validity has run out meanwhile;
-- each subsidy goes back by its own transfer.
WITH redemption AS (
    UPDATE redemptions SET status = 'reversed', reversed_at = :now, reversal_reason = :reason
    WHERE id = ANY(:redemption_ids::bigint[]) AND status = 'completed'
    RETURNING *
), voucher AS (
    UPDATE vouchers v
    SET status = CASE WHEN v.expires_at > :now THEN 'active' ELSE 'expired' END, redeemed_at = NULL
    FROM redemption r WHERE v.id = r.voucher_id
    RETURNING v.id, v.batch_id, v.status, v.code
), reversed AS (
    INSERT INTO voucher_events (voucher_id, batch_id, kind, at, redemption_id, merchant_id)
    SELECT voucher_id, batch_id, 'reversed', :now, id, merchant_id FROM redemption
), expired AS (
    INSERT INTO voucher_events (voucher_id, batch_id, kind, at)
    SELECT id, batch_id, 'expired', :now FROM voucher WHERE status = 'expired'
), money AS (
    INSERT INTO transfers (kind, source, from_account, to_account, amount_fen, at, business_day,
                           merchant_id, category)
    SELECT 'reversal', id::text, 'unsettled:' || merchant_id, 'subsidy:' || category,
           discount_fen, :now, business_date, merchant_id, category
    FROM redemption
)
SELECT r.*, v.code, c.name AS cashier_name
FROM redemption r JOIN voucher v ON v.id = r.voucher_id LEFT JOIN cashiers c ON c.id = r.cashier_id
ORDER BY r.id;

-- name: merchant_redemption
SELECT r.*, v.code, c.name AS cashier_name
FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id LEFT JOIN cashiers c ON c.id = r.cashier_id
WHERE r.id = :redemption_id AND r.merchant_id = :merchant_id;

-- name: merchant_redemptions_on_day
SELECT r.*, v.code, c.name AS cashier_name
FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id LEFT JOIN cashiers c ON c.id = r.cashier_id
WHERE r.merchant_id = :merchant_id AND r.business_date = :day
ORDER BY r.id DESC;

-- name: merchant_redemption_by_key
-- The redemptions made with the key: one, or a checkout's items (in id order).
SELECT r.*, v.code, c.name AS cashier_name
FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id LEFT JOIN cashiers c ON c.id = r.cashier_id
WHERE r.merchant_id = :merchant_id AND r.idempotency_key = :key
ORDER BY r.id;

-- name: lock_capped_merchants
-- Redemptions at a merchant with a daily subsidy cap take turns (an advisory lock per
-- merchant, taken in id order so two transactions never wait on each other in a circle).
-- A statement of its own: what the merchant was paid must be read by a later statement,
-- whose snapshot sees what the lock's previous holder committed.
SELECT pg_advisory_xact_lock(:namespace::integer, m.merchant_id::integer)
FROM (SELECT DISTINCT unnest(:merchant_ids::bigint[]) AS merchant_id ORDER BY 1) m;

-- name: merchants_subsidy_of_day
-- Each (merchant, business day)'s subsidy so far; :merchant_ids and :days are parallel.
SELECT m.merchant_id, m.day,
       coalesce((SELECT sum(r.discount_fen)::bigint FROM redemptions r
                 WHERE r.merchant_id = m.merchant_id AND r.business_date = m.day
                   AND r.status = 'completed'), 0) AS subsidy_fen
FROM unnest(:merchant_ids::bigint[], :days::date[]) AS m (merchant_id, day);
