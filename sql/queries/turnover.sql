-- owner: service/domain/turnover.py
-- name: report_turnover
-- A festival merchant's own 日结 for a day (a correction replaces its own report, never the
-- bureau's import of that day).
INSERT INTO turnover (credit_code, date, category, sales_fen, transactions, source, recorded_at)
SELECT m.credit_code, :day, m.category, :sales_fen, :transactions, 'merchant', :now
FROM merchants m WHERE m.id = :merchant_id
ON CONFLICT (credit_code, date, source) DO UPDATE
    SET sales_fen = EXCLUDED.sales_fen, transactions = EXCLUDED.transactions,
        recorded_at = EXCLUDED.recorded_at
RETURNING credit_code, date, category, sales_fen, transactions, source, recorded_at;

-- name: reported_turnover
-- The merchant's own report of a day, if any (the audit entry's before).
SELECT t.credit_code, t.date, t.category, t.sales_fen, t.transactions, t.source, t.recorded_at
FROM turnover t JOIN merchants m ON m.credit_code = t.credit_code
WHERE m.id = :merchant_id AND t.date = :day AND t.source = 'merchant';

-- name: merchant_days_of
-- A merchant's days with takings: what the bureau imported, and what it reported itself (a
-- report 100 × above its median day is refused as implausible; see turnover.plausible_median).
SELECT coalesce(array_agg(t.sales_fen) FILTER (WHERE t.source = 'import'), '{}') AS imported,
       coalesce(array_agg(t.sales_fen) FILTER (WHERE t.source = 'merchant'), '{}') AS reported
FROM turnover t JOIN merchants m ON m.credit_code = t.credit_code
WHERE m.id = :merchant_id AND t.sales_fen > 0;

-- name: merchant_day_exported
-- Whether the merchant's settlement of the day has gone to the bank (its 日结 is final): a
-- payout made after the day was settled.
SELECT EXISTS (
    SELECT 1 FROM transfers s JOIN transfers p ON p.merchant_id = s.merchant_id AND p.id > s.id
    WHERE s.kind = 'settlement' AND s.source = :merchant_id::bigint || ':' || :day::date
      AND p.kind = 'payout'
);

-- name: merchant_turnover
SELECT t.credit_code, t.date, t.category, t.sales_fen, t.transactions, t.source, t.recorded_at
FROM turnover t JOIN merchants m ON m.credit_code = t.credit_code
WHERE m.id = :merchant_id AND t.date BETWEEN :from_day AND :to_day
ORDER BY t.date, t.source;

-- name: turnover_known_merchants
-- The festival merchants among :codes, with their category.
SELECT credit_code, category FROM merchants WHERE credit_code = ANY(:codes::text[]);

-- name: turnover_days_of
-- The days with takings stored for :codes, imported and reported (an import refuses a day
-- 100 × above a merchant's median day; see turnover.plausible_median).
SELECT credit_code,
       coalesce(array_agg(sales_fen) FILTER (WHERE source = 'import'), '{}') AS imported,
       coalesce(array_agg(sales_fen) FILTER (WHERE source = 'merchant'), '{}') AS reported
FROM turnover WHERE credit_code = ANY(:codes::text[]) AND sales_fen > 0
GROUP BY credit_code;

-- name: import_turnover
INSERT INTO turnover (credit_code, date, category, sales_fen, transactions, source, recorded_at)
SELECT c, d, k, s, NULL, 'import', :now
FROM unnest(:codes::text[], :days::date[], :categories::text[], :sales::bigint[]) AS r (c, d, k, s)
ON CONFLICT (credit_code, date, source) DO UPDATE
    SET category = EXCLUDED.category, sales_fen = EXCLUDED.sales_fen,
        transactions = EXCLUDED.transactions, recorded_at = EXCLUDED.recorded_at;

-- name: turnover_summary
-- What an import touched, for the audit trail.
SELECT count(*) AS rows, coalesce(sum(t.sales_fen), 0)::bigint AS sales_fen,
       min(t.date) AS from_date, max(t.date) AS to_date
FROM unnest(:codes::text[], :days::date[]) AS r (c, d)
JOIN turnover t ON t.credit_code = r.c AND t.date = r.d AND t.source = 'import';
