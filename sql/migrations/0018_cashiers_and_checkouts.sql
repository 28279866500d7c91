-- Cashiers (收银员) and several vouchers in one checkout (API.md, "Where to spend, joining,
-- several vouchers at once, messages").

-- A merchant's owner login (the merchant's own api key) adds and removes cashier accounts,
-- each with an api key of its own, stored as its SHA-256 only (as the merchant's). A removed
-- cashier keeps its row (removed_at): its redemptions still name it.
CREATE TABLE cashiers (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL CONSTRAINT cashiers_merchant_fkey REFERENCES merchants (id),
    name            text NOT NULL,
    api_key_hash    bytea NOT NULL,
    created_at      timestamptz NOT NULL,
    removed_at      timestamptz,
    -- Sign-in finds the cashier by its key's hash.
    CONSTRAINT cashiers_api_key_hash_key UNIQUE (api_key_hash),
    CONSTRAINT cashiers_api_key_hash_sha256 CHECK (length(api_key_hash) = 32),
    CONSTRAINT cashiers_name_length CHECK (char_length(btrim(name)) BETWEEN 1 AND 64),
    CONSTRAINT cashiers_removed_after_created CHECK (removed_at IS NULL OR removed_at >= created_at)
);
CREATE INDEX cashiers_merchant_idx ON cashiers (merchant_id, id);

-- Who redeemed (null: the owner's login), the cashier's note (branch, till, receipt number),
-- and the checkout a redemption belongs to when several vouchers were redeemed together
-- (null: a checkout of one voucher by `code`). No foreign key for cashier_id: like batch_id,
-- it would take a share lock on one hot row for every redemption the cashier makes; cashiers
-- are never deleted, and the redemption flush only writes the id of the caller's live cashier.
ALTER TABLE redemptions
    ADD COLUMN cashier_id bigint,
    ADD COLUMN metadata text,
    ADD COLUMN checkout_id bigint,
    ADD CONSTRAINT redemptions_metadata_length CHECK (char_length(metadata) <= 1000);

-- A checkout of several vouchers has one Idempotency-Key for all its redemptions: the key is
-- unique per merchant and voucher now (the key's answer is still stored once, in
-- idempotency_keys, whose primary key keeps one request per key).
ALTER TABLE redemptions DROP CONSTRAINT redemptions_merchant_key_key;
CREATE UNIQUE INDEX redemptions_merchant_key_voucher_key
    ON redemptions (merchant_id, idempotency_key, voucher_id);
-- Reversing one item reverses its checkout: its items by checkout.
CREATE INDEX redemptions_checkout_idx ON redemptions (checkout_id) WHERE checkout_id IS NOT NULL;
