-- Scheduled jobs' record, the bureau's daily numbers, baselines and settlement.

-- One row per (job, period): the period is a business date for daily jobs and a due minute
-- for frequent ones. A run's work and its 'succeeded' mark commit together, so a run that
-- died half-way left nothing behind and is simply run again.
CREATE TABLE job_runs (
    job          text NOT NULL,
    period       text NOT NULL,
    status       text NOT NULL,
    attempts     integer NOT NULL DEFAULT 1,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    rows         bigint,
    error        text,
    CONSTRAINT job_runs_pkey PRIMARY KEY (job, period),
    CONSTRAINT job_runs_status_check CHECK (status IN ('running', 'succeeded', 'failed'))
);
CREATE INDEX job_runs_latest_idx ON job_runs (job, started_at DESC);

-- The comparable pre-festival sales (e.g. the same days of 2019), uploaded as CSV.
CREATE TABLE baselines (
    date         date NOT NULL,
    category     text NOT NULL CONSTRAINT baselines_category_fkey REFERENCES categories (code),
    sales_fen    bigint NOT NULL,
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT baselines_pkey PRIMARY KEY (date, category),
    CONSTRAINT baselines_sales_nonnegative CHECK (sales_fen >= 0)
);

-- Per (business date, category), kept by the daily rollup and the intraday refresh.
-- Ratios (leverage, redemption rate, recovery index) are derived on read from these sums,
-- so a baseline uploaded later needs no recomputation.
CREATE TABLE stats_daily (
    date                  date NOT NULL,
    category              text NOT NULL CONSTRAINT stats_daily_category_fkey REFERENCES categories (code),
    vouchers_claimed      bigint NOT NULL,
    vouchers_redeemed     bigint NOT NULL,
    vouchers_expired      bigint NOT NULL,
    redemptions_reversed  bigint NOT NULL,
    subsidy_fen           bigint NOT NULL,
    sales_fen             bigint NOT NULL,
    unique_residents      bigint NOT NULL,
    active_merchants      bigint NOT NULL,
    computed_at           timestamptz NOT NULL,
    CONSTRAINT stats_daily_pkey PRIMARY KEY (date, category)
);

CREATE TABLE stats_daily_merchants (
    date                  date NOT NULL,
    merchant_id           bigint NOT NULL CONSTRAINT stats_daily_merchants_merchant_fkey REFERENCES merchants (id),
    category              text NOT NULL,
    vouchers_redeemed     bigint NOT NULL,
    redemptions_reversed  bigint NOT NULL,
    subsidy_fen           bigint NOT NULL,
    sales_fen             bigint NOT NULL,
    unique_residents      bigint NOT NULL,
    computed_at           timestamptz NOT NULL,
    CONSTRAINT stats_daily_merchants_pkey PRIMARY KEY (date, merchant_id)
);

-- What the government owes each merchant for a day: written once, never rewritten. A
-- redemption settled on a line and reversed afterwards becomes a negative adjustment on the
-- merchant's next line.
CREATE TABLE settlement_lines (
    merchant_id      bigint NOT NULL CONSTRAINT settlement_lines_merchant_fkey REFERENCES merchants (id),
    date             date NOT NULL,
    redemptions      bigint NOT NULL,
    subsidy_fen      bigint NOT NULL,
    adjustments_fen  bigint NOT NULL,
    settled_at       timestamptz NOT NULL,
    CONSTRAINT settlement_lines_pkey PRIMARY KEY (merchant_id, date),
    CONSTRAINT settlement_lines_adjustments_nonpositive CHECK (adjustments_fen <= 0)
);

ALTER TABLE redemptions
    ADD COLUMN settled_on date,
    ADD COLUMN adjusted_on date,
    ADD CONSTRAINT redemptions_adjusted_after_settled CHECK (adjusted_on IS NULL OR settled_on IS NOT NULL);
CREATE INDEX redemptions_unsettled_idx ON redemptions (business_date) WHERE settled_on IS NULL;
CREATE INDEX redemptions_to_adjust_idx ON redemptions (reversed_at)
    WHERE status = 'reversed' AND settled_on IS NOT NULL AND adjusted_on IS NULL;

CREATE INDEX vouchers_claimed_at_idx ON vouchers (claimed_at);
CREATE INDEX voucher_events_expired_idx ON voucher_events (at) WHERE kind = 'expired';
