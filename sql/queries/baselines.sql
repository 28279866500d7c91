-- owner: service/domain/baselines.py
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
