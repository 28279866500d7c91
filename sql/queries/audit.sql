-- owner: service/domain/audit.py
-- name: audit_lock
-- Appends take turns until their transaction ends, so the chain's order is the ids' order.
SELECT pg_advisory_xact_lock(:namespace::integer, 0);

-- name: audit_head
-- The next entry's id and the hash it links to (64 zeros for the first entry).
SELECT nextval('audit_log_id_seq') AS id,
       coalesce((SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), repeat('0', 64)) AS prev_hash;

-- name: audit_insert
INSERT INTO audit_log (id, at, actor, action, object, before, after, request_id, prev_hash, hash)
VALUES (:id, :at, :actor, :action, :object, :before::jsonb, :after::jsonb, :request_id, :prev_hash,
        :hash);

-- name: audit_entries
-- The trail, newest first; each filter may be null (any). :to_at is exclusive; :before_id
-- pages on (the entries older than the last one shown).
SELECT id, at, actor, action, object, before::text AS before, after::text AS after, request_id,
       prev_hash, hash
FROM audit_log
WHERE (:from_at::timestamptz IS NULL OR at >= :from_at)
  AND (:to_at::timestamptz IS NULL OR at < :to_at)
  AND (:actor::text IS NULL OR actor = :actor)
  AND (:action::text IS NULL OR action = :action)
  AND (:object::text IS NULL OR object = :object)
  AND (:before_id::bigint IS NULL OR id < :before_id)
ORDER BY id DESC
LIMIT :limit;

-- name: audit_chain_page
SELECT id, at, actor, action, object, before::text AS before, after::text AS after, request_id,
       prev_hash, hash
FROM audit_log WHERE id > :after_id ORDER BY id LIMIT :size;

-- name: account_fingerprint_key
SELECT key FROM app_keys WHERE name = 'account_fingerprint';
