-- Foundation: categories, merchants, bureau accounts, residents and their login codes,
-- rate limits, and batches (the offers). Every invariant is a named constraint so the
-- service can map a violation to a domain error by name.

CREATE TABLE categories (
    code        text PRIMARY KEY,
    name_zh     text NOT NULL,
    name_en     text NOT NULL,
    sort_order  smallint NOT NULL
);

INSERT INTO categories (code, name_zh, name_en, sort_order) VALUES
    ('shopping', '购物', 'Shopping', 1),
    ('dining', '餐饮', 'Dining', 2),
    ('culture_tourism', '文化旅游', 'Culture & tourism', 3),
    ('auto', '汽车销售', 'Auto sales', 4);

-- Server-side keys shared by every process (phone pepper, QR signing key): generated here
-- once, so that no two processes can disagree and no key sits in a config file.
CREATE TABLE app_keys (
    name  text PRIMARY KEY,
    key   bytea NOT NULL,
    CONSTRAINT app_keys_long_enough CHECK (octet_length(key) >= 32)
);

INSERT INTO app_keys (name, key)
SELECT name, decode(replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''), 'hex')
FROM (VALUES ('phone_pepper'), ('qr_signing')) AS k(name);

CREATE TABLE merchants (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL,
    category        text NOT NULL CONSTRAINT merchants_category_fkey REFERENCES categories (code),
    credit_code     text NOT NULL,
    district        text NOT NULL,
    address         text NOT NULL,
    contact_phone   text NOT NULL,
    status          text NOT NULL DEFAULT 'active',
    -- sha256 of the api key; the key itself is shown once and never stored.
    api_key_hash    bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT merchants_credit_code_key UNIQUE (credit_code),
    CONSTRAINT merchants_credit_code_format CHECK (credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    CONSTRAINT merchants_status_check CHECK (status IN ('active', 'suspended')),
    CONSTRAINT merchants_name_not_blank CHECK (btrim(name) <> '')
);
CREATE INDEX merchants_category_idx ON merchants (category, id);

CREATE TABLE bureau_users (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username        text NOT NULL,
    password_hash   text NOT NULL,
    disabled        boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bureau_users_username_key UNIQUE (username)
);

-- A resident is known by an opaque subject. Residents who sign in by SMS also have the
-- peppered hash of their phone (never the number itself) and its masked form.
CREATE TABLE residents (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sub             text NOT NULL,
    phone_hash      bytea,
    phone_masked    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT residents_sub_key UNIQUE (sub),
    CONSTRAINT residents_phone_hash_key UNIQUE (phone_hash)
);

-- One live login code per phone; a new request replaces it.
CREATE TABLE otp_codes (
    phone_hash      bytea PRIMARY KEY,
    code_hash       bytea NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    failed_attempts integer NOT NULL DEFAULT 0,
    consumed_at     timestamptz,
    CONSTRAINT otp_codes_attempts_nonnegative CHECK (failed_attempts >= 0)
);

-- Fixed-window counters shared by every process (per phone, per IP, per login name).
CREATE TABLE rate_limits (
    bucket          text NOT NULL,
    window_start    timestamptz NOT NULL,
    hits            integer NOT NULL,
    CONSTRAINT rate_limits_pkey PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_limits_window_idx ON rate_limits (window_start);

CREATE TABLE batches (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category            text NOT NULL CONSTRAINT batches_category_fkey REFERENCES categories (code),
    title               text NOT NULL,
    face_value_fen      integer NOT NULL,
    min_spend_fen       integer NOT NULL,
    quantity            integer NOT NULL,
    claimed             integer NOT NULL DEFAULT 0,
    per_resident_limit  integer NOT NULL,
    claim_starts_at     timestamptz NOT NULL,
    claim_ends_at       timestamptz NOT NULL,
    valid_days          integer NOT NULL,
    valid_until         timestamptz,
    paused              boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT batches_face_value_positive CHECK (face_value_fen > 0),
    -- 满减: the threshold covers the discount, so payable is never negative.
    CONSTRAINT batches_min_spend_covers_face_value CHECK (min_spend_fen >= face_value_fen),
    CONSTRAINT batches_quantity_nonnegative CHECK (quantity >= 0),
    CONSTRAINT batches_claimed_nonnegative CHECK (claimed >= 0),
    -- The quota: never more vouchers than quantity, whatever the concurrency.
    CONSTRAINT batches_not_oversold CHECK (claimed <= quantity),
    CONSTRAINT batches_per_resident_limit_positive CHECK (per_resident_limit >= 1),
    CONSTRAINT batches_window_order CHECK (claim_ends_at > claim_starts_at),
    CONSTRAINT batches_valid_days_positive CHECK (valid_days >= 1),
    CONSTRAINT batches_valid_until_after_start CHECK (valid_until IS NULL OR valid_until > claim_starts_at),
    CONSTRAINT batches_title_not_blank CHECK (btrim(title) <> ''),
    -- Target of the vouchers' composite key, so a voucher carries its batch's limit.
    CONSTRAINT batches_id_limit_key UNIQUE (id, per_resident_limit)
);
CREATE INDEX batches_category_idx ON batches (category, claim_starts_at);

-- When a batch lists merchants, only they may redeem its vouchers.
CREATE TABLE batch_merchants (
    batch_id     bigint NOT NULL CONSTRAINT batch_merchants_batch_fkey REFERENCES batches (id) ON DELETE CASCADE,
    merchant_id  bigint NOT NULL CONSTRAINT batch_merchants_merchant_fkey REFERENCES merchants (id),
    CONSTRAINT batch_merchants_pkey PRIMARY KEY (batch_id, merchant_id)
);

-- A batch's status at a given instant, derived from its window, pause and stock.
-- Paused batches read as 'scheduled': not claimable now, expected to open again.
CREATE FUNCTION batch_status(
    starts_at timestamptz, ends_at timestamptz, claimed integer, quantity integer,
    paused boolean, at timestamptz
) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN at >= ends_at THEN 'closed'
        WHEN at < starts_at THEN 'scheduled'
        WHEN claimed >= quantity THEN 'sold_out'
        WHEN paused THEN 'scheduled'
        ELSE 'open'
    END
$$;
