-- owner: jobs/rollup.py
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
