-- A person (API.md, "Identity": 'p:' || pid, or 'r:' || sub for an account without one)
-- suspended from the festival by the bureau: none of its accounts may claim or enter a
-- lottery. Lifting a suspension deletes its row (the bureau's audit trail keeps the history).
CREATE TABLE person_suspensions (
    person        text PRIMARY KEY,
    reason        text NOT NULL,
    suspended_at  timestamptz NOT NULL,
    suspended_by  text NOT NULL,
    CONSTRAINT person_suspensions_person_length CHECK (length(person) BETWEEN 3 AND 202)
);
