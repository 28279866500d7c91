-- owner: service/domain/directory.py
-- name: directory_batch_exists
SELECT EXISTS (SELECT 1 FROM batches WHERE id = :batch_id);

-- name: directory_near
-- Active merchants within :radius_m metres of (:lat, :lng), nearest first, after the cursor's
-- (distance, id). The box (:lat_min … :lng_max) holds the circle and is what the partial
-- index merchants_active_position_idx serves; the exact distance is computed for its rows
-- alone. Filters (null: any): :category, :street, :name_like (an ILIKE pattern, its
-- wildcards escaped), :minute (open at that minute of the festival's day), :batch_id (where
-- its vouchers may be used: its category, and its merchant list when it has one).
SELECT id, name, category, address, street, lat, lng, hours, distance_m
FROM (
    SELECT m.id, m.name, m.category, m.address, m.street, m.lat, m.lng, m.hours,
           round(great_circle_m(:lat, :lng, m.lat, m.lng))::bigint AS distance_m
    FROM merchants m
    WHERE m.status = 'active'
      AND m.lat BETWEEN :lat_min AND :lat_max
      AND m.lng BETWEEN :lng_min AND :lng_max
      AND (:category::text IS NULL OR m.category = :category)
      AND (:street::text IS NULL OR m.street = :street)
      AND (:name_like::text IS NULL OR m.name ILIKE :name_like)
      AND (:minute::integer IS NULL OR hours_open_at(m.hours, :minute))
      AND (:batch_id::bigint IS NULL OR (
          m.category = (SELECT b.category FROM batches b WHERE b.id = :batch_id)
          AND (NOT EXISTS (SELECT 1 FROM batch_merchants l WHERE l.batch_id = :batch_id)
               OR EXISTS (SELECT 1 FROM batch_merchants l
                          WHERE l.batch_id = :batch_id AND l.merchant_id = m.id))))
) near
WHERE distance_m <= :radius_m AND (distance_m, id) > (:after_m::bigint, :after_id::bigint)
ORDER BY distance_m, id
LIMIT :limit;

-- name: directory_by_street
-- Active merchants by street, then name (no street: last), after the cursor's place (null
-- :after_id: from the start); with :unplaced_only, only those without a position (they
-- follow the placed ones when the directory is sorted by distance). Filters as above.
SELECT m.id, m.name, m.category, m.address, m.street, m.lat, m.lng, m.hours,
       NULL::bigint AS distance_m
FROM merchants m
WHERE m.status = 'active'
  AND (NOT :unplaced_only OR m.lat IS NULL)
  AND (:category::text IS NULL OR m.category = :category)
  AND (:street::text IS NULL OR m.street = :street)
  AND (:name_like::text IS NULL OR m.name ILIKE :name_like)
  AND (:minute::integer IS NULL OR hours_open_at(m.hours, :minute))
  AND (:batch_id::bigint IS NULL OR (
      m.category = (SELECT b.category FROM batches b WHERE b.id = :batch_id)
      AND (NOT EXISTS (SELECT 1 FROM batch_merchants l WHERE l.batch_id = :batch_id)
           OR EXISTS (SELECT 1 FROM batch_merchants l
                      WHERE l.batch_id = :batch_id AND l.merchant_id = m.id))))
  AND (:after_id::bigint IS NULL
       OR ((m.street IS NULL), coalesce(m.street, ''), m.name, m.id)
          > (:after_no_street::boolean, :after_street::text, :after_name::text, :after_id::bigint))
ORDER BY (m.street IS NULL), coalesce(m.street, ''), m.name, m.id
LIMIT :limit;
