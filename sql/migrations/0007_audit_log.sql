-- The bureau's actions, one row each, appended in the same transaction as the write it
-- records (API.md, "Money safety"). Rows are hash-chained: hash = SHA-256 of prev_hash and
-- the entry's canonical JSON (service/domain/audit.py), so an edited, dropped or inserted row
-- breaks the chain at that point, and `festival audit verify` names it. The table refuses
-- UPDATE, DELETE and TRUNCATE; appends take turns on an advisory lock, so the chain's order
-- is the order of the ids.
CREATE TABLE audit_log (
    id          bigint PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    object      text NOT NULL,
    before      jsonb,
    after       jsonb,
    request_id  text,
    prev_hash   text NOT NULL,
    hash        text NOT NULL,
    CONSTRAINT audit_log_hash_format CHECK (hash ~ '^[0-9a-f]{64}$' AND prev_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT audit_log_hash_key UNIQUE (hash),
    CONSTRAINT audit_log_prev_hash_key UNIQUE (prev_hash)
);
CREATE SEQUENCE audit_log_id_seq OWNED BY audit_log.id;
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
