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
