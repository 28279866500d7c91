-- owner: service/domain/settlements.py
-- Settlement lines, as views of the ledger (sql/queries/ledger.sql moves the money).

-- name: settlement_lines_on_day
-- A day's settled lines, and an 'unsettled' line for each merchant whose redemptions of that
-- day are not settled yet.
SELECT l.merchant_id, m.name AS merchant_name, l.date, l.redemptions, l.subsidy_fen,
       l.adjustments_fen, 'settled' AS status, l.settled_at
FROM settlement_lines l JOIN merchants m ON m.id = l.merchant_id
WHERE l.date = :day
UNION ALL
SELECT r.merchant_id, m.name, :day, count(*), sum(r.discount_fen)::bigint, 0, 'unsettled', NULL
FROM redemptions r JOIN merchants m ON m.id = r.merchant_id
WHERE r.business_date = :day AND r.status = 'completed'
  AND NOT EXISTS (SELECT 1 FROM transfers s
                  WHERE s.kind = 'settlement' AND s.source = r.merchant_id || ':' || :day::date)
GROUP BY r.merchant_id, m.name
ORDER BY merchant_id;

-- name: merchant_settlement_lines
SELECT l.merchant_id, m.name AS merchant_name, l.date, l.redemptions, l.subsidy_fen,
       l.adjustments_fen, 'settled' AS status, l.settled_at
FROM settlement_lines l JOIN merchants m ON m.id = l.merchant_id
WHERE l.merchant_id = :merchant_id AND l.date BETWEEN :from_day AND :to_day
ORDER BY l.date;
