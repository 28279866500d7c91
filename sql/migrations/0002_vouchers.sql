-- Vouchers, redemptions, idempotency keys and the append-only ledger of voucher events.

-- A voucher carries its batch's per-resident limit (kept equal by the composite foreign key)
-- and its slot, the resident's 1st, 2nd, … voucher of the batch: the unique slot and the
-- slot's range make "at most per_resident_limit per resident" a database invariant.
CREATE TABLE vouchers (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code                text NOT NULL,
    batch_id            bigint NOT NULL,
    per_resident_limit  integer NOT NULL,
    resident_id         bigint NOT NULL CONSTRAINT vouchers_resident_fkey REFERENCES residents (id),
    slot                integer NOT NULL,
    -- 'active' past expires_at reads as expired everywhere; the expiry sweep makes it so.
    status              text NOT NULL DEFAULT 'active',
    claimed_at          timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    redeemed_at         timestamptz,
    CONSTRAINT vouchers_code_key UNIQUE (code),
    CONSTRAINT vouchers_batch_fkey FOREIGN KEY (batch_id, per_resident_limit)
        REFERENCES batches (id, per_resident_limit),
    CONSTRAINT vouchers_resident_slot_key UNIQUE (batch_id, resident_id, slot),
    CONSTRAINT vouchers_within_resident_limit CHECK (slot BETWEEN 1 AND per_resident_limit),
    CONSTRAINT vouchers_status_check CHECK (status IN ('active', 'redeemed', 'expired')),
    CONSTRAINT vouchers_redeemed_at_iff_redeemed CHECK ((status = 'redeemed') = (redeemed_at IS NOT NULL)),
    CONSTRAINT vouchers_expiry_after_claim CHECK (expires_at > claimed_at)
);
CREATE INDEX vouchers_resident_idx ON vouchers (resident_id, claimed_at DESC, id DESC);
CREATE INDEX vouchers_active_expiry_idx ON vouchers (expires_at) WHERE status = 'active';

CREATE TABLE redemptions (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    voucher_id          bigint NOT NULL CONSTRAINT redemptions_voucher_fkey REFERENCES vouchers (id),
    merchant_id         bigint NOT NULL CONSTRAINT redemptions_merchant_fkey REFERENCES merchants (id),
    batch_id            bigint NOT NULL CONSTRAINT redemptions_batch_fkey REFERENCES batches (id),
    category            text NOT NULL,
    order_amount_fen    bigint NOT NULL,
    discount_fen        bigint NOT NULL,
    payable_fen         bigint NOT NULL,
    order_ref           text NOT NULL,
    idempotency_key     text NOT NULL,
    status              text NOT NULL DEFAULT 'completed',
    redeemed_at         timestamptz NOT NULL,
    -- The business day (festival time zone) the redemption belongs to, for days and settlement.
    business_date       date NOT NULL,
    reversed_at         timestamptz,
    reversal_reason     text,
    CONSTRAINT redemptions_status_check CHECK (status IN ('completed', 'reversed')),
    CONSTRAINT redemptions_discount_positive CHECK (discount_fen > 0),
    CONSTRAINT redemptions_order_covers_discount CHECK (order_amount_fen >= discount_fen),
    CONSTRAINT redemptions_payable_is_difference CHECK (payable_fen = order_amount_fen - discount_fen),
    CONSTRAINT redemptions_reversed_at_iff_reversed CHECK ((status = 'reversed') = (reversed_at IS NOT NULL)),
    CONSTRAINT redemptions_merchant_key_key UNIQUE (merchant_id, idempotency_key)
);
-- Exactly once: a voucher has at most one completed redemption, whatever the concurrency.
CREATE UNIQUE INDEX redemptions_one_completed_per_voucher ON redemptions (voucher_id)
    WHERE status = 'completed';
CREATE INDEX redemptions_merchant_day_idx ON redemptions (merchant_id, business_date, id);
CREATE INDEX redemptions_day_idx ON redemptions (business_date);

-- Stripe-style idempotency: the key, a fingerprint of the request and the final answer are
-- written in the same transaction as the redemption itself.
CREATE TABLE idempotency_keys (
    merchant_id     bigint NOT NULL CONSTRAINT idempotency_keys_merchant_fkey REFERENCES merchants (id),
    key             text NOT NULL,
    fingerprint     bytea NOT NULL,
    status_code     integer NOT NULL,
    -- The answer's exact bytes (text, not jsonb, which would reorder its keys on replay).
    response        text NOT NULL,
    redemption_id   bigint CONSTRAINT idempotency_keys_redemption_fkey REFERENCES redemptions (id),
    created_at      timestamptz NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (merchant_id, key),
    CONSTRAINT idempotency_keys_key_length CHECK (char_length(key) BETWEEN 1 AND 64)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- The ledger: one row per state change of a voucher, written in the change's transaction.
CREATE TABLE voucher_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    voucher_id      bigint NOT NULL CONSTRAINT voucher_events_voucher_fkey REFERENCES vouchers (id),
    batch_id        bigint NOT NULL,
    kind            text NOT NULL,
    at              timestamptz NOT NULL,
    redemption_id   bigint CONSTRAINT voucher_events_redemption_fkey REFERENCES redemptions (id),
    merchant_id     bigint,
    CONSTRAINT voucher_events_kind_check CHECK (kind IN ('claimed', 'redeemed', 'reversed', 'expired')),
    CONSTRAINT voucher_events_redemption_matches_kind
        CHECK ((kind IN ('redeemed', 'reversed')) = (redemption_id IS NOT NULL))
);
CREATE INDEX voucher_events_voucher_idx ON voucher_events (voucher_id, id);
CREATE INDEX voucher_events_at_idx ON voucher_events (at);

CREATE FUNCTION voucher_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'voucher_events is append-only' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER voucher_events_append_only BEFORE UPDATE OR DELETE ON voucher_events
    FOR EACH ROW EXECUTE FUNCTION voucher_events_append_only();

-- A voucher's status at an instant: an active voucher past its expiry reads as expired
-- everywhere at once, before any sweep has run.
CREATE FUNCTION voucher_status(status text, expires_at timestamptz, at timestamptz)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN status = 'active' AND at >= expires_at THEN 'expired' ELSE status END
$$;
