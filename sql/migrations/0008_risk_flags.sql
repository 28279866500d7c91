-- Cash-out (套现) risk: flags raised by the risk_scan job, one per (rule, merchant, day,
-- subject), reviewed by the bureau. A confirmed flag holds the merchant's unpaid settlement
-- lines until the bureau releases it; a clawback of the flagged subsidy is a negative
-- adjustment on the merchant's next settlement line, never an edit of a written line.
CREATE TABLE risk_flags (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id  bigint NOT NULL CONSTRAINT risk_flags_merchant_fkey REFERENCES merchants (id),
    rule         text NOT NULL,
    date         date NOT NULL,
    -- What makes a flag distinct within its rule, merchant and day: the person for
    -- repeat_pair, '' for the rules about a merchant's day.
    subject      text NOT NULL DEFAULT '',
    score        double precision NOT NULL,
    evidence     jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'open',
    raised_at    timestamptz NOT NULL,
    reviewed_by  text,
    reviewed_at  timestamptz,
    note         text,
    released_by  text,
    released_at  timestamptz,
    CONSTRAINT risk_flags_rule_check
        CHECK (rule IN ('repeat_pair', 'threshold_hugging', 'burst', 'reversal_churn')),
    CONSTRAINT risk_flags_status_check CHECK (status IN ('open', 'dismissed', 'confirmed')),
    CONSTRAINT risk_flags_reviewed CHECK ((status = 'open') = (reviewed_at IS NULL)),
    CONSTRAINT risk_flags_released_only_confirmed CHECK (released_at IS NULL OR status = 'confirmed'),
    CONSTRAINT risk_flags_once UNIQUE (rule, merchant_id, date, subject)
);
CREATE INDEX risk_flags_merchant_idx ON risk_flags (merchant_id, date);
CREATE INDEX risk_flags_status_idx ON risk_flags (status, date);
-- Holds: a merchant with a confirmed, unreleased flag.
CREATE INDEX risk_flags_holding_idx ON risk_flags (merchant_id)
    WHERE status = 'confirmed' AND released_at IS NULL;


-- Clawbacks: subsidy taken back for confirmed cash-out, once per redemption; carried as a
-- negative adjustment on the merchant's next settlement line (like a reversal after
-- settlement).
CREATE TABLE clawbacks (
    redemption_id  bigint PRIMARY KEY CONSTRAINT clawbacks_redemption_fkey REFERENCES redemptions (id),
    flag_id        bigint NOT NULL CONSTRAINT clawbacks_flag_fkey REFERENCES risk_flags (id),
    merchant_id    bigint NOT NULL CONSTRAINT clawbacks_merchant_fkey REFERENCES merchants (id),
    amount_fen     bigint NOT NULL,
    at             timestamptz NOT NULL,
    adjusted_on    date,
    CONSTRAINT clawbacks_amount_positive CHECK (amount_fen > 0)
);
CREATE INDEX clawbacks_to_adjust_idx ON clawbacks (merchant_id) WHERE adjusted_on IS NULL;

-- A settlement line's way to the merchant's bank: pending → held (the merchant has a
-- confirmed, unreleased flag; back to pending on release) or exported (in a bank file, under
-- its unique reference) → paid | failed (from the bank's return file).
ALTER TABLE settlement_lines
    ADD COLUMN status text NOT NULL DEFAULT 'pending',
    ADD COLUMN reference text,
    ADD COLUMN exported_at timestamptz,
    ADD COLUMN returned_at timestamptz,
    ADD CONSTRAINT settlement_lines_status_check
        CHECK (status IN ('pending', 'held', 'exported', 'paid', 'failed')),
    ADD CONSTRAINT settlement_lines_reference_key UNIQUE (reference),
    ADD CONSTRAINT settlement_lines_exported_has_reference
        CHECK ((status IN ('exported', 'paid', 'failed')) = (reference IS NOT NULL));
CREATE INDEX settlement_lines_status_idx ON settlement_lines (date, status);
