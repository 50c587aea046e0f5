-- Resolving an ambiguous send looks up whether a provider message already
-- belongs to another step (store.MessageRecorded); only sent rows hold one.
-- IF NOT EXISTS: on a large ledger the index can be built beforehand with
-- CREATE INDEX CONCURRENTLY (README, Production), so sends do not wait for it.
CREATE INDEX IF NOT EXISTS send_ledger_message ON send_ledger (provider_message_id) WHERE provider_message_id IS NOT NULL;
