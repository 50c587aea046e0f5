-- Issue 18: test sends (starter test). A test send's ledger rows are marked
-- test; test_now marks one sent outside the sending window (-now). Test
-- sends never count towards frequency caps (counted_at stays NULL).
ALTER TABLE send_ledger ADD COLUMN test boolean NOT NULL DEFAULT false, ADD COLUMN test_now boolean NOT NULL DEFAULT false;
