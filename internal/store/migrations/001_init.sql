-- Current consent per recipient and scope. scope '*' holds STOPALL-style
-- changes that apply to every sender; the newest row of (scope, '*') decides.
CREATE TABLE consent (
    recipient_key text        NOT NULL,
    scope         text        NOT NULL,
    state         text        NOT NULL CHECK (state IN ('opted_in', 'opted_out')),
    source        text        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (recipient_key, scope)
);

-- Append-only audit log of every consent change.
CREATE TABLE consent_events (
    id                  bigserial   PRIMARY KEY,
    recipient_key       text        NOT NULL,
    scope               text        NOT NULL,
    from_state          text,
    to_state            text        NOT NULL,
    source              text        NOT NULL,
    raw_text            text,
    provider            text,
    provider_message_id text,
    sender              text,
    note                text,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX consent_events_recipient ON consent_events (recipient_key, created_at);

CREATE FUNCTION consent_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'consent_events is append-only';
END $$;
CREATE TRIGGER consent_events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON consent_events
    FOR EACH STATEMENT EXECUTE FUNCTION consent_events_append_only();

-- One row per (journey workflow, step): decides whether a step may call the
-- provider, so a retry or a crash never sends the same step twice.
CREATE TABLE send_ledger (
    workflow_id         text        NOT NULL,
    step                integer     NOT NULL,
    recipient_key       text        NOT NULL,
    provider            text        NOT NULL,
    status              text        NOT NULL CHECK (status IN ('attempting', 'sent', 'failed', 'skipped', 'unknown')),
    provider_message_id text,
    reason              text,
    attempts            integer     NOT NULL DEFAULT 1,
    attempted_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (workflow_id, step)
);

-- Messages "sent" by the development sandbox provider.
CREATE TABLE sandbox_messages (
    id         bigserial   PRIMARY KEY,
    message_id text        NOT NULL UNIQUE,
    to_number  text        NOT NULL,
    sender     text        NOT NULL,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Running journeys, by recipient: the opt-out workflow reads it to cancel
-- them. A journey registers before its first step and deregisters at its end.
CREATE TABLE active_journeys (
    workflow_id   text        PRIMARY KEY,
    recipient_key text        NOT NULL,
    scope         text        NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX active_journeys_recipient ON active_journeys (recipient_key);
