-- owner: service/domain/recovery.py
-- name: recovery_rows
-- Takings on :days (a range and its baseline days), festival merchants flagged, of one
-- category or all: the import where there is one, else the merchant's own report.
SELECT t.credit_code, t.category, t.date, t.sales_fen,
       EXISTS (SELECT 1 FROM merchants m WHERE m.credit_code = t.credit_code) AS participant
FROM turnover_used t
WHERE t.date = ANY(:days::date[]) AND (:category::text IS NULL OR t.category = :category);

-- name: turnover_span
-- The days with takings outside the baseline year, up to :until (null: every day).
SELECT min(date) AS first, max(date) AS last FROM turnover
WHERE extract(year FROM date) <> :baseline_year AND (:until::date IS NULL OR date <= :until);

-- name: store_recovery_totals
-- The festival to date per category (date null); :categories and :figures are parallel.
INSERT INTO stats_recovery (date, category, figures, computed_at)
SELECT NULL, c, f::jsonb, :now FROM unnest(:categories::text[], :figures::text[]) AS t (c, f)
ON CONFLICT (category, coalesce(date, '0001-01-01')) DO UPDATE
    SET figures = EXCLUDED.figures, computed_at = EXCLUDED.computed_at;

-- name: stored_recovery
-- The festival to date, per category, as the recovery job last computed it.
SELECT category, figures::text AS figures, computed_at FROM stats_recovery
WHERE date IS NULL ORDER BY category;
