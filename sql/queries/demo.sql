-- name: database_is_empty
-- The demo loads only where nobody has started a festival yet.
SELECT NOT EXISTS (SELECT 1 FROM merchants) AND NOT EXISTS (SELECT 1 FROM batches);

-- name: demo_daily_sales_per_category
-- What the demo's festival sold per category, and on how many days.
SELECT category, sum(order_amount_fen)::bigint AS sales_fen, count(DISTINCT business_date) AS days
FROM redemptions WHERE status = 'completed'
GROUP BY category;
