-- Where to spend (API.md, "Where to spend, joining…"): a merchant's street (街道), position
-- (WGS-84 degrees) and opening hours, for the public directory. All optional: merchants made
-- before this had none, and a merchant without a position is still listed (after the placed
-- ones when sorting by distance).
ALTER TABLE merchants
    ADD COLUMN street text,
    ADD COLUMN lat double precision,
    ADD COLUMN lng double precision,
    -- 'HH:MM-HH:MM' in the festival's time zone; may pass midnight (22:00-02:00); 24:00 only
    -- as a closing time.
    ADD COLUMN hours text,
    ADD CONSTRAINT merchants_street_not_blank CHECK (btrim(street) <> ''),
    ADD CONSTRAINT merchants_lat_range CHECK (lat BETWEEN -90 AND 90),
    ADD CONSTRAINT merchants_lng_range CHECK (lng BETWEEN -180 AND 180),
    ADD CONSTRAINT merchants_position_complete CHECK ((lat IS NULL) = (lng IS NULL)),
    ADD CONSTRAINT merchants_hours_format CHECK (
        hours ~ '^([01][0-9]|2[0-3]):[0-5][0-9]-(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$'
        AND substr(hours, 1, 5) <> substr(hours, 7, 5)
    );

-- Whether hours 'HH:MM-HH:MM' are open at a minute of the day (0…1439): the opening minute
-- is in, the closing one out; hours whose closing time is not after the opening pass midnight.
CREATE FUNCTION hours_open_at(hours text, minute_of_day integer) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN opens < closes THEN minute_of_day >= opens AND minute_of_day < closes
                ELSE minute_of_day >= opens OR minute_of_day < closes END
    FROM (SELECT substr(hours, 1, 2)::integer * 60 + substr(hours, 4, 2)::integer AS opens,
                 substr(hours, 7, 2)::integer * 60 + substr(hours, 10, 2)::integer AS closes) h
$$;

-- The great-circle distance in metres between two WGS-84 points (haversine on a sphere of
-- the Earth's mean radius, 6,371 km: within 0.5% of the ellipsoid, plenty for "nearest
-- first"). least() keeps rounding from taking asin past 1 for antipodal points.
CREATE FUNCTION great_circle_m(lat1 double precision, lng1 double precision,
                               lat2 double precision, lng2 double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    -- PostgreSQL refuses a float result that underflows to 0 ("value out of range"), as the
    -- square of a tiny difference would: positions count to 1e-9 degrees (0.1 mm) first.
    SELECT 2 * 6371000 * asin(least(1.0, sqrt(
        power(sin(radians(p.lat2 - p.lat1) / 2), 2)
        + cos(radians(p.lat1)) * cos(radians(p.lat2)) * power(sin(radians(p.lng2 - p.lng1) / 2), 2)
    )))
    FROM (SELECT round(lat1::numeric, 9)::float8 AS lat1, round(lng1::numeric, 9)::float8 AS lng1,
                 round(lat2::numeric, 9)::float8 AS lat2, round(lng2::numeric, 9)::float8 AS lng2) AS p
$$;

-- The directory's two orders, over active merchants only: a bounding box around `near` is a
-- range of this index (lat, then lng filtered inside it), and the street order a walk of the
-- other from the cursor's place (merchants without a street last).
CREATE INDEX merchants_active_position_idx ON merchants (lat, lng) WHERE status = 'active';
CREATE INDEX merchants_active_street_idx
    ON merchants ((street IS NULL), coalesce(street, ''), name, id) WHERE status = 'active';

-- The key that signs the directory's cursors, so a cursor cannot be edited into another
-- query's or made up: a bad one is a 400, never a scan from an arbitrary place.
INSERT INTO app_keys (name, key)
SELECT 'directory_cursor',
       decode(replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''), 'hex')
ON CONFLICT (name) DO NOTHING;
