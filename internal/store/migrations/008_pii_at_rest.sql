-- Issue 12: personal data at rest. Every phone number and free text the
-- store keeps is sealed (AES-256-GCM) under its recipient's data key, and
-- each data key is stored wrapped by the payload keyring (PAYLOAD_KEYS).
-- Forgetting a person deletes their data key: what was sealed under it can
-- no longer be read (crypto-shredding), while consent rows and events stay,
-- keyed by the recipient key, so the opt-out still holds.
--
-- recipient_key '' holds the key of messages whose sender is no phone
-- number (no recipient key). key_id names the keyring entry that wraps the
-- key; '' means stored unwrapped (PAYLOAD_ENCRYPTION=off).
CREATE TABLE data_keys (
    id            bigserial   PRIMARY KEY,
    recipient_key text        NOT NULL UNIQUE,
    key_id        text        NOT NULL,
    wrapped       bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The plain columns stay for rows written before this migration until the
-- worker seals them at start (store.SealPlaintext), then hold NULL.
ALTER TABLE inbound_messages
    ALTER COLUMN from_number DROP NOT NULL,
    ALTER COLUMN body DROP NOT NULL,
    ADD COLUMN from_sealed bytea,
    ADD COLUMN body_sealed bytea,
    ADD COLUMN body_purged_at timestamptz;
CREATE INDEX inbound_messages_plain ON inbound_messages (id) WHERE from_number IS NOT NULL OR body IS NOT NULL;
-- INBOUND_RETENTION: bodies older than it are purged.
CREATE INDEX inbound_messages_retained ON inbound_messages (stored_at) WHERE body_sealed IS NOT NULL;

ALTER TABLE consent_events ADD COLUMN raw_text_sealed bytea, ADD COLUMN note_sealed bytea;
CREATE INDEX consent_events_plain ON consent_events (id) WHERE raw_text IS NOT NULL OR note IS NOT NULL;

-- What was done to personal data, by whom: erasures (forget) and the
-- sealing of rows written before this migration. Append-only, as
-- consent_events. note is the operator's note, in plain text: it must
-- outlive the data key it records the destruction of.
CREATE TABLE audit_log (
    id            bigserial   PRIMARY KEY,
    action        text        NOT NULL,
    actor         text        NOT NULL,
    recipient_key text,
    note          text,
    details       jsonb,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX audit_log_recipient ON audit_log (recipient_key, created_at);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
