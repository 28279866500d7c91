-- name: day_settled
-- Whether the settlement job has settled a business day (a day without redemptions has no
-- lines, but is settled all the same).
SELECT EXISTS (
    SELECT 1 FROM job_runs WHERE job = 'settlement' AND period = :period AND status = 'succeeded'
);

-- name: export_lines
-- A day's pending lines, with something to pay and an account to pay it to, into a bank file:
-- each marked exported under its reference in this one statement, so no line is ever in two
-- files (a second export finds them exported).
UPDATE settlement_lines l
SET status = 'exported', exported_at = :now,
    reference = 'HYF-' || to_char(l.date, 'YYYYMMDD') || '-' || lpad(l.merchant_id::text, greatest(4, length(l.merchant_id::text)), '0')
FROM merchants m
WHERE m.id = l.merchant_id AND l.date = :day AND l.status = 'pending'
  AND m.account_no IS NOT NULL AND l.subsidy_fen + l.adjustments_fen > 0
RETURNING l.reference, l.merchant_id, m.account_name, m.account_no,
          (l.subsidy_fen + l.adjustments_fen) AS amount_fen;

-- name: unexportable_lines
-- The day's pending lines left out of its bank file, and why.
SELECT l.merchant_id,
       CASE WHEN m.account_no IS NULL THEN 'no_account' ELSE 'nothing_to_pay' END AS reason
FROM settlement_lines l JOIN merchants m ON m.id = l.merchant_id
WHERE l.date = :day AND l.status = 'pending'
ORDER BY l.merchant_id;

-- name: lines_by_reference
SELECT reference, status, (subsidy_fen + adjustments_fen) AS amount_fen
FROM settlement_lines WHERE reference = ANY(:references::text[])
FOR UPDATE;

-- name: apply_returns
UPDATE settlement_lines l SET status = r.status, returned_at = :now
FROM unnest(:references::text[], :statuses::text[]) AS r (reference, status)
WHERE l.reference = r.reference AND l.status = 'exported';

-- name: reconciliation
-- A day's lines by payment status, in fen (net: subsidy plus adjustments), and beside them
-- the same net recomputed from the redemptions and clawbacks the lines settled.
SELECT count(*) AS lines,
       ((SELECT coalesce(sum(discount_fen), 0) FROM redemptions WHERE settled_on = :day)
        - (SELECT coalesce(sum(discount_fen), 0) FROM redemptions WHERE adjusted_on = :day)
        - (SELECT coalesce(sum(amount_fen), 0) FROM clawbacks WHERE adjusted_on = :day))::bigint
           AS redemptions_fen,
       coalesce(sum(subsidy_fen + adjustments_fen), 0)::bigint AS settled_fen,
       coalesce(sum(subsidy_fen + adjustments_fen) FILTER (WHERE status = 'pending'), 0)::bigint AS pending_fen,
       coalesce(sum(subsidy_fen + adjustments_fen) FILTER (WHERE status = 'held'), 0)::bigint AS held_fen,
       coalesce(sum(subsidy_fen + adjustments_fen)
                FILTER (WHERE status IN ('exported', 'paid', 'failed')), 0)::bigint AS exported_fen,
       coalesce(sum(subsidy_fen + adjustments_fen) FILTER (WHERE status = 'paid'), 0)::bigint AS paid_fen,
       coalesce(sum(subsidy_fen + adjustments_fen) FILTER (WHERE status = 'failed'), 0)::bigint AS failed_fen,
       coalesce(sum(subsidy_fen + adjustments_fen) FILTER (WHERE status = 'exported'), 0)::bigint AS in_flight_fen
FROM settlement_lines WHERE date = :day;
