-- Joining (商户报名, API.md "Where to spend, joining…"): a business applies with a phone
-- verified by an SMS code; the bureau approves (which creates the merchant, carrying the
-- bank account over) or rejects, once.
CREATE TABLE merchant_applications (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL,
    credit_code     text NOT NULL,
    category        text NOT NULL CONSTRAINT merchant_applications_category_fkey REFERENCES categories (code),
    district        text NOT NULL,
    address         text NOT NULL,
    street          text NOT NULL,
    lat             double precision,
    lng             double precision,
    hours           text,
    -- The verified mobile: the merchant's contact phone once approved, and where the decision
    -- is sent. Shown masked everywhere.
    contact_phone   text NOT NULL,
    account_name    text NOT NULL,
    account_no      text NOT NULL,
    status          text NOT NULL DEFAULT 'submitted',
    submitted_at    timestamptz NOT NULL,
    reviewed_by     text,
    reviewed_at     timestamptz,
    note            text,
    merchant_id     bigint CONSTRAINT merchant_applications_merchant_fkey REFERENCES merchants (id),
    CONSTRAINT merchant_applications_status_check
        CHECK (status IN ('submitted', 'approved', 'rejected')),
    CONSTRAINT merchant_applications_reviewed
        CHECK ((status = 'submitted') = (reviewed_at IS NULL)),
    CONSTRAINT merchant_applications_approved_has_merchant
        CHECK ((status = 'approved') = (merchant_id IS NOT NULL)),
    CONSTRAINT merchant_applications_credit_code_format
        CHECK (credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    CONSTRAINT merchant_applications_phone_format CHECK (contact_phone ~ '^1[3-9][0-9]{9}$'),
    CONSTRAINT merchant_applications_account_no_format CHECK (account_no ~ '^[0-9]{10,30}$'),
    CONSTRAINT merchant_applications_lat_range CHECK (lat BETWEEN -90 AND 90),
    CONSTRAINT merchant_applications_lng_range CHECK (lng BETWEEN -180 AND 180),
    CONSTRAINT merchant_applications_position_complete CHECK ((lat IS NULL) = (lng IS NULL)),
    CONSTRAINT merchant_applications_hours_format CHECK (
        hours ~ '^([01][0-9]|2[0-3]):[0-5][0-9]-(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$'
        AND substr(hours, 1, 5) <> substr(hours, 7, 5)
    ),
    CONSTRAINT merchant_applications_name_not_blank CHECK (btrim(name) <> ''),
    -- One pending application per credit code, whatever the concurrency: the second of two
    -- submissions racing each other waits for the first and fails here
    -- (duplicate_application), not on a SELECT that both passed. (A partial unique index
    -- would do the same, but this is a named constraint the service maps by name.)
    CONSTRAINT merchant_applications_one_pending
        EXCLUDE USING btree (credit_code WITH =) WHERE (status = 'submitted')
);
-- The bureau's queue: the pending ones, oldest first.
CREATE INDEX merchant_applications_status_idx ON merchant_applications (status, id);
