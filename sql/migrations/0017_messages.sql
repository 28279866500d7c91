-- Messages (SMS, API.md "Where to spend, joining, several vouchers at once, messages"): the
-- residents' phones kept encrypted so the service can text them, their reminder preference,
-- and the outbox that the send_messages job empties.

-- A resident who signs in by SMS keeps the number encrypted (AES-256-GCM under
-- FESTIVAL_PHONE_KEY, bound to this row by its associated data: service/domain/phones.py):
-- version byte, 96-bit nonce, ciphertext and tag. Residents who came only with an identity
-- platform token have none, and get no SMS.
ALTER TABLE residents
    ADD COLUMN phone_enc bytea,
    ADD COLUMN sms_reminders boolean NOT NULL DEFAULT true,
    ADD CONSTRAINT residents_phone_enc_length CHECK (octet_length(phone_enc) BETWEEN 29 AND 80);
-- A person's phone (any account of the person that has one) and whether any account of the
-- person has stopped reminders: both looked up by person, for every entrant of a draw.
CREATE INDEX residents_person_phone_idx ON residents (person, id) WHERE phone_enc IS NOT NULL;
CREATE INDEX residents_person_no_reminders_idx ON residents (person) WHERE NOT sms_reminders;

-- The outbox: a message is written in the transaction of its cause (a draw, a reminder
-- coming due, an application decided), at most once per cause (dedupe_key), and sent by the
-- send_messages job: leased (status sending, lease_token, lease_until in the database's own
-- time, so no two processes send it at once and a dead sender's lease runs out), then
-- recorded sent once with the provider's message id, or queued again with a backoff, or
-- failed after too many attempts, or skipped (no phone, opted out, the daily cap).
CREATE TABLE messages (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedupe_key           text NOT NULL,
    kind                 text NOT NULL,
    -- The recipient: a resident (the phone is the resident's, decrypted only to send), or a
    -- phone of its own (an applicant's), encrypted and bound to this row's dedupe_key. An
    -- own phone is erased once the message is done with (sent, failed or skipped).
    resident_id          bigint CONSTRAINT messages_resident_fkey REFERENCES residents (id),
    phone_enc            bytea,
    phone_masked         text NOT NULL,
    -- Whose daily reminder cap it counts toward (reminders), or who it is about.
    person               text,
    text                 text NOT NULL,
    status               text NOT NULL DEFAULT 'queued',
    attempts             integer NOT NULL DEFAULT 0,
    next_attempt_at      timestamptz NOT NULL,
    lease_token          uuid,
    lease_until          timestamptz,
    -- The festival day a reminder was let through the cap of 2 per person and day.
    admitted_on          date,
    provider_message_id  text,
    last_error           text,
    skip_reason          text,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    sent_at              timestamptz,
    CONSTRAINT messages_dedupe_key_key UNIQUE (dedupe_key),
    CONSTRAINT messages_dedupe_key_length CHECK (length(dedupe_key) BETWEEN 1 AND 300),
    CONSTRAINT messages_kind_check
        CHECK (kind IN ('lottery_result', 'expiry_reminder', 'application_decision')),
    CONSTRAINT messages_status_check
        CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
    CONSTRAINT messages_one_recipient CHECK (resident_id IS NULL OR phone_enc IS NULL),
    CONSTRAINT messages_has_recipient CHECK (
        resident_id IS NOT NULL OR phone_enc IS NOT NULL OR status IN ('sent', 'failed', 'skipped')
    ),
    CONSTRAINT messages_phone_enc_length CHECK (octet_length(phone_enc) BETWEEN 29 AND 80),
    CONSTRAINT messages_text_length CHECK (length(text) BETWEEN 1 AND 500),
    CONSTRAINT messages_attempts_nonnegative CHECK (attempts >= 0),
    CONSTRAINT messages_leased_while_sending
        CHECK ((status = 'sending') = (lease_token IS NOT NULL AND lease_until IS NOT NULL)),
    -- Recorded once: a sent message has its provider's id, and nothing else has one.
    CONSTRAINT messages_sent_has_provider_id
        CHECK ((status = 'sent') = (provider_message_id IS NOT NULL AND sent_at IS NOT NULL)),
    CONSTRAINT messages_skipped_has_reason CHECK ((status = 'skipped') = (skip_reason IS NOT NULL)),
    CONSTRAINT messages_reminder_has_person CHECK (kind <> 'expiry_reminder' OR person IS NOT NULL)
);
-- What the job leases: the few messages not done with, by due time.
CREATE INDEX messages_due_idx ON messages (next_attempt_at, id) WHERE status IN ('queued', 'sending');
-- The daily cap: a person's reminders let through on a day.
CREATE INDEX messages_reminder_cap_idx ON messages (person, admitted_on)
    WHERE kind = 'expiry_reminder' AND admitted_on IS NOT NULL;
-- The bureau's list, newest first, by status and kind.
CREATE INDEX messages_status_kind_idx ON messages (status, kind, id);
CREATE INDEX messages_kind_idx ON messages (kind, id);

-- The festival days whose expiry reminders have been queued: the job queues a day's once, at
-- its first run from 08:00 (service/domain/messages.py, queue_reminders).
CREATE TABLE reminder_days (
    day        date PRIMARY KEY,
    queued     integer NOT NULL,
    queued_at  timestamptz NOT NULL
);
