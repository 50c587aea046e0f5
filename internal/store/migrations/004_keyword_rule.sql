-- Issue 11: every keyword decision records the rule that made it (exact,
-- courtesy, object, typo, phrase, question, unclear, with
-- "+signature_stripped" when a signature was ignored) and the keyword it
-- matched, so an auditor can see why a message opted someone out or did
-- not. The message text stays in inbound_messages only: new consent events
-- leave raw_text empty (old rows keep theirs; the table is append-only).
ALTER TABLE consent_events ADD COLUMN rule text, ADD COLUMN keyword text;
ALTER TABLE inbound_messages ADD COLUMN rule text;
