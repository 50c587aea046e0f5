-- Resolving an ambiguous send looks up whether a provider message already
-- belongs to another step (store.MessageRecorded); only sent rows hold one.
CREATE INDEX send_ledger_message ON send_ledger (provider_message_id) WHERE provider_message_id IS NOT NULL;
