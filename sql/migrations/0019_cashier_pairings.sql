-- Cashier sign-in by pairing (issue 25): no cashier can type a 46-character api key. The
-- owner's login makes a short code (and its QR) for one of its cashiers, valid a few minutes
-- and good for one sign-in; the cashier's device exchanges it for that cashier's token.
-- The code is stored as its SHA-256 only. Single use is the exchange's one UPDATE … WHERE
-- used_at IS NULL: a second exchange of the same code waits for the first's row lock, then
-- sees used_at set and matches nothing.
CREATE TABLE cashier_pairings (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id bigint NOT NULL CONSTRAINT cashier_pairings_merchant_fkey REFERENCES merchants (id),
    cashier_id  bigint NOT NULL CONSTRAINT cashier_pairings_cashier_fkey REFERENCES cashiers (id),
    code_hash   bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    -- The exchange finds a pairing by its code alone (the merchant id is optional there); a
    -- code of a spent or expired pairing may be drawn again and takes its row over.
    CONSTRAINT cashier_pairings_code_hash_key UNIQUE (code_hash),
    CONSTRAINT cashier_pairings_code_hash_sha256 CHECK (length(code_hash) = 32),
    CONSTRAINT cashier_pairings_expires_after_created CHECK (expires_at > created_at)
);
CREATE INDEX cashier_pairings_cashier_idx ON cashier_pairings (cashier_id);
