-- owner: service/domain/merchants.py
-- name: insert_merchant
INSERT INTO merchants (name, category, credit_code, district, address, contact_phone, api_key_hash,
                       daily_subsidy_cap_fen, account_name, account_no, street, lat, lng, hours)
VALUES (:name, :category, :credit_code, :district, :address, :contact_phone, :api_key_hash,
        :daily_subsidy_cap_fen, :account_name, :account_no, :street, :lat, :lng, :hours)
RETURNING *;

-- name: get_merchant
SELECT * FROM merchants WHERE id = :merchant_id;

-- name: lock_merchant
-- The merchant as it is before a change (for the audit trail), held until the change commits.
SELECT * FROM merchants WHERE id = :merchant_id FOR UPDATE;

-- name: list_merchants
-- :category and :status may be null (any).
SELECT * FROM merchants
WHERE (:category::text IS NULL OR category = :category) AND (:status::text IS NULL OR status = :status)
ORDER BY id;

-- name: update_merchant
-- Null leaves a field as it is; the position and the hours may also be removed (null given).
UPDATE merchants SET
    status = coalesce(:status, status),
    name = coalesce(:name, name),
    district = coalesce(:district, district),
    address = coalesce(:address, address),
    contact_phone = coalesce(:contact_phone, contact_phone),
    daily_subsidy_cap_fen = CASE WHEN :cap_given THEN :cap ELSE daily_subsidy_cap_fen END,
    account_name = coalesce(:account_name, account_name),
    account_no = coalesce(:account_no, account_no),
    street = coalesce(:street, street),
    lat = CASE WHEN :position_given THEN :lat ELSE lat END,
    lng = CASE WHEN :position_given THEN :lng ELSE lng END,
    hours = CASE WHEN :hours_given THEN :hours ELSE hours END,
    updated_at = now()
WHERE id = :merchant_id
RETURNING *;

-- name: merchant_categories
-- The category of each of the given merchants that exists.
SELECT id, category FROM merchants WHERE id = ANY(:merchant_ids::bigint[]);

-- name: replace_api_key
-- A fresh owner key: the old one stops signing in from this commit on.
UPDATE merchants SET api_key_hash = :api_key_hash, updated_at = now()
WHERE id = :merchant_id;
