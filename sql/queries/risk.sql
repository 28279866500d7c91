-- owner: service/domain/risk.py
-- The risk_scan rules (API.md, "Money safety"): each rule is a finding query for a business
-- day :day, returning (merchant_id, subject, score, evidence) per flag it would raise, and
-- one shared statement raises them (raise_risk_flags): at most one flag per (rule, merchant,
-- day, subject); scanning a day again (the intraday refresh, then the nightly scan) refreshes
-- the evidence of a flag not yet reviewed and raises nothing twice. The registry of rules and
-- the settings each reads is RULES in service/domain/risk.py. Arithmetic is bigint or
-- numeric: any money value fits.

-- name: risk_find_repeat_pair
-- One person redeeming ≥ :min_vouchers vouchers at one merchant within :window_days days
-- (ending :day, at least one of them on :day). A pair already flagged on another day of that
-- span is not flagged again.
WITH pairs AS (
    SELECT r.merchant_id, v.person,
           array_agg(r.id ORDER BY r.id) AS ids,
           count(DISTINCT r.voucher_id) AS vouchers,
           sum(r.order_amount_fen)::bigint AS order_fen,
           sum(r.discount_fen)::bigint AS discount_fen
    FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id
    WHERE r.business_date BETWEEN :day::date - (:window_days::int - 1) AND :day
    GROUP BY r.merchant_id, v.person
    HAVING count(DISTINCT r.voucher_id) >= :min_vouchers AND bool_or(r.business_date = :day)
)
SELECT p.merchant_id, p.person AS subject, p.vouchers::float8 / :min_vouchers AS score,
       jsonb_build_object('redemption_ids', p.ids, 'person', p.person, 'vouchers', p.vouchers,
                          'order_fen', p.order_fen, 'discount_fen', p.discount_fen,
                          'from', :day::date - (:window_days::int - 1), 'to', :day::date)::text
           AS evidence
FROM pairs p
WHERE NOT EXISTS (
    SELECT 1 FROM risk_flags o
    WHERE o.rule = 'repeat_pair' AND o.merchant_id = p.merchant_id AND o.subject = p.person
      AND o.date <> :day
      AND o.date BETWEEN :day::date - (:window_days::int - 1) AND :day::date + (:window_days::int - 1)
);

-- name: risk_find_threshold_hugging
-- A merchant day with ≥ :min_redemptions completed redemptions, ≥ :share_pct % of them with
-- the order within :margin_pct % above the batch's min_spend_fen.
WITH day AS (
    SELECT r.merchant_id, r.id, r.order_amount_fen, r.discount_fen,
           r.order_amount_fen::numeric * 100 <= b.min_spend_fen::numeric * (100 + :margin_pct::int) AS hugging
    FROM redemptions r JOIN batches b ON b.id = r.batch_id
    WHERE r.business_date = :day AND r.status = 'completed'
), merchants AS (
    SELECT merchant_id, count(*) AS redemptions, count(*) FILTER (WHERE hugging) AS hugging,
           array_agg(id ORDER BY id) FILTER (WHERE hugging) AS ids,
           coalesce(sum(order_amount_fen) FILTER (WHERE hugging), 0)::bigint AS order_fen,
           coalesce(sum(discount_fen) FILTER (WHERE hugging), 0)::bigint AS discount_fen
    FROM day GROUP BY merchant_id
    HAVING count(*) >= :min_redemptions
       AND count(*) FILTER (WHERE hugging) * 100 >= :share_pct::bigint * count(*)
)
SELECT merchant_id, '' AS subject, hugging::float8 / redemptions AS score,
       jsonb_build_object('redemption_ids', ids, 'redemptions', redemptions, 'hugging', hugging,
                          'share', round(hugging::numeric / redemptions, 4),
                          'order_fen', order_fen, 'discount_fen', discount_fen)::text AS evidence
FROM merchants;

-- name: risk_find_burst
-- A merchant's busiest :minutes-minute window of :day (sliding: from each redemption on),
-- flagged when it holds ≥ :min_redemptions redemptions and ≥ :factor × the merchant's median
-- count per non-empty window of the 7 days before (a merchant without history: the absolute
-- threshold alone, and the evidence says so).
WITH day AS (
    SELECT merchant_id, id, redeemed_at, discount_fen,
           count(*) OVER (PARTITION BY merchant_id ORDER BY redeemed_at
                          RANGE BETWEEN CURRENT ROW AND make_interval(mins => :minutes) FOLLOWING)
               AS in_window
    FROM redemptions WHERE business_date = :day
), peak AS (
    SELECT DISTINCT ON (merchant_id) merchant_id, redeemed_at AS starts_at, in_window
    FROM day WHERE in_window >= :min_redemptions
    ORDER BY merchant_id, in_window DESC, redeemed_at
), buckets AS (
    SELECT r.merchant_id,
           date_bin(make_interval(mins => :minutes), r.redeemed_at, timestamptz '2000-01-01') AS bucket,
           count(*) AS n
    FROM redemptions r JOIN peak p ON p.merchant_id = r.merchant_id
    WHERE r.business_date BETWEEN :day::date - 7 AND :day::date - 1
    GROUP BY 1, 2
), typical AS (
    SELECT p.merchant_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY b.n) AS median,
           count(b.n) > 0 AS has_history
    FROM peak p LEFT JOIN buckets b ON b.merchant_id = p.merchant_id
    GROUP BY p.merchant_id
), flagged AS (
    SELECT p.merchant_id, p.starts_at, p.in_window, t.median, t.has_history,
           (SELECT array_agg(d.id ORDER BY d.id) FROM day d
            WHERE d.merchant_id = p.merchant_id AND d.redeemed_at >= p.starts_at
              AND d.redeemed_at <= p.starts_at + make_interval(mins => :minutes)) AS ids,
           (SELECT sum(d.discount_fen) FROM day d
            WHERE d.merchant_id = p.merchant_id AND d.redeemed_at >= p.starts_at
              AND d.redeemed_at <= p.starts_at + make_interval(mins => :minutes))::bigint AS discount_fen
    FROM peak p JOIN typical t ON t.merchant_id = p.merchant_id
    WHERE p.in_window >= :factor::bigint * coalesce(t.median, 1)
)
SELECT merchant_id, '' AS subject, in_window / coalesce(median, 1) AS score,
       jsonb_build_object('redemption_ids', ids, 'window_starts_at', starts_at,
                          'window_minutes', :minutes::int, 'redemptions', in_window,
                          'median', median, 'history', has_history,
                          'discount_fen', discount_fen)::text AS evidence
FROM flagged;

-- name: risk_find_reversal_churn
-- A merchant day with ≥ :min_redemptions redemptions, ≥ :share_pct % of them reversed.
WITH merchants AS (
    SELECT merchant_id, count(*) AS redemptions,
           count(*) FILTER (WHERE status = 'reversed') AS reversed,
           array_agg(id ORDER BY id) FILTER (WHERE status = 'reversed') AS ids,
           coalesce(sum(discount_fen) FILTER (WHERE status = 'reversed'), 0)::bigint AS discount_fen
    FROM redemptions WHERE business_date = :day
    GROUP BY merchant_id
    HAVING count(*) >= :min_redemptions
       AND count(*) FILTER (WHERE status = 'reversed') * 100 >= :share_pct::bigint * count(*)
)
SELECT merchant_id, '' AS subject, reversed::float8 / redemptions AS score,
       jsonb_build_object('redemption_ids', ids, 'redemptions', redemptions, 'reversed', reversed,
                          'share', round(reversed::numeric / redemptions, 4),
                          'discount_fen', discount_fen)::text AS evidence
FROM merchants;

-- name: raise_risk_flags
-- One rule's findings for :day (parallel arrays) raised as flags. A count rule's flags are
-- open at once; a ratio rule's (:ratio) can fall as the day goes on, so raised on part of a
-- day (:full_day false) they are provisional, and the full day's scan makes each open (still
-- found) or withdrawn (risk_withdraw_provisional). Found again, a flag not yet reviewed gets
-- the new evidence; an open flag stays open. Returns the flags raised or refreshed.
INSERT INTO risk_flags AS f (merchant_id, rule, date, subject, score, evidence, raised_at, status)
SELECT m, :rule, :day, s, sc, e::jsonb, :now,
       CASE WHEN :full_day::boolean OR NOT :ratio::boolean THEN 'open' ELSE 'provisional' END
FROM unnest(:merchant_ids::bigint[], :subjects::text[], :scores::float8[], :evidence::text[])
    AS t (m, s, sc, e)
ON CONFLICT (rule, merchant_id, date, subject) DO UPDATE
    SET evidence = EXCLUDED.evidence, score = EXCLUDED.score,
        status = CASE WHEN f.status = 'open' THEN 'open' ELSE EXCLUDED.status END
    WHERE f.status = 'open' OR (:ratio::boolean AND f.status IN ('provisional', 'withdrawn'));

-- name: risk_flags
-- Flags, newest first; each filter may be null (any).
SELECT f.id, f.merchant_id, m.name AS merchant_name, f.rule, f.date, f.subject, f.score,
       f.evidence::text AS evidence, f.status, f.raised_at, f.reviewed_by, f.reviewed_at, f.note,
       f.released_by, f.released_at
FROM risk_flags f JOIN merchants m ON m.id = f.merchant_id
WHERE (:status::text IS NULL OR f.status = :status)
  AND (:merchant_id::bigint IS NULL OR f.merchant_id = :merchant_id)
  AND (:rule::text IS NULL OR f.rule = :rule)
ORDER BY f.date DESC, f.id DESC
LIMIT :limit;

-- name: risk_flags_one
SELECT id, merchant_id, date FROM risk_flags WHERE id = :flag_id;

-- name: lock_risk_flag
SELECT f.id, f.merchant_id, m.name AS merchant_name, f.rule, f.date, f.subject, f.score,
       f.evidence::text AS evidence, f.status, f.raised_at, f.reviewed_by, f.reviewed_at, f.note,
       f.released_by, f.released_at
FROM risk_flags f JOIN merchants m ON m.id = f.merchant_id
WHERE f.id = :flag_id
FOR UPDATE OF f;

-- name: review_risk_flag
UPDATE risk_flags SET status = :status, reviewed_by = :by, reviewed_at = :now, note = :note
WHERE id = :flag_id AND status = 'open';

-- name: release_risk_flag
UPDATE risk_flags SET released_by = :by, released_at = :now
WHERE id = :flag_id AND status = 'confirmed' AND released_at IS NULL;

-- name: risk_withdraw_provisional
-- After the full day's scan of a ratio rule: its flags of the day that no longer fire.
UPDATE risk_flags SET status = 'withdrawn'
WHERE rule = :rule AND date = :day AND status = 'provisional';

-- name: risk_flag_days
-- The flagged merchant's redemptions per day over the :days days up to its flag's day.
SELECT d::date AS date,
       count(r.id) AS redemptions,
       count(r.id) FILTER (WHERE r.status = 'reversed') AS reversed,
       coalesce(sum(r.discount_fen), 0)::bigint AS discount_fen
FROM generate_series(:day::date - (:days::int - 1), :day::date, interval '1 day') d
LEFT JOIN redemptions r ON r.merchant_id = :merchant_id AND r.business_date = d::date
GROUP BY d ORDER BY d;

-- name: risk_flag_redemptions
-- The redemptions a flag's evidence names, as orders (time, amount, voucher), oldest first.
SELECT r.id, r.redeemed_at, r.order_amount_fen, r.discount_fen, r.status, r.order_ref,
       v.code AS voucher_code, r.batch_id, b.title AS batch_title, b.min_spend_fen
FROM risk_flags f
CROSS JOIN LATERAL jsonb_array_elements_text(f.evidence -> 'redemption_ids') AS e (id)
JOIN redemptions r ON r.id = e.id::bigint AND r.merchant_id = f.merchant_id
JOIN vouchers v ON v.id = r.voucher_id
JOIN batches b ON b.id = r.batch_id
WHERE f.id = :flag_id
ORDER BY r.redeemed_at, r.id;

-- name: risk_flag_windows
-- Its redemptions on the flag's day, per :minutes-minute window (empty windows left out).
SELECT date_bin(make_interval(mins => :minutes), redeemed_at, timestamptz '2000-01-01') AS at,
       count(*) AS redemptions
FROM redemptions WHERE merchant_id = :merchant_id AND business_date = :day
GROUP BY 1 ORDER BY 1;
