-- Every inbound message the webhook bridge accepted, deduplicated on the
-- provider's message ID. Its consent effect is committed in the same
-- transaction. signal_pending marks messages whose keyword signal has not yet
-- reached the recipient's OptOut workflow (the re-driver delivers them, in id
-- order).
CREATE TABLE inbound_messages (
    id               bigserial   PRIMARY KEY,
    provider         text        NOT NULL,
    message_id       text        NOT NULL,
    from_number      text        NOT NULL,
    to_number        text        NOT NULL,
    body             text        NOT NULL,
    num_media        integer     NOT NULL DEFAULT 0,
    recipient_key    text,
    scope            text,
    intent           text        NOT NULL,
    keyword          text,
    language         text,
    provider_handled boolean     NOT NULL DEFAULT false,
    received_at      timestamptz NOT NULL,
    stored_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    signal_pending   boolean     NOT NULL DEFAULT false,
    signaled_at      timestamptz,
    UNIQUE (provider, message_id)
);
CREATE INDEX inbound_messages_pending ON inbound_messages (id) WHERE signal_pending;
