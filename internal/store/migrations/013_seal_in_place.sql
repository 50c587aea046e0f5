-- consent_events stays append-only with one exception: an UPDATE that seals
-- a row's plain texts (store.SealPlaintext, and Forget for the person's
-- rows). Before, sealing disabled the trigger, which locks the table
-- against every insert (every STOP) until the sealing commits; now each
-- row's update is checked instead, and sealing runs in small batches
-- beside the inserts.
--
-- The statement trigger keeps refusing DELETE and TRUNCATE. The row trigger
-- lets an UPDATE through only if it leaves every column but the four text
-- columns as they were, the row held plain text, and afterwards holds none:
-- each plain text that was not empty is replaced by a sealed value in a
-- sealed column that was empty, and a sealed column is otherwise unchanged.
DROP TRIGGER consent_events_append_only ON consent_events;
CREATE TRIGGER consent_events_append_only
    BEFORE DELETE OR TRUNCATE ON consent_events
    FOR EACH STATEMENT EXECUTE FUNCTION consent_events_append_only();

CREATE FUNCTION consent_events_seal_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    texts CONSTANT text[] := '{raw_text,note,raw_text_sealed,note_sealed}';
BEGIN
    IF to_jsonb(NEW) - texts = to_jsonb(OLD) - texts
       AND (OLD.raw_text IS NOT NULL OR OLD.note IS NOT NULL)
       AND NEW.raw_text IS NULL AND NEW.note IS NULL
       AND (coalesce(OLD.raw_text, '') = '' AND NEW.raw_text_sealed IS NOT DISTINCT FROM OLD.raw_text_sealed
            OR coalesce(OLD.raw_text, '') <> '' AND OLD.raw_text_sealed IS NULL AND NEW.raw_text_sealed IS NOT NULL)
       AND (coalesce(OLD.note, '') = '' AND NEW.note_sealed IS NOT DISTINCT FROM OLD.note_sealed
            OR coalesce(OLD.note, '') <> '' AND OLD.note_sealed IS NULL AND NEW.note_sealed IS NOT NULL)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'consent_events is append-only (an UPDATE may only seal a row''s plain texts)';
END $$;
CREATE TRIGGER consent_events_seal_only
    BEFORE UPDATE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION consent_events_seal_only();
