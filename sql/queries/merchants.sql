-- name: insert_merchant
INSERT INTO merchants (name, category, credit_code, district, address, contact_phone, api_key_hash)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING *;

-- name: get_merchant
SELECT * FROM merchants WHERE id = $1;

-- name: list_merchants
-- $1 category or null, $2 status or null.
SELECT * FROM merchants
WHERE ($1::text IS NULL OR category = $1) AND ($2::text IS NULL OR status = $2)
ORDER BY id;

-- name: update_merchant
-- Null leaves a field as it is.
UPDATE merchants SET
    status = coalesce($2, status),
    name = coalesce($3, name),
    district = coalesce($4, district),
    address = coalesce($5, address),
    contact_phone = coalesce($6, contact_phone),
    updated_at = now()
WHERE id = $1
RETURNING *;

-- name: merchant_categories
-- The category of each of the given merchants that exists.
SELECT id, category FROM merchants WHERE id = ANY($1::bigint[]);
