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
