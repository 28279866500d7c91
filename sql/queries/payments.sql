-- owner: service/domain/payments.py
-- name: lock_export_key
-- Exports with one idempotency key take turns: the second finds the first's file.
SELECT pg_advisory_xact_lock(:namespace::integer, hashtext(:key));

-- name: next_bank_file_id
SELECT nextval(pg_get_serial_sequence('bank_files', 'id'));

-- name: bank_file_by_key
SELECT id, idempotency_key, created_at, created_by, sha256, rows, total_fen,
       left_out::text AS left_out
FROM bank_files WHERE idempotency_key = :key;

-- name: insert_bank_file
INSERT INTO bank_files (id, idempotency_key, created_at, created_by, content, sha256, rows,
                        total_fen, left_out)
OVERRIDING SYSTEM VALUE
VALUES (:id, :key, :now, :by, :content, :sha256, :rows, :total_fen, :left_out::jsonb);

-- name: insert_payouts
-- A bank file's rows and the payout transfer of each (:references … :amounts parallel).
WITH rows AS (
    INSERT INTO bank_file_rows (reference, bank_file_id, merchant_id, account_name, account_no,
                                amount_fen)
    SELECT r, :bank_file_id, m, n, a, x
    FROM unnest(:references::text[], :merchant_ids::bigint[], :account_names::text[],
                :account_nos::text[], :amounts::bigint[]) AS p (r, m, n, a, x)
    RETURNING reference, merchant_id, amount_fen
)
INSERT INTO transfers (kind, source, from_account, to_account, amount_fen, at, business_day,
                       merchant_id, bank_file_id)
SELECT 'payout', reference, 'payable:' || merchant_id, 'in_transit:' || :bank_file_id::bigint,
       amount_fen, :now, :day, merchant_id, :bank_file_id
FROM rows ORDER BY merchant_id;

-- name: bank_files
SELECT f.id, f.created_at, f.created_by, f.sha256, f.rows, f.total_fen,
       f.left_out::text AS left_out,
       count(r.reference) FILTER (WHERE r.status = 'paid') AS paid,
       count(r.reference) FILTER (WHERE r.status = 'failed') AS failed,
       coalesce(sum(b.amount_fen) FILTER (WHERE r.reference IS NULL), 0)::bigint AS in_transit_fen
FROM bank_files f
LEFT JOIN bank_file_rows b ON b.bank_file_id = f.id
LEFT JOIN bank_returns r ON r.reference = b.reference
GROUP BY f.id
ORDER BY f.id DESC
LIMIT :limit;

-- name: bank_file_content
SELECT id, content, sha256 FROM bank_files WHERE id = :bank_file_id;

-- name: bank_rows_by_reference
SELECT b.reference, b.bank_file_id, b.merchant_id, b.amount_fen, r.status AS answered
FROM bank_file_rows b LEFT JOIN bank_returns r ON r.reference = b.reference
WHERE b.reference = ANY(:references::text[]);

-- name: record_returns
-- The bank's answers, once each, and their transfers: paid leaves transit for good, failed
-- goes back to payable (the next bank file pays it again, under a new reference).
WITH answered AS (
    INSERT INTO bank_returns (reference, status, received_at, received_by)
    SELECT r, s, :now, :by FROM unnest(:references::text[], :statuses::text[]) AS a (r, s)
    RETURNING reference, status
)
INSERT INTO transfers (kind, source, from_account, to_account, amount_fen, at, business_day,
                       merchant_id, bank_file_id)
SELECT 'bank_' || a.status, a.reference, 'in_transit:' || b.bank_file_id,
       CASE a.status WHEN 'paid' THEN 'paid' ELSE 'payable:' || b.merchant_id END,
       b.amount_fen, :now, :day, b.merchant_id, b.bank_file_id
FROM answered a JOIN bank_file_rows b ON b.reference = a.reference
ORDER BY a.reference;
