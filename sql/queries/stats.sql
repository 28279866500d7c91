-- name: rollup_day_categories
-- One business day's numbers per category, recomputed from the raw rows and upserted.
-- :day_start and :day_end are the day's first instant and the next day's.
INSERT INTO stats_daily (date, category, vouchers_claimed, vouchers_redeemed, vouchers_expired,
                         redemptions_reversed, subsidy_fen, sales_fen, unique_residents,
                         active_merchants, computed_at)
SELECT :day, c.code,
       coalesce(claimed.n, 0), coalesce(redeemed.n, 0), coalesce(expired.n, 0),
       coalesce(reversed.n, 0), coalesce(redeemed.subsidy, 0), coalesce(redeemed.sales, 0),
       coalesce(redeemed.residents, 0), coalesce(redeemed.merchants, 0), :now
FROM categories c
LEFT JOIN (
    SELECT b.category, count(*) AS n
    FROM vouchers v JOIN batches b ON b.id = v.batch_id
    WHERE v.claimed_at >= :day_start AND v.claimed_at < :day_end
    GROUP BY b.category
) claimed ON claimed.category = c.code
LEFT JOIN (
    SELECT r.category, count(*) AS n, sum(r.discount_fen) AS subsidy,
           sum(r.order_amount_fen) AS sales, count(DISTINCT v.resident_id) AS residents,
           count(DISTINCT r.merchant_id) AS merchants
    FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id
    WHERE r.business_date = :day AND r.status = 'completed'
    GROUP BY r.category
) redeemed ON redeemed.category = c.code
LEFT JOIN (
    SELECT b.category, count(*) AS n
    FROM voucher_events e JOIN batches b ON b.id = e.batch_id
    WHERE e.kind = 'expired' AND e.at >= :day_start AND e.at < :day_end
    GROUP BY b.category
) expired ON expired.category = c.code
LEFT JOIN (
    SELECT category, count(*) AS n
    FROM redemptions
    WHERE business_date = :day AND status = 'reversed'
    GROUP BY category
) reversed ON reversed.category = c.code
ON CONFLICT (date, category) DO UPDATE SET
    vouchers_claimed = EXCLUDED.vouchers_claimed,
    vouchers_redeemed = EXCLUDED.vouchers_redeemed,
    vouchers_expired = EXCLUDED.vouchers_expired,
    redemptions_reversed = EXCLUDED.redemptions_reversed,
    subsidy_fen = EXCLUDED.subsidy_fen,
    sales_fen = EXCLUDED.sales_fen,
    unique_residents = EXCLUDED.unique_residents,
    active_merchants = EXCLUDED.active_merchants,
    computed_at = EXCLUDED.computed_at;

-- name: rollup_day_merchants
INSERT INTO stats_daily_merchants (date, merchant_id, category, vouchers_redeemed,
                                   redemptions_reversed, subsidy_fen, sales_fen,
                                   unique_residents, computed_at)
SELECT :day, r.merchant_id, min(r.category),
       count(*) FILTER (WHERE r.status = 'completed'),
       count(*) FILTER (WHERE r.status = 'reversed'),
       coalesce(sum(r.discount_fen) FILTER (WHERE r.status = 'completed'), 0),
       coalesce(sum(r.order_amount_fen) FILTER (WHERE r.status = 'completed'), 0),
       count(DISTINCT v.resident_id) FILTER (WHERE r.status = 'completed'),
       :now
FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id
WHERE r.business_date = :day
GROUP BY r.merchant_id
ON CONFLICT (date, merchant_id) DO UPDATE SET
    category = EXCLUDED.category,
    vouchers_redeemed = EXCLUDED.vouchers_redeemed,
    redemptions_reversed = EXCLUDED.redemptions_reversed,
    subsidy_fen = EXCLUDED.subsidy_fen,
    sales_fen = EXCLUDED.sales_fen,
    unique_residents = EXCLUDED.unique_residents,
    computed_at = EXCLUDED.computed_at;

-- name: stats_daily_rows
-- :category may be null (all). Cumulative sums run from the festival's first row.
SELECT * FROM (
    SELECT s.*, b.sales_fen AS baseline_sales_fen,
           (sum(s.vouchers_redeemed) OVER running)::bigint AS cumulative_redeemed,
           (sum(s.vouchers_claimed) OVER running)::bigint AS cumulative_claimed
    FROM stats_daily s
    LEFT JOIN baselines b ON b.date = s.date AND b.category = s.category
    WHERE s.date <= :to_day AND (:category::text IS NULL OR s.category = :category)
    WINDOW running AS (PARTITION BY s.category ORDER BY s.date)
) rows
WHERE date >= :from_day
ORDER BY date, category;

-- name: stats_date_range
SELECT min(date) AS first, max(date) AS last FROM stats_daily;

-- name: stats_summary
-- Festival to date per category, today's intraday rows included.
SELECT c.code AS category,
       coalesce(sum(s.vouchers_claimed), 0)::bigint AS vouchers_claimed,
       coalesce(sum(s.vouchers_redeemed), 0)::bigint AS vouchers_redeemed,
       coalesce(sum(s.vouchers_expired), 0)::bigint AS vouchers_expired,
       coalesce(sum(s.redemptions_reversed), 0)::bigint AS redemptions_reversed,
       coalesce(sum(s.subsidy_fen), 0)::bigint AS subsidy_fen,
       coalesce(sum(s.sales_fen), 0)::bigint AS sales_fen,
       sum(b.sales_fen)::bigint AS baseline_sales_fen,
       coalesce(sum(s.sales_fen) FILTER (WHERE b.sales_fen IS NOT NULL), 0)::bigint
           AS sales_with_baseline_fen,
       (SELECT coalesce(sum(b.recycled_out), 0)::bigint FROM batches b WHERE b.category = c.code)
           AS vouchers_recycled,
       min(s.date) AS first_date,
       max(s.date) AS last_date,
       max(s.computed_at) AS computed_at
FROM categories c
LEFT JOIN stats_daily s ON s.category = c.code
LEFT JOIN baselines b ON b.date = s.date AND b.category = s.category
GROUP BY c.code, c.sort_order
ORDER BY c.sort_order;

-- name: stats_merchant_rows
-- :category may be null (all).
SELECT s.*, m.name AS merchant_name
FROM stats_daily_merchants s JOIN merchants m ON m.id = s.merchant_id
WHERE s.date = :day AND (:category::text IS NULL OR s.category = :category)
ORDER BY s.subsidy_fen DESC, s.merchant_id;

-- name: baselines_summary
-- What an upload replaces or writes, for the audit trail: how many of its (date, category)
-- rows exist and their sum.
SELECT count(b.*) AS rows, coalesce(sum(b.sales_fen), 0)::bigint AS sales_fen,
       min(b.date) AS from_date, max(b.date) AS to_date
FROM unnest(:days::date[], :categories::text[]) AS t (d, c)
JOIN baselines b ON b.date = t.d AND b.category = t.c;

-- name: upsert_baselines
INSERT INTO baselines (date, category, sales_fen, uploaded_at)
SELECT d, c, s, :now FROM unnest(:days::date[], :categories::text[], :sales::bigint[]) AS t (d, c, s)
ON CONFLICT (date, category) DO UPDATE SET
    sales_fen = EXCLUDED.sales_fen, uploaded_at = EXCLUDED.uploaded_at;
