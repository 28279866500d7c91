-- owner: service/domain/lottery.py
-- name: lottery_batch_for_entry
-- The batch an entry is for, with what decides whether it may be entered now. Entries take
-- turns with the draw (which locks the batch FOR UPDATE): an entry never lands after the
-- draw has ranked the entries (it waits, then sees drawn_at), and the draw sees every entry
-- made before it. The foreign key takes this lock anyway.
SELECT id, mode, claim_starts_at, claim_ends_at, paused, drawn_at FROM batches WHERE id = :batch_id
FOR KEY SHARE;

-- name: insert_entry
-- One entry per person: a second (from any account of the person) inserts nothing.
INSERT INTO lottery_entries (entry_id, batch_id, person, resident_id, entered_at)
VALUES (:entry_id, :batch_id, :person, :resident_id, :now)
ON CONFLICT (batch_id, person) DO NOTHING
RETURNING batch_id, entry_id, entered_at, status;

-- name: ensure_residents
-- The demo's residents (parallel arrays :subs, :persons), bound to their persons.
INSERT INTO residents (sub, person)
SELECT DISTINCT ON (sub) sub, person FROM unnest(:subs::text[], :persons::text[]) AS w (sub, person)
ORDER BY sub
ON CONFLICT (sub) DO NOTHING;

-- name: insert_entries
-- Many entries in one statement (parallel arrays :subs, :persons, :entry_ids; the residents
-- exist): one per person as insert_entry, none for a suspended person, none for an account
-- bound to another person.
INSERT INTO lottery_entries (entry_id, batch_id, person, resident_id, entered_at)
SELECT w.entry_id, :batch_id, w.person, r.id, :now
FROM unnest(:subs::text[], :persons::text[], :entry_ids::text[]) AS w (sub, person, entry_id)
JOIN residents r ON r.sub = w.sub AND r.person = w.person
WHERE NOT EXISTS (SELECT 1 FROM person_suspensions s WHERE s.person = w.person)
ON CONFLICT (batch_id, person) DO NOTHING;

-- name: person_entry
SELECT batch_id, entry_id, entered_at, status FROM lottery_entries
WHERE batch_id = :batch_id AND person = :person;

-- name: person_entries
-- A person's entries, newest first, with their batch and the voucher won.
SELECT e.batch_id, e.entry_id, e.entered_at, e.status, v.code AS voucher_code,
       b.title, b.category, b.face_value_fen, b.draw_at, b.drawn_at
FROM lottery_entries e
JOIN batches b ON b.id = e.batch_id
LEFT JOIN vouchers v ON v.id = e.voucher_id
WHERE e.person = :person
ORDER BY e.entered_at DESC, e.id DESC;

-- name: lock_lottery_batch
SELECT id, mode, title, quantity, claimed, per_resident_limit, draw_at, drawn_at, seed, valid_days,
       valid_until, (SELECT count(*) FROM lottery_entries e WHERE e.batch_id = b.id) AS entries
FROM batches b WHERE id = :batch_id
FOR UPDATE;

-- name: due_draws
-- Lottery batches whose draw is due and not done; one that another transaction is drawing
-- right now is skipped (it is being drawn).
SELECT id FROM batches
WHERE mode = 'lottery' AND drawn_at IS NULL AND draw_at <= :now
ORDER BY draw_at, id
FOR UPDATE SKIP LOCKED;

-- name: draw_lottery
-- The draw, in one statement: entries ranked by HMAC-SHA256(seed, entry_id) ascending (as
-- bytes, which is the order of its lowercase hex), computed from the core sha256() with the
-- key's inner and outer pads (RFC 2104); the first len(:codes) entries win a voucher each
-- (same ledger as claims), every entry gets its rank and status, and the batch its stock and
-- drawn_at.
WITH ranked AS (
    SELECT e.id, e.resident_id, e.person,
           row_number() OVER (
               ORDER BY sha256(:outer_pad::bytea || sha256(:inner_pad::bytea
                                                           || convert_to(e.entry_id, 'UTF8'))),
                        e.entry_id
           ) AS rank
    FROM lottery_entries e WHERE e.batch_id = :batch_id
), winners AS (
    SELECT r.id, r.resident_id, r.person, c.code
    FROM ranked r JOIN unnest(:codes::text[]) WITH ORDINALITY AS c (code, n) ON c.n = r.rank
), new AS (
    INSERT INTO vouchers (code, batch_id, per_resident_limit, resident_id, person, slot,
                          claimed_at, expires_at)
    SELECT w.code, :batch_id, :per_resident_limit, w.resident_id, w.person,
           1 + (SELECT count(*) FROM vouchers v WHERE v.batch_id = :batch_id AND v.person = w.person),
           :now, :expires_at
    FROM winners w
    RETURNING id, code
), ledger AS (
    INSERT INTO voucher_events (voucher_id, batch_id, kind, at)
    SELECT id, :batch_id, 'claimed', :now FROM new
), entries AS (
    UPDATE lottery_entries e
    SET rank = r.rank,
        status = CASE WHEN n.id IS NULL THEN 'lost' ELSE 'won' END,
        voucher_id = n.id
    FROM ranked r
    LEFT JOIN winners w ON w.id = r.id
    LEFT JOIN new n ON n.code = w.code
    WHERE e.id = r.id
), stock AS (
    UPDATE batches SET claimed = claimed + (SELECT count(*) FROM new), drawn_at = :now,
                       drawn_quantity = :offered
    WHERE id = :batch_id
)
SELECT (SELECT count(*) FROM ranked) AS entries, (SELECT count(*) FROM winners) AS winners;

-- name: draw_record
-- The public record of a draw: the seed once drawn, and every entry id in ranking order (as
-- JSON text built by PostgreSQL: a million ids need not pass through Python objects).
SELECT b.id AS batch_id, b.mode, b.seed_commitment, b.drawn_at, b.drawn_quantity,
       CASE WHEN b.drawn_at IS NOT NULL THEN encode(b.seed, 'hex') END AS seed,
       (SELECT count(*) FROM lottery_entries e WHERE e.batch_id = b.id) AS entries,
       CASE WHEN b.drawn_at IS NOT NULL THEN
           (SELECT coalesce(json_agg(e.entry_id ORDER BY e.rank), '[]')::text
            FROM lottery_entries e WHERE e.batch_id = b.id)
       END AS entry_ids,
       CASE WHEN b.drawn_at IS NOT NULL THEN
           (SELECT coalesce(json_agg(e.entry_id ORDER BY e.rank), '[]')::text
            FROM lottery_entries e WHERE e.batch_id = b.id AND e.status = 'won')
       END AS winner_entry_ids
FROM batches b WHERE b.id = :batch_id;
