-- A claim may carry an Idempotency-Key (the residents' page sends one per tap): a retry after
-- a lost answer replays the stored answer instead of claiming again. Keys belong to the
-- resident; the answer is stored in the claim's own transaction, as for redemptions.
CREATE TABLE claim_keys (
    resident_id  bigint NOT NULL CONSTRAINT claim_keys_resident_fkey REFERENCES residents (id),
    key          text NOT NULL,
    batch_id     bigint NOT NULL CONSTRAINT claim_keys_batch_fkey REFERENCES batches (id),
    status_code  integer NOT NULL,
    -- The answer's exact bytes (text, not jsonb, which would reorder its keys on replay).
    response     text NOT NULL,
    created_at   timestamptz NOT NULL,
    CONSTRAINT claim_keys_pkey PRIMARY KEY (resident_id, key),
    CONSTRAINT claim_keys_key_length CHECK (char_length(key) BETWEEN 1 AND 64)
);
CREATE INDEX claim_keys_created_idx ON claim_keys (created_at);
