-- Money as one double-entry ledger (API.md, "Money ledger"). Every fen the festival owes or
-- has paid sits in exactly one account; a balance is only ever the sum of its transfers, so
-- nothing can drift from it. What used to be stored beside it (settlement lines and their
-- statuses, a redemption's settled_on/adjusted_on, a clawback's adjusted_on) is derived.
--
-- Accounts are named, never rows of their own (a foreign key from every redemption's transfer
-- to 'subsidy:shopping' would share-lock one hot row per checkout):
--   subsidy:<category>  the festival's cost (a debit balance: negative)
--   unsettled:<merchant> completed redemptions of business days not yet settled
--   payable:<merchant>   what the festival owes the merchant (below 0: a receivable)
--   in_transit:<bank file> paid out in a bank file, not yet answered by the bank
--   paid                 confirmed paid by the bank

CREATE TABLE transfers (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    kind          text NOT NULL,
    -- What caused it, unique per kind so nothing moves twice: a redemption id (redemption,
    -- reversal, clawback), 'merchant:day' (settlement), a bank file reference (payout,
    -- bank_paid, bank_failed).
    source        text NOT NULL,
    from_account  text NOT NULL,
    to_account    text NOT NULL,
    amount_fen    bigint NOT NULL,
    at            timestamptz NOT NULL,
    business_day  date NOT NULL,
    merchant_id   bigint NOT NULL,
    category      text,
    bank_file_id  bigint,
    -- id needs no index of its own: always generated, never given, it is unique by its
    -- sequence (one index less on every redemption's write).
    CONSTRAINT transfers_pkey PRIMARY KEY (kind, source),
    CONSTRAINT transfers_amount_positive CHECK (amount_fen > 0),
    -- Each kind moves money between the accounts API.md names for it, and no others.
    CONSTRAINT transfers_accounts_of_kind CHECK (CASE kind
        WHEN 'redemption' THEN from_account = 'subsidy:' || category
                          AND to_account = 'unsettled:' || merchant_id
        -- From payable only for a redemption settled before it was reversed, which the
        -- rules no longer allow (migrated from before the ledger).
        WHEN 'reversal' THEN from_account IN ('unsettled:' || merchant_id, 'payable:' || merchant_id)
                         AND to_account = 'subsidy:' || category
        WHEN 'settlement' THEN from_account = 'unsettled:' || merchant_id
                          AND to_account = 'payable:' || merchant_id AND category IS NULL
        WHEN 'clawback' THEN from_account = 'payable:' || merchant_id
                        AND to_account = 'subsidy:' || category
        WHEN 'payout' THEN from_account = 'payable:' || merchant_id
                      AND to_account = 'in_transit:' || bank_file_id
        WHEN 'bank_paid' THEN from_account = 'in_transit:' || bank_file_id AND to_account = 'paid'
        WHEN 'bank_failed' THEN from_account = 'in_transit:' || bank_file_id
                           AND to_account = 'payable:' || merchant_id
        ELSE false END),
    CONSTRAINT transfers_category_of_kind
        CHECK ((kind IN ('redemption', 'reversal', 'clawback')) = (category IS NOT NULL)),
    CONSTRAINT transfers_bank_file_of_kind
        CHECK ((kind IN ('payout', 'bank_paid', 'bank_failed')) = (bank_file_id IS NOT NULL)),
    -- A redemption is reversed or clawed back, never both.
    CONSTRAINT transfers_one_unwind EXCLUDE USING btree (source WITH =)
        WHERE (kind IN ('reversal', 'clawback'))
);
-- A merchant's balances, statement and payouts; ordered by id, which the merchant's lock
-- makes the order of its payable transfers.
CREATE INDEX transfers_merchant_idx ON transfers (merchant_id, id);

CREATE FUNCTION money_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER transfers_append_only BEFORE UPDATE OR DELETE ON transfers
    FOR EACH ROW EXECUTE FUNCTION money_append_only();
CREATE TRIGGER transfers_no_truncate BEFORE TRUNCATE ON transfers
    FOR EACH STATEMENT EXECUTE FUNCTION money_append_only();

-- Every account's balance: credits (money in) minus debits (money out).
CREATE VIEW ledger_balances AS
SELECT account, split_part(account, ':', 1) AS kind,
       CASE WHEN account ~ '^(unsettled|payable):' THEN split_part(account, ':', 2)::bigint END
           AS merchant_id,
       CASE WHEN account LIKE 'subsidy:%' THEN split_part(account, ':', 2) END AS category,
       CASE WHEN account LIKE 'in_transit:%' THEN split_part(account, ':', 2)::bigint END
           AS bank_file_id,
       sum(delta)::bigint AS balance_fen
FROM (SELECT to_account AS account, amount_fen AS delta FROM transfers
      UNION ALL
      SELECT from_account, -amount_fen FROM transfers) postings
GROUP BY account;

-- Bank files, kept: the exact bytes sent, their SHA-256, the idempotency key that made them.
CREATE TABLE bank_files (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key  text NOT NULL,
    created_at       timestamptz NOT NULL,
    created_by       text NOT NULL,
    content          bytea NOT NULL,
    sha256           text NOT NULL,
    rows             integer NOT NULL,
    total_fen        bigint NOT NULL,
    left_out         jsonb NOT NULL DEFAULT '[]',
    CONSTRAINT bank_files_idempotency_key_key UNIQUE (idempotency_key),
    CONSTRAINT bank_files_key_length CHECK (char_length(idempotency_key) BETWEEN 1 AND 64),
    CONSTRAINT bank_files_sha256_of_content CHECK (sha256 = encode(sha256(content), 'hex'))
);
CREATE TABLE bank_file_rows (
    reference      text PRIMARY KEY,
    bank_file_id   bigint NOT NULL CONSTRAINT bank_file_rows_file_fkey REFERENCES bank_files (id),
    merchant_id    bigint NOT NULL CONSTRAINT bank_file_rows_merchant_fkey REFERENCES merchants (id),
    account_name   text NOT NULL,
    account_no     text NOT NULL,
    amount_fen     bigint NOT NULL,
    CONSTRAINT bank_file_rows_amount_positive CHECK (amount_fen > 0),
    CONSTRAINT bank_file_rows_one_per_merchant UNIQUE (bank_file_id, merchant_id)
);
-- The bank's answers, once per payment: the independent record the returns are checked by.
CREATE TABLE bank_returns (
    reference    text PRIMARY KEY CONSTRAINT bank_returns_reference_fkey
                     REFERENCES bank_file_rows (reference),
    status       text NOT NULL,
    received_at  timestamptz NOT NULL,
    received_by  text NOT NULL,
    CONSTRAINT bank_returns_status_check CHECK (status IN ('paid', 'failed'))
);
CREATE TRIGGER bank_files_append_only BEFORE UPDATE OR DELETE ON bank_files
    FOR EACH ROW EXECUTE FUNCTION money_append_only();
CREATE TRIGGER bank_file_rows_append_only BEFORE UPDATE OR DELETE ON bank_file_rows
    FOR EACH ROW EXECUTE FUNCTION money_append_only();
CREATE TRIGGER bank_returns_append_only BEFORE UPDATE OR DELETE ON bank_returns
    FOR EACH ROW EXECUTE FUNCTION money_append_only();

-- ---------------------------------------------------------------------------------------
-- Existing festivals: every fen into its account.

-- One kept bank file per old export (a day's lines exported together), its bytes rebuilt
-- from the lines, under the references the bank already knows; the bank's answers.
CREATE TEMPORARY TABLE old_exports ON COMMIT DROP AS
SELECT l.date, min(l.exported_at) AS created_at,
       convert_to('reference,merchant_id,account_name,account_no,amount_yuan' || E'\r\n'
                  || string_agg(l.reference || ',' || l.merchant_id || ','
                                || '"' || replace(m.account_name, '"', '""') || '",'
                                || m.account_no || ','
                                || ((l.subsidy_fen + l.adjustments_fen) / 100) || '.'
                                || lpad(((l.subsidy_fen + l.adjustments_fen) % 100)::text, 2, '0')
                                || E'\r\n', '' ORDER BY l.reference), 'UTF8') AS content,
       count(*)::int AS rows, sum(l.subsidy_fen + l.adjustments_fen)::bigint AS total_fen
FROM settlement_lines l JOIN merchants m ON m.id = l.merchant_id
WHERE l.reference IS NOT NULL
GROUP BY l.date;

INSERT INTO bank_files (idempotency_key, created_at, created_by, content, sha256, rows, total_fen)
SELECT 'migrated-' || to_char(date, 'YYYYMMDD'), created_at, 'migration', content,
       encode(sha256(content), 'hex'), rows, total_fen
FROM old_exports ORDER BY date;

INSERT INTO bank_file_rows (reference, bank_file_id, merchant_id, account_name, account_no,
                            amount_fen)
SELECT l.reference, f.id, l.merchant_id, m.account_name, m.account_no,
       l.subsidy_fen + l.adjustments_fen
FROM settlement_lines l JOIN merchants m ON m.id = l.merchant_id
JOIN bank_files f ON f.idempotency_key = 'migrated-' || to_char(l.date, 'YYYYMMDD')
WHERE l.reference IS NOT NULL;

INSERT INTO bank_returns (reference, status, received_at, received_by)
SELECT l.reference, l.status, l.returned_at, 'migration'
FROM settlement_lines l WHERE l.status IN ('paid', 'failed');

-- Every movement, in the order it happened (a merchant's payable transfers are read in id
-- order): each redemption's subsidy; each old line's settlement of the redemptions it marked
-- settled; each reversal's return of its subsidy (from payable when the old rules had settled
-- it before it was reversed); each clawback; each payout, and the bank's answer to it.
INSERT INTO transfers (kind, source, from_account, to_account, amount_fen, at, business_day,
                       merchant_id, category, bank_file_id)
SELECT kind, source, from_account, to_account, amount_fen, at, business_day, merchant_id,
       category, bank_file_id
FROM (
    SELECT 1 AS step, 'redemption' AS kind, r.id::text AS source,
           'subsidy:' || r.category AS from_account, 'unsettled:' || r.merchant_id AS to_account,
           r.discount_fen AS amount_fen, r.redeemed_at AS at, r.business_date AS business_day,
           r.merchant_id, r.category, NULL::bigint AS bank_file_id
    FROM redemptions r
    UNION ALL
    SELECT 2, 'settlement', l.merchant_id || ':' || l.date, 'unsettled:' || l.merchant_id,
           'payable:' || l.merchant_id, s.settled_fen, l.settled_at, l.date, l.merchant_id,
           NULL, NULL
    FROM settlement_lines l
    JOIN LATERAL (SELECT sum(r.discount_fen)::bigint AS settled_fen FROM redemptions r
                  WHERE r.merchant_id = l.merchant_id AND r.settled_on = l.date) s ON true
    WHERE s.settled_fen > 0
    UNION ALL
    SELECT 3, 'reversal', r.id::text,
           CASE WHEN r.settled_on IS NULL THEN 'unsettled:' ELSE 'payable:' END || r.merchant_id,
           'subsidy:' || r.category, r.discount_fen, r.reversed_at, r.business_date,
           r.merchant_id, r.category, NULL
    FROM redemptions r WHERE r.status = 'reversed'
    UNION ALL
    SELECT 4, 'clawback', c.redemption_id::text, 'payable:' || c.merchant_id,
           'subsidy:' || r.category, c.amount_fen, c.at, r.business_date, c.merchant_id,
           r.category, NULL
    FROM clawbacks c JOIN redemptions r ON r.id = c.redemption_id
    UNION ALL
    SELECT 5, 'payout', b.reference, 'payable:' || b.merchant_id, 'in_transit:' || b.bank_file_id,
           b.amount_fen, l.exported_at, l.date, b.merchant_id, NULL, b.bank_file_id
    FROM bank_file_rows b JOIN settlement_lines l ON l.reference = b.reference
    UNION ALL
    SELECT 6, 'bank_' || a.status, a.reference, 'in_transit:' || b.bank_file_id,
           CASE a.status WHEN 'paid' THEN 'paid' ELSE 'payable:' || b.merchant_id END,
           b.amount_fen, a.received_at, l.date, b.merchant_id, NULL, b.bank_file_id
    FROM bank_returns a JOIN bank_file_rows b USING (reference)
    JOIN settlement_lines l ON l.reference = a.reference
) movements
ORDER BY at, step, source;

-- ---------------------------------------------------------------------------------------
-- What the ledger replaces.

DROP TABLE settlement_lines;
DROP INDEX redemptions_unsettled_idx;
DROP INDEX redemptions_to_adjust_idx;
ALTER TABLE redemptions DROP COLUMN settled_on, DROP COLUMN adjusted_on;
-- A clawback stays a record of its own (which flag, which redemption, how much): verify
-- recomputes the festival's cost from it and the redemptions, apart from the transfers.
DROP INDEX clawbacks_to_adjust_idx;
ALTER TABLE clawbacks DROP COLUMN adjusted_on;
CREATE TRIGGER clawbacks_append_only BEFORE UPDATE OR DELETE ON clawbacks
    FOR EACH ROW EXECUTE FUNCTION money_append_only();

-- A day's settlement per merchant, as the bureau and the merchant read it: what moved from
-- unsettled to payable, and the clawbacks booked that day.
CREATE VIEW settlement_lines AS
SELECT t.merchant_id, t.business_day AS date,
       (SELECT count(*) FROM redemptions r
        WHERE r.merchant_id = t.merchant_id AND r.business_date = t.business_day
          AND r.status = 'completed') AS redemptions,
       coalesce(sum(t.amount_fen) FILTER (WHERE t.kind = 'settlement'), 0)::bigint AS subsidy_fen,
       -coalesce(sum(t.amount_fen) FILTER (WHERE t.kind = 'clawback'), 0)::bigint AS adjustments_fen,
       max(t.at) FILTER (WHERE t.kind = 'settlement') AS settled_at
FROM transfers t
WHERE t.kind IN ('settlement', 'clawback')
GROUP BY t.merchant_id, t.business_day;

-- Flags: the intraday scan's ratio flags are provisional until the full day decides.
ALTER TABLE risk_flags DROP CONSTRAINT risk_flags_status_check,
    DROP CONSTRAINT risk_flags_reviewed,
    ADD CONSTRAINT risk_flags_status_check
        CHECK (status IN ('provisional', 'open', 'withdrawn', 'dismissed', 'confirmed')),
    ADD CONSTRAINT risk_flags_reviewed
        CHECK ((status IN ('dismissed', 'confirmed')) = (reviewed_at IS NOT NULL));

-- The key of account numbers' fingerprints in audit entries (an export's rows): a change of
-- account shows even when the last four digits stay, and the number itself never does.
INSERT INTO app_keys (name, key)
SELECT 'account_fingerprint',
       decode(replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''), 'hex')
ON CONFLICT (name) DO NOTHING;
