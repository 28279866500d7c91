-- owner: service/domain/persons.py
-- name: suspend_person
-- Suspending again keeps the first moment and who, with the newest reason.
INSERT INTO person_suspensions (person, reason, suspended_at, suspended_by)
VALUES (:person, :reason, :now, :by)
ON CONFLICT (person) DO UPDATE SET reason = EXCLUDED.reason
RETURNING person, reason, suspended_at, suspended_by;

-- name: lift_suspension
DELETE FROM person_suspensions WHERE person = :person
RETURNING person, reason, suspended_at, suspended_by;

-- name: person_suspension
SELECT person, reason, suspended_at, suspended_by FROM person_suspensions WHERE person = :person
FOR UPDATE;

-- name: suspensions
SELECT person, reason, suspended_at, suspended_by FROM person_suspensions
ORDER BY suspended_at DESC, person;

-- name: person_suspended
SELECT EXISTS (SELECT 1 FROM person_suspensions WHERE person = :person);

-- name: bind_resident
-- The resident of :sub (created on first use) and the person it is bound to, bound now to
-- :person if it was not yet (0014_resident_binding). No row: another transaction created or
-- bound it meanwhile, and the next statement sees it.
WITH created AS (
    INSERT INTO residents (sub, person) VALUES (:sub, :person) ON CONFLICT (sub) DO NOTHING
    RETURNING id, person
), unbound AS (
    UPDATE residents SET person = :person WHERE sub = :sub AND person IS NULL
    RETURNING id, person
)
SELECT id, person FROM created
UNION ALL SELECT id, person FROM unbound
UNION ALL SELECT id, person FROM residents WHERE sub = :sub AND person IS NOT NULL;

-- name: resident_person
-- The person an account is bound to (no row, or null: not bound yet).
SELECT person FROM residents WHERE sub = :sub;
