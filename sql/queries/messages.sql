-- owner: service/domain/messages.py
-- name: enqueue_to_resident
-- A message to a resident, in its cause's transaction: none when the resident has no phone,
-- and at most one per cause (dedupe_key).
INSERT INTO messages (dedupe_key, kind, resident_id, phone_masked, person, text,
                      next_attempt_at, created_at, updated_at)
SELECT :dedupe_key, :kind, r.id, coalesce(r.phone_masked, '***'), coalesce(:person, r.person),
       :text, :now, :now, :now
FROM residents r
WHERE r.id = :resident_id AND r.phone_enc IS NOT NULL
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id;

-- name: enqueue_to_phone
-- A message to a phone of its own (an applicant's), sealed and bound to the dedupe_key.
INSERT INTO messages (dedupe_key, kind, phone_enc, phone_masked, person, text,
                      next_attempt_at, created_at, updated_at)
VALUES (:dedupe_key, :kind, :phone_enc, :phone_masked, :person, :text, :now, :now, :now)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id;

-- name: enqueue_lottery_results
-- Every entrant of a drawn batch with a known phone (an account of the person that has one:
-- should there be two, the first row of the join is kept, by the dedupe key) gets its
-- result, won or not, once per (batch, person). Runs in the draw's transaction, after the
-- draw has given each entry its status. A join, not a lookup per entry: the planner hashes
-- the few residents with phones against a million entries, or probes the index for a few.
INSERT INTO messages (dedupe_key, kind, resident_id, phone_masked, person, text,
                      next_attempt_at, created_at, updated_at)
SELECT 'lottery:' || e.batch_id || ':' || e.person, 'lottery_result', r.id,
       coalesce(r.phone_masked, '***'), e.person,
       CASE e.status WHEN 'won' THEN :won_text ELSE :lost_text END, :now, :now, :now
FROM lottery_entries e
JOIN residents r ON r.person = e.person AND r.phone_enc IS NOT NULL
WHERE e.batch_id = :batch_id
ORDER BY e.id, r.id
ON CONFLICT (dedupe_key) DO NOTHING;

-- name: claim_reminder_day
-- The day's reminders are queued once: by whoever inserts this row (a second process waits
-- for the first to commit, then inserts nothing).
INSERT INTO reminder_days (day, queued, queued_at) VALUES (:day, 0, :now)
ON CONFLICT (day) DO NOTHING
RETURNING day;

-- name: reminder_day_queued
UPDATE reminder_days SET queued = :queued WHERE day = :day;

-- name: due_reminders
-- Per person, the unused vouchers expiring in [:from_, :to) that were claimed before
-- :claimed_before, with the phone to text (the first account of the person that has one),
-- unless an account of the person has stopped reminders.
WITH due AS (
    SELECT v.person, count(*) AS vouchers, min(v.expires_at) AS first_expires_at
    FROM vouchers v
    WHERE v.expires_at >= :from_ AND v.expires_at < :to AND v.status = 'active'
      AND v.claimed_at < :claimed_before
    GROUP BY v.person
)
SELECT d.person, d.vouchers, d.first_expires_at, p.id AS resident_id,
       coalesce(p.phone_masked, '***') AS phone_masked
FROM due d
CROSS JOIN LATERAL (
    SELECT r.id, r.phone_masked FROM residents r
    WHERE r.person = d.person AND r.phone_enc IS NOT NULL
    ORDER BY r.id LIMIT 1
) p
WHERE NOT EXISTS (SELECT 1 FROM residents o WHERE o.person = d.person AND NOT o.sms_reminders)
ORDER BY d.person;

-- name: insert_reminders
-- Parallel arrays; a reminder already queued for its cause is not queued again.
INSERT INTO messages (dedupe_key, kind, resident_id, phone_masked, person, text,
                      next_attempt_at, created_at, updated_at)
SELECT w.dedupe_key, 'expiry_reminder', w.resident_id, w.phone_masked, w.person, w.text,
       :now, :now, :now
FROM unnest(:dedupe_keys::text[], :resident_ids::bigint[], :phones_masked::text[],
            :persons::text[], :texts::text[])
     AS w (dedupe_key, resident_id, phone_masked, person, text)
ON CONFLICT (dedupe_key) DO NOTHING;

-- name: lease_turn
-- Leases take turns (a short transaction each), so the reminders one lease lets through the
-- daily cap are seen by the next, whichever process it runs in.
SELECT pg_advisory_xact_lock(:namespace::integer, 0);

-- name: lease_candidates
-- Messages due (queued, their next attempt come) or abandoned (sending, their lease run out
-- in the database's own time: the sender died or gave up), oldest due first, with what
-- deciding on each needs: whether there is a phone to send to, and for a reminder whether
-- an account of its person has stopped reminders since it was queued.
SELECT m.id, m.kind, m.person, m.admitted_on,
       (m.phone_enc IS NOT NULL OR r.phone_enc IS NOT NULL) AS has_phone,
       (m.kind = 'expiry_reminder' AND EXISTS (
           SELECT 1 FROM residents o WHERE o.person = m.person AND NOT o.sms_reminders
       )) AS opted_out
FROM messages m
LEFT JOIN residents r ON r.id = m.resident_id
WHERE m.status IN ('queued', 'sending')
  AND ((m.status = 'queued' AND m.next_attempt_at <= :now)
       OR (m.status = 'sending' AND m.lease_until < clock_timestamp()))
ORDER BY m.next_attempt_at, m.id
LIMIT :limit
FOR UPDATE OF m SKIP LOCKED;

-- name: reminders_admitted
-- How many reminders each of :persons has had let through the cap on :day.
SELECT person, count(*) AS admitted FROM messages
WHERE kind = 'expiry_reminder' AND admitted_on = :day AND person = ANY(:persons::text[])
GROUP BY person;

-- name: skip_messages
-- Parallel arrays :ids, :reasons. A phone of the message's own is erased: it is done with.
UPDATE messages m
SET status = 'skipped', skip_reason = w.reason, lease_token = NULL, lease_until = NULL,
    phone_enc = NULL, updated_at = :now
FROM unnest(:ids::bigint[], :reasons::text[]) AS w (id, reason)
WHERE m.id = w.id;

-- name: lease_messages
-- The chosen messages leased to this sender until clock_timestamp() + :lease_s (the
-- database's time, the same for every process), each an attempt more; reminders in
-- :admit_ids are let through the cap on :day. Returns what sending needs.
UPDATE messages m
SET status = 'sending', attempts = m.attempts + 1, lease_token = :token,
    lease_until = clock_timestamp() + make_interval(secs => :lease_s::float8),
    admitted_on = CASE WHEN m.id = ANY(:admit_ids::bigint[]) THEN :day::date ELSE m.admitted_on END,
    updated_at = :now
WHERE m.id = ANY(:ids::bigint[])
RETURNING m.id, m.dedupe_key, m.kind, m.text, m.attempts, m.resident_id, m.phone_enc,
          (SELECT r.phone_enc FROM residents r WHERE r.id = m.resident_id) AS resident_phone_enc;

-- name: record_sent
-- Parallel arrays :ids, :provider_message_ids. Recorded once: only by the holder of the
-- lease, and a sent message stays sent (its own phone, if any, erased: it is done with).
UPDATE messages m
SET status = 'sent', provider_message_id = w.provider_message_id, sent_at = :now,
    updated_at = :now, lease_token = NULL, lease_until = NULL, phone_enc = NULL
FROM unnest(:ids::bigint[], :provider_message_ids::text[]) AS w (id, provider_message_id)
WHERE m.id = w.id AND m.status = 'sending' AND m.lease_token = :token
RETURNING m.id;

-- name: record_failure
-- A failed attempt: queued again for :retry_at, or failed for good when :final.
UPDATE messages
SET status = CASE WHEN :final::boolean THEN 'failed' ELSE 'queued' END,
    next_attempt_at = :retry_at, last_error = :error, updated_at = :now,
    lease_token = NULL, lease_until = NULL,
    phone_enc = CASE WHEN :final::boolean THEN NULL ELSE phone_enc END
WHERE id = :id AND status = 'sending' AND lease_token = :token
RETURNING id;

-- name: release_message
-- Leased but not sent (quiet hours began): queued again as it was, the attempt not counted.
UPDATE messages
SET status = 'queued', attempts = attempts - 1, lease_token = NULL, lease_until = NULL,
    updated_at = :now
WHERE id = :id AND status = 'sending' AND lease_token = :token;

-- name: list_messages
-- The bureau's list, newest first; :before_id pages back.
SELECT id, kind, phone_masked, text, status, attempts, dedupe_key, created_at, updated_at,
       next_attempt_at, sent_at, provider_message_id, last_error, skip_reason
FROM messages
WHERE (:status::text IS NULL OR status = :status::text)
  AND (:kind::text IS NULL OR kind = :kind::text)
  AND (:before_id::bigint IS NULL OR id < :before_id::bigint)
ORDER BY id DESC
LIMIT :limit;

-- name: message_counts
SELECT status, kind, count(*) AS messages FROM messages
WHERE (:status::text IS NULL OR status = :status::text)
  AND (:kind::text IS NULL OR kind = :kind::text)
GROUP BY status, kind;

-- name: resident_preferences
-- The account's reminder preference, and the (masked) phone its person's messages go to.
SELECT r.sms_reminders,
       (SELECT p.phone_masked FROM residents p
        WHERE p.phone_enc IS NOT NULL AND (p.id = r.id OR p.person = r.person)
        ORDER BY p.id LIMIT 1) AS phone
FROM residents r WHERE r.sub = :sub;

-- name: set_sms_reminders
-- The preference of the account (made on first use) and of every other account of its
-- person: reminders count per person, so one person has one preference.
WITH me AS (
    INSERT INTO residents (sub, sms_reminders) VALUES (:sub, :sms_reminders)
    ON CONFLICT (sub) DO UPDATE SET sms_reminders = EXCLUDED.sms_reminders
    RETURNING id, person
)
UPDATE residents r SET sms_reminders = :sms_reminders
FROM me WHERE r.person = me.person AND r.id <> me.id;
