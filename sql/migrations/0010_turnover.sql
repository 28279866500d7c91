-- Merchants' whole takings per day (日结), vouchers or not: reported by a festival merchant
-- itself, or imported by the bureau from tax or card-network data for festival merchants and
-- for comparison merchants outside the festival (stored by credit code; never merchants that
-- could redeem). Rows dated in the baseline year are the baseline. A festival merchant is one
-- whose credit code is in merchants; the rest are the comparison group.
CREATE TABLE turnover (
    credit_code   text NOT NULL,
    date          date NOT NULL,
    category      text NOT NULL CONSTRAINT turnover_category_fkey REFERENCES categories (code),
    sales_fen     bigint NOT NULL,
    transactions  integer,
    source        text NOT NULL,
    recorded_at   timestamptz NOT NULL,
    CONSTRAINT turnover_pkey PRIMARY KEY (credit_code, date),
    CONSTRAINT turnover_credit_code_format CHECK (credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    CONSTRAINT turnover_sales_nonnegative CHECK (sales_fen >= 0),
    CONSTRAINT turnover_transactions_nonnegative CHECK (transactions IS NULL OR transactions >= 0),
    CONSTRAINT turnover_source_check CHECK (source IN ('merchant', 'import'))
);
CREATE INDEX turnover_date_idx ON turnover (date, category);

-- The recovery job's figures (API.md, "Turnover and recovery"), as of its last run: one row
-- per (date, category), and per category for the festival to date (date NULL).
CREATE TABLE stats_recovery (
    date                        date,
    category                    text NOT NULL CONSTRAINT stats_recovery_category_fkey REFERENCES categories (code),
    figures                     jsonb NOT NULL,
    computed_at                 timestamptz NOT NULL
);
CREATE UNIQUE INDEX stats_recovery_key ON stats_recovery (category, coalesce(date, '0001-01-01'));
