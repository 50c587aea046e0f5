-- Provider status callbacks that changed consent (Twilio 21610), by message:
-- a replayed callback must not opt out again a recipient who has since
-- texted START.
CREATE TABLE status_optouts (
    provider    text        NOT NULL,
    message_id  text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (provider, message_id)
);
