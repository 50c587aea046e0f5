-- Issue 17: frequency caps. A capped (marketing) send records its consent
-- scope (the program) and category, and counted_at: when it passed the cap
-- check, under the (recipient, scope) cap lock that it holds across the
-- provider call. Rows with counted_at in the cap's period and status
-- attempting, sent or unknown count against the recipient's caps.
ALTER TABLE send_ledger ADD COLUMN scope text, ADD COLUMN category text, ADD COLUMN counted_at timestamptz;
CREATE INDEX send_ledger_counted ON send_ledger (recipient_key, scope, counted_at) WHERE counted_at IS NOT NULL;
