-- owner: service/domain/cashiers.py
-- name: lock_merchant_cashiers
SELECT pg_advisory_xact_lock(:namespace::integer, hashtext(:merchant_id::bigint::text));

-- name: live_cashier_count
SELECT count(*) FROM cashiers WHERE merchant_id = :merchant_id AND removed_at IS NULL;

-- name: insert_cashier
-- None when the merchant does not exist.
INSERT INTO cashiers (merchant_id, name, api_key_hash, created_at)
SELECT m.id, :name, :api_key_hash, :now FROM merchants m WHERE m.id = :merchant_id
RETURNING id, merchant_id, name, created_at, removed_at;

-- name: merchant_cashiers
SELECT id, merchant_id, name, created_at, removed_at
FROM cashiers WHERE merchant_id = :merchant_id
ORDER BY id;

-- name: lock_cashier
SELECT id, merchant_id, name, created_at, removed_at
FROM cashiers WHERE id = :cashier_id AND merchant_id = :merchant_id
FOR UPDATE;

-- name: remove_cashier
UPDATE cashiers SET removed_at = :now WHERE id = :cashier_id
RETURNING id, merchant_id, name, created_at, removed_at;

-- name: live_cashier
SELECT name FROM cashiers
WHERE id = :cashier_id AND merchant_id = :merchant_id AND removed_at IS NULL;

-- name: insert_pairing
-- A new pairing code for a live cashier of the merchant; None when there is no such cashier,
-- or when the code is one of a pairing still pending (the caller draws another).
INSERT INTO cashier_pairings (merchant_id, cashier_id, code_hash, created_at, expires_at)
SELECT c.merchant_id, c.id, :code_hash, :now, :expires_at
FROM cashiers c
WHERE c.id = :cashier_id AND c.merchant_id = :merchant_id AND c.removed_at IS NULL
ON CONFLICT (code_hash) DO UPDATE SET
    merchant_id = EXCLUDED.merchant_id,
    cashier_id = EXCLUDED.cashier_id,
    created_at = EXCLUDED.created_at,
    expires_at = EXCLUDED.expires_at,
    used_at = NULL
WHERE cashier_pairings.used_at IS NOT NULL OR cashier_pairings.expires_at <= :now
RETURNING id, merchant_id, cashier_id, expires_at;
