-- owner: service/domain/ledger.py
-- The money ledger (API.md, "Money ledger"): merchants' locks, settlement, balances,
-- transfers, statements and the checks of `ledger verify`.

-- name: lock_merchants
-- The merchant's lock, taken by settlement, reviews, releases, exports, returns and
-- reversals (in id order: two of them never wait on each other in a circle). NO KEY UPDATE:
-- redemptions' foreign-key checks (KEY SHARE) pass beside it.
SELECT id FROM merchants WHERE id = ANY(:merchant_ids::bigint[]) ORDER BY id FOR NO KEY UPDATE;

-- name: lock_all_merchants
SELECT id FROM merchants ORDER BY id FOR NO KEY UPDATE;

-- name: settle_day
-- Moves each merchant's unsettled money of business days up to :day (stragglers committed
-- after an earlier day's settlement included) to payable, once per (merchant, day).
WITH unsettled AS (
    SELECT t.merchant_id,
           sum(CASE WHEN t.to_account = 'unsettled:' || t.merchant_id THEN t.amount_fen
                    ELSE -t.amount_fen END)::bigint AS amount_fen
    FROM transfers t
    WHERE t.kind IN ('redemption', 'reversal', 'settlement') AND t.business_day <= :day
      AND 'unsettled:' || t.merchant_id IN (t.to_account, t.from_account)
    GROUP BY t.merchant_id
)
INSERT INTO transfers (kind, source, from_account, to_account, amount_fen, at, business_day,
                       merchant_id)
SELECT 'settlement', merchant_id || ':' || :day::date, 'unsettled:' || merchant_id,
       'payable:' || merchant_id, amount_fen, :now, :day, merchant_id
FROM unsettled WHERE amount_fen > 0
ORDER BY merchant_id
ON CONFLICT (kind, source) DO NOTHING
RETURNING merchant_id, amount_fen;

-- name: payable_balances
-- Each merchant's payable balance (of :merchant_ids, or every merchant with one when null).
-- Redemptions are most of the ledger and never touch payable: the kinds pick the rest
-- through the primary key.
SELECT t.merchant_id,
       sum(CASE WHEN t.to_account = 'payable:' || t.merchant_id THEN t.amount_fen
                ELSE -t.amount_fen END)::bigint AS balance_fen
FROM transfers t
WHERE t.kind IN ('settlement', 'clawback', 'payout', 'bank_failed', 'reversal')
  AND 'payable:' || t.merchant_id IN (t.to_account, t.from_account)
  AND (:merchant_ids::bigint[] IS NULL OR t.merchant_id = ANY(:merchant_ids::bigint[]))
GROUP BY t.merchant_id
ORDER BY t.merchant_id;

-- name: payout_standing
-- What decides a payout, read after the merchants' locks: account, suspension, hold. A
-- merchant is held while suspended or with a confirmed flag not yet released (derived here
-- only, never stored).
SELECT m.id AS merchant_id, m.status, m.account_name, m.account_no,
       EXISTS (SELECT 1 FROM risk_flags f WHERE f.merchant_id = m.id AND f.status = 'confirmed'
                                             AND f.released_at IS NULL) AS held
FROM merchants m WHERE m.id = ANY(:merchant_ids::bigint[]) ORDER BY m.id;

-- name: claw_back
-- The flagged redemptions' subsidy back from the merchant's payable, once each: completed
-- ones never reversed or clawed back before (the rows locked, so a reversal waits or wins).
WITH candidates AS (
    SELECT r.id, r.merchant_id, r.category, r.discount_fen
    FROM redemptions r
    WHERE r.id = ANY(:redemption_ids::bigint[]) AND r.merchant_id = :merchant_id
      AND r.status = 'completed'
      AND NOT EXISTS (SELECT 1 FROM transfers t
                      WHERE t.kind IN ('reversal', 'clawback') AND t.source = r.id::text)
    ORDER BY r.id
    FOR UPDATE OF r
), recorded AS (
    INSERT INTO clawbacks (redemption_id, flag_id, merchant_id, amount_fen, at)
    SELECT id, :flag_id, merchant_id, discount_fen, :now FROM candidates
    RETURNING redemption_id
)
INSERT INTO transfers (kind, source, from_account, to_account, amount_fen, at, business_day,
                       merchant_id, category)
SELECT 'clawback', c.id::text, 'payable:' || c.merchant_id, 'subsidy:' || c.category,
       c.discount_fen, :now, :day, c.merchant_id, c.category
FROM candidates c JOIN recorded ON recorded.redemption_id = c.id
ORDER BY c.id
RETURNING source::bigint AS redemption_id, amount_fen;

-- name: ledger_balances
SELECT account, kind, merchant_id, category, bank_file_id, balance_fen
FROM ledger_balances
WHERE (:kind::text IS NULL OR kind = :kind)
  AND (NOT :negative::boolean OR balance_fen < 0)
ORDER BY kind, merchant_id NULLS FIRST, category, bank_file_id, account;

-- name: merchant_balances
-- One merchant's accounts, through its transfers only (the view sums the whole ledger).
SELECT account, split_part(account, ':', 1) AS kind, :merchant_id::bigint AS merchant_id,
       NULL::text AS category, NULL::bigint AS bank_file_id, sum(delta)::bigint AS balance_fen
FROM (SELECT to_account AS account, amount_fen AS delta FROM transfers
      WHERE merchant_id = :merchant_id
      UNION ALL
      SELECT from_account, -amount_fen FROM transfers WHERE merchant_id = :merchant_id) postings
WHERE account IN ('unsettled:' || :merchant_id::bigint, 'payable:' || :merchant_id::bigint)
GROUP BY account
ORDER BY kind DESC;

-- name: ledger_transfers
SELECT id, kind, source, from_account, to_account, amount_fen, at, business_day, merchant_id,
       category, bank_file_id
FROM transfers
WHERE (:merchant_id::bigint IS NULL OR merchant_id = :merchant_id)
  AND (:kind::text IS NULL OR kind = :kind)
  AND business_day BETWEEN :from_day AND :to_day
ORDER BY id
LIMIT :limit;

-- name: merchant_statement
-- A merchant's 对账单 per business day from :from_day to :to_day: each kind of movement, and
-- its balances at the end of the day (everything before :from_day carried in).
WITH moves AS (
    SELECT business_day, kind, amount_fen, source,
           CASE WHEN to_account = 'unsettled:' || :merchant_id::bigint THEN amount_fen
                WHEN from_account = 'unsettled:' || :merchant_id::bigint THEN -amount_fen
                ELSE 0 END AS unsettled_delta,
           CASE WHEN to_account = 'payable:' || :merchant_id::bigint THEN amount_fen
                WHEN from_account = 'payable:' || :merchant_id::bigint THEN -amount_fen
                ELSE 0 END AS payable_delta
    FROM transfers WHERE merchant_id = :merchant_id AND business_day <= :to_day
), days AS (
    SELECT business_day,
           coalesce(sum(amount_fen) FILTER (WHERE kind = 'redemption'), 0)::bigint AS earned_fen,
           count(*) FILTER (WHERE kind = 'redemption') AS redemptions,
           coalesce(sum(amount_fen) FILTER (WHERE kind = 'reversal'), 0)::bigint AS reversed_fen,
           coalesce(sum(amount_fen) FILTER (WHERE kind = 'clawback'), 0)::bigint AS clawed_back_fen,
           coalesce(sum(amount_fen) FILTER (WHERE kind = 'settlement'), 0)::bigint AS settled_fen,
           coalesce(sum(amount_fen) FILTER (WHERE kind = 'payout'), 0)::bigint AS paid_out_fen,
           coalesce(array_agg(source ORDER BY source) FILTER (WHERE kind = 'payout'), '{}')
               AS payout_references,
           coalesce(sum(amount_fen) FILTER (WHERE kind = 'bank_paid'), 0)::bigint AS bank_paid_fen,
           coalesce(sum(amount_fen) FILTER (WHERE kind = 'bank_failed'), 0)::bigint AS returned_failed_fen,
           sum(unsettled_delta)::bigint AS unsettled_delta,
           sum(payable_delta)::bigint AS payable_delta
    FROM moves GROUP BY business_day
), running AS (
    SELECT *, sum(unsettled_delta) OVER w AS unsettled_fen, sum(payable_delta) OVER w AS payable_fen
    FROM days WINDOW w AS (ORDER BY business_day)
)
SELECT business_day AS date, redemptions, earned_fen, reversed_fen, clawed_back_fen, settled_fen,
       paid_out_fen, payout_references AS "references", bank_paid_fen, returned_failed_fen,
       unsettled_fen::bigint, payable_fen::bigint
FROM running WHERE business_day >= :from_day
ORDER BY business_day;

-- ---------------------------------------------------------------------------------------
-- ledger verify: each a list of problems (empty when the check holds).

-- name: verify_balances_sum
-- Every account's balance summed over the whole ledger is 0, and computed apart from the
-- postings view (credits and debits grouped separately) each balance is the same.
WITH credits AS (SELECT to_account AS account, sum(amount_fen) AS fen FROM transfers GROUP BY 1),
     debits AS (SELECT from_account AS account, sum(amount_fen) AS fen FROM transfers GROUP BY 1),
     apart AS (SELECT coalesce(c.account, d.account) AS account,
                      (coalesce(c.fen, 0) - coalesce(d.fen, 0))::bigint AS balance_fen
               FROM credits c FULL JOIN debits d ON d.account = c.account)
SELECT 'balance of ' || coalesce(a.account, v.account) || ': ' || coalesce(v.balance_fen, 0)
       || ' in the ledger, ' || coalesce(a.balance_fen, 0) || ' from its transfers' AS problem
FROM apart a FULL JOIN ledger_balances v ON v.account = a.account
WHERE coalesce(a.balance_fen, 0) <> coalesce(v.balance_fen, 0)
UNION ALL
SELECT 'the balances sum to ' || sum(balance_fen) || ' fen, not 0'
FROM ledger_balances HAVING sum(balance_fen) <> 0
UNION ALL
SELECT 'transfer ' || id || ' moves ' || amount_fen || ' fen from ' || from_account || ' to '
       || to_account
FROM transfers WHERE amount_fen <= 0 OR from_account = to_account;

-- name: verify_records
-- Each transfer against the record that caused it, computed from those records alone:
-- every redemption's subsidy moved once, every reversal and clawback unwound exactly its
-- discount, never both.
WITH expected AS (
    SELECT 'redemption' AS kind, r.id::text AS source, r.discount_fen AS amount_fen,
           'subsidy:' || r.category AS from_account, 'unsettled:' || r.merchant_id AS to_account
    FROM redemptions r
    UNION ALL
    SELECT 'reversal', r.id::text, r.discount_fen, NULL, 'subsidy:' || r.category
    FROM redemptions r WHERE r.status = 'reversed'
    UNION ALL
    SELECT 'clawback', c.redemption_id::text, c.amount_fen, 'payable:' || c.merchant_id,
           'subsidy:' || r.category
    FROM clawbacks c JOIN redemptions r ON r.id = c.redemption_id
), actual AS (
    SELECT kind, source, amount_fen, from_account, to_account FROM transfers
    WHERE kind IN ('redemption', 'reversal', 'clawback')
)
SELECT coalesce(e.kind, a.kind) || ' ' || coalesce(e.source, a.source) || ': '
       || CASE WHEN a.kind IS NULL THEN 'no transfer for it'
               WHEN e.kind IS NULL THEN 'a transfer without its record'
               ELSE 'the transfer moves ' || a.amount_fen || ' fen ' || a.from_account || ' → '
                    || a.to_account || ', the record says ' || e.amount_fen END AS problem
FROM expected e FULL JOIN actual a ON a.kind = e.kind AND a.source = e.source
WHERE a.kind IS NULL OR e.kind IS NULL OR a.amount_fen <> e.amount_fen
   OR a.to_account <> e.to_account OR a.from_account <> coalesce(e.from_account, a.from_account)
UNION ALL
SELECT 'redemption ' || r.id || ' is both reversed and clawed back'
FROM redemptions r JOIN clawbacks c ON c.redemption_id = r.id WHERE r.status = 'reversed'
LIMIT 100;

-- name: verify_cost
-- The festival's cost from the redemptions, clawbacks and the bank's records alone, against
-- the ledger, per category and per merchant: completed discounts − clawed back = −subsidy:C;
-- and per merchant = unsettled + payable + its rows in transit + its rows paid.
WITH cost_by_category AS (
    SELECT category,
           (sum(discount_fen) FILTER (WHERE status = 'completed')
            - coalesce((SELECT sum(c.amount_fen) FROM clawbacks c JOIN redemptions x
                        ON x.id = c.redemption_id WHERE x.category = r.category), 0))::bigint AS fen
    FROM redemptions r GROUP BY category
), ledger_by_category AS (
    SELECT category, -balance_fen AS fen FROM ledger_balances WHERE kind = 'subsidy'
), owed_by_merchant AS (
    SELECT merchant_id,
           (sum(discount_fen) FILTER (WHERE status = 'completed')
            - coalesce((SELECT sum(c.amount_fen) FROM clawbacks c
                        WHERE c.merchant_id = r.merchant_id), 0))::bigint AS fen
    FROM redemptions r GROUP BY merchant_id
), bank_by_merchant AS (
    SELECT b.merchant_id,
           sum(b.amount_fen) FILTER (WHERE a.status IS NULL OR a.status = 'paid')::bigint AS fen
    FROM bank_file_rows b LEFT JOIN bank_returns a ON a.reference = b.reference
    GROUP BY b.merchant_id
), ledger_by_merchant AS (
    SELECT merchant_id, sum(balance_fen)::bigint AS fen FROM ledger_balances
    WHERE kind IN ('unsettled', 'payable') GROUP BY merchant_id
)
SELECT 'subsidy:' || coalesce(c.category, l.category) || ' is ' || coalesce(-l.fen, 0)
       || ' fen; the redemptions and clawbacks cost ' || coalesce(c.fen, 0) AS problem
FROM cost_by_category c FULL JOIN ledger_by_category l ON l.category = c.category
WHERE coalesce(c.fen, 0) <> coalesce(l.fen, 0)
UNION ALL
SELECT 'merchant ' || coalesce(o.merchant_id, l.merchant_id, b.merchant_id) || ' earned '
       || coalesce(o.fen, 0) || ' fen net of clawbacks; the ledger holds '
       || coalesce(l.fen, 0) || ' unsettled and payable and the bank files '
       || coalesce(b.fen, 0) || ' in transit or paid'
FROM owed_by_merchant o
FULL JOIN ledger_by_merchant l ON l.merchant_id = o.merchant_id
FULL JOIN bank_by_merchant b ON b.merchant_id = coalesce(o.merchant_id, l.merchant_id)
WHERE coalesce(o.fen, 0) <> coalesce(l.fen, 0) + coalesce(b.fen, 0)
LIMIT 100;

-- name: verify_totals
-- The whole festival: cost from the records, and where the ledger holds it.
SELECT (SELECT coalesce(sum(discount_fen) FILTER (WHERE status = 'completed'), 0) FROM redemptions)::bigint
           - (SELECT coalesce(sum(amount_fen), 0) FROM clawbacks)::bigint AS cost_fen,
       coalesce(-sum(balance_fen) FILTER (WHERE kind = 'subsidy'), 0)::bigint AS subsidy_fen,
       coalesce(sum(balance_fen) FILTER (WHERE kind = 'unsettled'), 0)::bigint AS unsettled_fen,
       coalesce(sum(balance_fen) FILTER (WHERE kind = 'payable'), 0)::bigint AS payable_fen,
       coalesce(sum(balance_fen) FILTER (WHERE kind = 'in_transit'), 0)::bigint AS in_transit_fen,
       coalesce(sum(balance_fen) FILTER (WHERE kind = 'paid'), 0)::bigint AS paid_fen,
       (SELECT count(*) FROM transfers) AS transfers
FROM ledger_balances;

-- name: verify_payouts
-- No payout left payable below 0 (each merchant's payable transfers in their order, which
-- the merchant's lock makes the order they were made in).
WITH payable AS (
    SELECT id, kind, source, merchant_id,
           sum(CASE WHEN to_account = 'payable:' || merchant_id THEN amount_fen ELSE -amount_fen END)
               OVER (PARTITION BY merchant_id ORDER BY id) AS after_fen
    FROM transfers
    WHERE kind IN ('settlement', 'clawback', 'payout', 'bank_failed', 'reversal')
      AND 'payable:' || merchant_id IN (to_account, from_account)
)
SELECT 'payout ' || source || ' left payable:' || merchant_id || ' at ' || after_fen || ' fen' AS problem
FROM payable WHERE kind = 'payout' AND after_fen < 0
LIMIT 100;

-- name: verify_bank_files
-- Every bank file's rows sum to its payout transfers, its transit to the rows not yet
-- answered, and every answer of the bank has its transfer.
WITH files AS (
    SELECT f.id, f.rows, f.total_fen,
           (SELECT count(*) FROM bank_file_rows b WHERE b.bank_file_id = f.id) AS row_count,
           (SELECT coalesce(sum(b.amount_fen), 0) FROM bank_file_rows b WHERE b.bank_file_id = f.id)::bigint AS rows_fen,
           (SELECT coalesce(sum(t.amount_fen), 0) FROM transfers t
            WHERE t.kind = 'payout' AND t.to_account = 'in_transit:' || f.id)::bigint AS payouts_fen,
           (SELECT coalesce(sum(b.amount_fen), 0) FROM bank_file_rows b
            WHERE b.bank_file_id = f.id
              AND NOT EXISTS (SELECT 1 FROM bank_returns a WHERE a.reference = b.reference))::bigint
               AS unanswered_fen,
           coalesce((SELECT balance_fen FROM ledger_balances WHERE account = 'in_transit:' || f.id), 0)
               AS in_transit_fen
    FROM bank_files f
)
SELECT 'bank file ' || id || ': ' || row_count || ' rows of ' || rows_fen || ' fen (the file says '
       || rows || ' of ' || total_fen || '), payouts ' || payouts_fen || ', in transit '
       || in_transit_fen || ' against ' || unanswered_fen || ' unanswered' AS problem
FROM files
WHERE row_count <> rows OR rows_fen <> total_fen OR payouts_fen <> rows_fen
   OR in_transit_fen <> unanswered_fen
UNION ALL
SELECT 'return of ' || a.reference || ' (' || a.status || ') has no transfer'
FROM bank_returns a
WHERE NOT EXISTS (SELECT 1 FROM transfers t WHERE t.kind = 'bank_' || a.status AND t.source = a.reference)
UNION ALL
SELECT 'bank file ' || id || ': its bytes do not hash to its sha256'
FROM bank_files WHERE encode(sha256(content), 'hex') <> sha256
LIMIT 100;
