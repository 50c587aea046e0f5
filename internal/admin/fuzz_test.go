package admin

import (
	"context"
	"strings"
	"testing"

	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

// FuzzImport feeds arbitrary files to the import parser (outside input: a
// migrating user's suppression list). It must not panic, must report bad rows
// in file order with plausible line numbers, and must record only opt-outs
// with a recipient key and a scope.
func FuzzImport(f *testing.F) {
	f.Add(importFile, "acme")
	f.Add("phone\n+14155550123\n", "")
	f.Add("\ufeffphone,scope\r\n\"+1 415\n555 0123\",*\r\n", "acme")
	f.Add("phone,note\n\"unterminated\n", "*")
	f.Add("phone\n+14155550123\n", "=1+1")
	keyer := testkit.DevKeyer()
	f.Fuzz(func(t *testing.T, file, defaultScope string) {
		rec := &recorder{}
		sum, _ := importCSV(context.Background(), strings.NewReader(file), keyer, defaultScope, "US", rec.record)
		if sum.Imported+sum.Unchanged != len(rec.changes) {
			t.Fatalf("summary %+v after %d recorded changes", sum, len(rec.changes))
		}
		if sum.Skipped < len(sum.Errors) || len(sum.Errors) > MaxReportedErrors {
			t.Fatalf("skipped %d with %d errors", sum.Skipped, len(sum.Errors))
		}
		prev, lines := 1, strings.Count(file, "\n")+1
		for _, e := range sum.Errors {
			if e.Line <= prev || e.Line > lines {
				t.Fatalf("error line %d after %d in a file of %d lines: %v", e.Line, prev, lines, e)
			}
			prev = e.Line
		}
		for _, c := range rec.changes {
			if c.RecipientKey == "" || c.Scope == "" || c.To != contract.OptedOut || c.Source != contract.SourceImport {
				t.Fatalf("recorded %+v", c)
			}
			if defuse(c.Scope) != c.Scope {
				t.Fatalf("recorded scope %q, which a spreadsheet could run as a formula", c.Scope)
			}
		}
	})
}
