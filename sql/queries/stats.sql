-- owner: service/domain/stats.py
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
