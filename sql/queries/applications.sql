-- owner: service/domain/applications.py
-- name: credit_code_is_merchant
SELECT EXISTS (SELECT 1 FROM merchants WHERE credit_code = :credit_code);

-- name: insert_application
-- A second pending application of the same credit code fails on
-- merchant_applications_one_pending (duplicate_application), whatever the concurrency.
INSERT INTO merchant_applications (name, credit_code, category, district, address, street, lat,
                                   lng, hours, contact_phone, account_name, account_no,
                                   submitted_at)
VALUES (:name, :credit_code, :category, :district, :address, :street, :lat, :lng, :hours,
        :contact_phone, :account_name, :account_no, :now)
RETURNING id, status;

-- name: list_applications
-- :status may be null (any). Oldest first: the bureau's queue in the order it came.
SELECT * FROM merchant_applications
WHERE :status::text IS NULL OR status = :status
ORDER BY id
LIMIT :limit;

-- name: lock_application
-- Two reviews of one application take turns here; the second finds it decided.
SELECT * FROM merchant_applications WHERE id = :application_id FOR UPDATE;

-- name: decide_application
-- Only a pending application is decided (the lock above already made sure; this says so too).
UPDATE merchant_applications
SET status = :status, reviewed_by = :by, reviewed_at = :now, note = :note,
    merchant_id = :merchant_id
WHERE id = :application_id AND status = 'submitted'
RETURNING *;
