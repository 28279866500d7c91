-- owner: service/domain/logins.py
-- name: merchant_credentials
-- The merchant's own key hash, and its live cashier whose key has :api_key_hash (if any).
SELECT m.id, m.api_key_hash, m.status,
       (SELECT c.id FROM cashiers c
        WHERE c.api_key_hash = :api_key_hash AND c.merchant_id = m.id AND c.removed_at IS NULL)
           AS cashier_id
FROM merchants m WHERE m.id = :merchant_id;

-- name: bureau_user_by_username
SELECT id, username, password_hash, disabled FROM bureau_users WHERE username = :username;

-- name: insert_bureau_user
INSERT INTO bureau_users (username, password_hash) VALUES (:username, :password_hash)
ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, disabled = false
RETURNING id, (xmax = 0) AS created;

-- name: upsert_otp
-- A new code replaces the phone's previous one (and its failed attempts).
INSERT INTO otp_codes (phone_hash, code_hash, created_at, expires_at)
VALUES (:phone_hash, :code_hash, :now, :expires_at)
ON CONFLICT (phone_hash) DO UPDATE SET
    code_hash = EXCLUDED.code_hash,
    created_at = EXCLUDED.created_at,
    expires_at = EXCLUDED.expires_at,
    failed_attempts = 0,
    consumed_at = NULL;

-- name: lock_otp
SELECT code_hash, expires_at, failed_attempts, consumed_at
FROM otp_codes WHERE phone_hash = :phone_hash
FOR UPDATE;

-- name: otp_failed
UPDATE otp_codes SET failed_attempts = failed_attempts + 1 WHERE phone_hash = :phone_hash
RETURNING failed_attempts;

-- name: otp_consumed
UPDATE otp_codes SET consumed_at = :now WHERE phone_hash = :phone_hash;

-- name: upsert_resident_by_phone
-- A new account is bound to the phone's person at once (0014_resident_binding).
INSERT INTO residents (sub, phone_hash, phone_masked, person)
VALUES (:sub, :phone_hash, :phone_masked, :person)
ON CONFLICT (phone_hash) DO UPDATE SET phone_masked = EXCLUDED.phone_masked
RETURNING id, sub;

-- name: set_resident_phone
-- The phone, encrypted and bound to its row (service/domain/phones.py), so messages reach it.
UPDATE residents SET phone_enc = :phone_enc WHERE id = :resident_id;

-- name: use_pairing
-- Spends a pending pairing code of a live cashier (of :merchant_id when given): one UPDATE,
-- so of two exchanges of one code the second waits for the first's row lock and then finds
-- used_at set. None: unknown, spent, expired, another merchant's, or its cashier removed.
UPDATE cashier_pairings p SET used_at = :now
FROM cashiers c
WHERE p.code_hash = :code_hash
  AND p.used_at IS NULL
  AND p.expires_at > :now
  AND (CAST(:merchant_id AS bigint) IS NULL OR p.merchant_id = :merchant_id)
  AND c.id = p.cashier_id
  AND c.removed_at IS NULL
RETURNING p.merchant_id, p.cashier_id;
