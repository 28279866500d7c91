-- A resident account is bound to the person it first came with (API.md, "Input rules"): one
-- `sub` can no longer count as a second person by dropping or changing its token's `pid`.
-- NULL: an account not bound yet (it has claimed nothing and entered nothing); its next claim
-- or entry binds it. Once set, the binding never changes.
ALTER TABLE residents ADD COLUMN person text
    CONSTRAINT residents_person_length CHECK (length(person) BETWEEN 3 AND 202);

-- Existing accounts are bound to the person of their first voucher or entry. An account that
-- already counted as two persons keeps what it holds; from now on it is only the first.
UPDATE residents r SET person = first_seen.person
FROM (
    SELECT DISTINCT ON (resident_id) resident_id, person
    FROM (
        SELECT resident_id, person, claimed_at AS at, 0 AS source, id FROM vouchers
        UNION ALL
        SELECT resident_id, person, entered_at, 1, id FROM lottery_entries
    ) seen
    ORDER BY resident_id, at, source, id
) first_seen
WHERE first_seen.resident_id = r.id;

CREATE FUNCTION residents_person_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.person IS NOT NULL AND NEW.person IS DISTINCT FROM OLD.person THEN
        RAISE EXCEPTION 'resident % is bound to its person; the binding never changes', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER residents_person_kept BEFORE UPDATE OF person ON residents
    FOR EACH ROW EXECUTE FUNCTION residents_person_kept();
