-- name: settle_day
-- Settles a business day for every merchant without a line for it yet: its completed,
-- unsettled redemptions up to that day, and as a negative adjustment the settled ones
-- reversed since (before the day's end) and the subsidy clawed back since (confirmed cash-out).
-- Lines already written are never touched. A merchant on hold (a confirmed, unreleased risk
-- flag) gets its line held. :day_end is the next day's first instant.
WITH settled AS (
    UPDATE redemptions r SET settled_on = :day
    WHERE r.settled_on IS NULL AND r.status = 'completed' AND r.business_date <= :day
      AND NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.merchant_id = r.merchant_id AND l.date = :day)
    RETURNING r.merchant_id, r.discount_fen
), adjusted AS (
    UPDATE redemptions r SET adjusted_on = :day
    WHERE r.status = 'reversed' AND r.settled_on IS NOT NULL AND r.adjusted_on IS NULL
      AND r.reversed_at < :day_end
      AND NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.merchant_id = r.merchant_id AND l.date = :day)
    RETURNING r.merchant_id, r.discount_fen
), clawed AS (
    UPDATE clawbacks c SET adjusted_on = :day
    WHERE c.adjusted_on IS NULL AND c.at < :day_end
      AND NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.merchant_id = c.merchant_id AND l.date = :day)
    RETURNING c.merchant_id, c.amount_fen AS discount_fen
), per_merchant AS (
    SELECT merchant_id,
           count(*) FILTER (WHERE kind = 'settled') AS redemptions,
           coalesce(sum(discount_fen) FILTER (WHERE kind = 'settled'), 0) AS subsidy_fen,
           coalesce(-sum(discount_fen) FILTER (WHERE kind = 'adjusted'), 0) AS adjustments_fen
    FROM (
        SELECT merchant_id, discount_fen, 'settled' AS kind FROM settled
        UNION ALL
        SELECT merchant_id, discount_fen, 'adjusted' AS kind FROM adjusted
        UNION ALL
        SELECT merchant_id, discount_fen, 'adjusted' AS kind FROM clawed
    ) moved
    GROUP BY merchant_id
)
INSERT INTO settlement_lines (merchant_id, date, redemptions, subsidy_fen, adjustments_fen, settled_at,
                              status)
SELECT p.merchant_id, :day, p.redemptions, p.subsidy_fen, p.adjustments_fen, :now,
       CASE WHEN EXISTS (SELECT 1 FROM risk_flags f
                         WHERE f.merchant_id = p.merchant_id AND f.status = 'confirmed'
                           AND f.released_at IS NULL)
            THEN 'held' ELSE 'pending' END
FROM per_merchant p;

-- name: settlement_lines_on_day
-- Settled lines of a day (their payment status), and an 'unsettled' line for merchants with
-- completed redemptions of that day that no line holds yet.
SELECT l.merchant_id, m.name AS merchant_name, l.date, l.redemptions, l.subsidy_fen,
       l.adjustments_fen, l.status, l.settled_at
FROM settlement_lines l JOIN merchants m ON m.id = l.merchant_id
WHERE l.date = :day
UNION ALL
SELECT r.merchant_id, m.name, :day, count(*), sum(r.discount_fen)::bigint, 0, 'unsettled', NULL
FROM redemptions r JOIN merchants m ON m.id = r.merchant_id
WHERE r.business_date = :day AND r.status = 'completed' AND r.settled_on IS NULL
  AND NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.merchant_id = r.merchant_id AND l.date = :day)
GROUP BY r.merchant_id, m.name
ORDER BY merchant_id;

-- name: merchant_settlement_lines
SELECT l.merchant_id, m.name AS merchant_name, l.date, l.redemptions, l.subsidy_fen,
       l.adjustments_fen, l.status, l.settled_at
FROM settlement_lines l JOIN merchants m ON m.id = l.merchant_id
WHERE l.merchant_id = :merchant_id AND l.date BETWEEN :from_day AND :to_day
ORDER BY l.date;

-- name: hold_settlement_lines
-- A confirmed flag holds the merchant's lines not yet in a bank file.
UPDATE settlement_lines SET status = 'held' WHERE merchant_id = :merchant_id AND status = 'pending';

-- name: release_settlement_lines
UPDATE settlement_lines SET status = 'pending' WHERE merchant_id = :merchant_id AND status = 'held';
