package admin

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

// TestAuditImmutable checks that the consent audit log refuses every way of
// rewriting history, even to a caller holding the pool.
func TestAuditImmutable(t *testing.T) {
	t.Parallel()
	store := pgtest.NewStore(t)
	ctx := testContext(t)
	key := testkit.DevKeyer().Key("+14155550123")
	if _, err := store.Record(ctx, contract.ConsentChange{RecipientKey: key, Scope: "*", To: contract.OptedOut, Source: contract.SourceAdmin, Note: "original"}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE consent_events SET note = 'rewritten'`,
		`UPDATE consent_events SET to_state = 'opted_in' WHERE recipient_key = '` + key + `'`,
		`DELETE FROM consent_events`,
		`DELETE FROM consent_events WHERE id = 1`,
		`TRUNCATE consent_events`,
	} {
		_, err := store.Pool().Exec(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "consent_events is append-only") {
			t.Errorf("%s: error = %v; want the append-only refusal", stmt, err)
		}
	}
	ev := mustEvents(t, store, key)
	if len(ev) != 1 || ev[0].Note != "original" || ev[0].To != contract.OptedOut {
		t.Errorf("events after the attempts = %+v; want the original one, unchanged", ev)
	}
}

// TestNoAuditRewritePath keeps this package's own SQL to reads and inserts
// through the store: no statement here may modify consent_events.
func TestNoAuditRewritePath(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	rewrite := regexp.MustCompile(`(?i)\b(update|delete\s+from|truncate(\s+table)?|alter\s+table|drop\s+(table|trigger))\s+consent_events\b`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := rewrite.Find(src); m != nil {
			t.Errorf("%s modifies the audit log: %q", f, m)
		}
	}
}
