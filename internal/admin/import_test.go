package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

const importFile = "phone,scope,note\n" +
	"+14155550123,+15550001111,called support\n" + // 2
	"(415) 555-0124,,moved from old provider\n" + // 3: default scope, national format
	"not-a-number,*,x\n" + // 4
	"+15550001111,*,x\n" + // 5: possible but not valid
	"+14155550125,*\n" + // 6
	"\"+14155550126\",\"*\",\"multi\n" + // 7
	"line note\"\n" + // 8
	"+14155550127,ba\"d,x\n" + // 9
	"+14155550123,+15550001111,again\n" + // 10: already opted out
	",acme,\n" + // 11
	"+14155550128,\"+1555\x01\",\n" + // 12
	"+14155550129,\"=HYPERLINK(\"\"http://x\"\")\",x\n" // 13

var importErrors = []string{
	`line 4: invalid phone number "not-a-number"`,
	`line 5: "+15550001111" is not a valid number`,
	`line 6: 2 fields, want 3 as in the header`,
	`line 9: bare " in non-quoted-field`,
	`line 11: empty phone number`,
	`line 12: scope "+1555\x01" contains control characters`,
	fmt.Sprintf("line 13: "+notAScope, `"=HYPERLINK(\"http://x\")"`),
}

func errorTexts(errs []RowError) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

func TestImport(t *testing.T) {
	t.Parallel()
	store := pgtest.NewStore(t)
	keyer := testkit.DevKeyer()
	ctx := testContext(t)

	sum, err := Import(ctx, store, keyer, nil, strings.NewReader(importFile), "acme", "US")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Imported != 3 || sum.Unchanged != 1 || sum.Skipped != 7 {
		t.Errorf("summary = %d imported, %d unchanged, %d skipped; want 3, 1, 7", sum.Imported, sum.Unchanged, sum.Skipped)
	}
	if got := strings.Join(errorTexts(sum.Errors), "\n"); got != strings.Join(importErrors, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(importErrors, "\n"))
	}

	k0123, k0124, k0126, k0128 := keyer.Key("+14155550123"), keyer.Key("+14155550124"), keyer.Key("+14155550126"), keyer.Key("+14155550128")
	checks := []struct {
		key, scope string
		allowed    bool
	}{
		{k0123, "+15550001111", false},
		{k0123, "+15550002222", true}, // only that sender
		{k0124, "acme", false},        // the default scope
		{k0124, "+15550001111", true},
		{k0126, "+15550009999", false}, // "*": every sender
		{k0128, "+15550001111", true},  // its row was skipped
	}
	for _, c := range checks {
		if got := mustAllowed(t, store, c.key, c.scope); got != c.allowed {
			t.Errorf("Check(%s, %s) allowed = %v; want %v", c.key, c.scope, got, c.allowed)
		}
	}
	ev := mustEvents(t, store, k0126)
	if len(ev) != 1 || ev[0].Source != contract.SourceImport || ev[0].To != contract.OptedOut || ev[0].Scope != "*" || ev[0].Note != "multi\nline note" {
		t.Errorf("events of the multi-line row = %+v; want one import opt-out in * with the note", ev)
	}
	if ev := mustEvents(t, store, k0123); len(ev) != 1 || ev[0].Note != "called support" {
		t.Errorf("events of the duplicated number = %+v; want only the first row's", ev)
	}

	// Importing the same file again changes nothing and adds no events.
	sum, err = Import(ctx, store, keyer, nil, strings.NewReader(importFile), "acme", "US")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Imported != 0 || sum.Unchanged != 4 || sum.Skipped != 7 {
		t.Errorf("re-import = %d imported, %d unchanged, %d skipped; want 0, 4, 7", sum.Imported, sum.Unchanged, sum.Skipped)
	}
	if ev := mustEvents(t, store, k0124); len(ev) != 1 {
		t.Errorf("after re-import: %d events; want 1", len(ev))
	}
}

// recorder stands in for the store where the database adds nothing.
type recorder struct {
	changes []contract.ConsentChange
	failAt  int // 1-based call that fails; 0 = never
}

func (r *recorder) record(_ context.Context, c contract.ConsentChange) (bool, error) {
	r.changes = append(r.changes, c)
	if len(r.changes) == r.failAt {
		return false, errors.New("consent write: connection refused")
	}
	return true, nil
}

func TestImportHeader(t *testing.T) {
	tests := []struct {
		name, file, defaultScope string
		wantErr                  string
		wantImported             int
		wantRowErrors            []string
	}{
		{"empty file", "", "acme", "empty file: want a header row such as phone,scope,note", 0, nil},
		{"unknown column", "number,scope\n+14155550123,acme\n", "acme", `line 1: unknown column "number" (want phone, scope, note, state)`, 0, nil},
		{"duplicate column", "phone,Phone\n", "acme", `line 1: column "phone" appears twice`, 0, nil},
		{"no phone column", "scope,note\n", "acme", "line 1: no phone column (want a header such as phone,scope,note)", 0, nil},
		{"header only", "phone\n", "acme", "", 0, nil},
		{"BOM, upper case, any order", "\ufeffNote, PHONE \nhello,+14155550123\n", "acme", "", 1, nil},
		{"phone only, no default scope", "phone\n+14155550123\n", "", "", 0,
			[]string{`line 2: no scope: fill the scope column or give a default scope ("*" for every sender)`}},
		{"blank lines are skipped, lines still counted", "phone\n\n+14155550123\n\nabc\n", "acme", "", 1,
			[]string{`line 5: invalid phone number "abc"`}},
		{"CRLF", "phone,scope\r\n+14155550123,*\r\n+1415555012x,*\r\n", "", "", 1,
			[]string{`line 3: invalid phone number "+1415555012x"`}},
		{"state column", "phone,state,scope\n+14155550121,confirmed,acme\n+14155550122, Opted_Out ,acme\n+14155550123,,acme\n" +
			"+14155550124,subscribed,acme\n+14155550125,confirmed,*\n+14155550126,confirmed,\n", "*", "", 3,
			[]string{`line 5: state "subscribed": want opted_out or confirmed`,
				`line 6: state "confirmed" needs a program or sender scope, not "*"`,
				`line 7: state "confirmed" needs a program or sender scope, not "*"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			sum, err := importCSV(context.Background(), strings.NewReader(tt.file), testkit.DevKeyer(), tt.defaultScope, "US", rec.record)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tt.wantErr {
				t.Fatalf("error = %q; want %q", gotErr, tt.wantErr)
			}
			if sum.Imported != tt.wantImported || len(rec.changes) != tt.wantImported {
				t.Errorf("imported %d (%d recorded); want %d", sum.Imported, len(rec.changes), tt.wantImported)
			}
			if got, want := strings.Join(errorTexts(sum.Errors), "\n"), strings.Join(tt.wantRowErrors, "\n"); got != want {
				t.Errorf("row errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestImportChange(t *testing.T) {
	rec := &recorder{}
	keyer := testkit.DevKeyer()
	_, err := importCSV(context.Background(), strings.NewReader("phone,note\n(415) 555-0199 ,  ported from Acme \n"), keyer, " * ", "US", rec.record)
	if err != nil {
		t.Fatal(err)
	}
	want := contract.ConsentChange{RecipientKey: keyer.Key("+14155550199"), Scope: "*", To: contract.OptedOut, Source: contract.SourceImport, Note: "ported from Acme"}
	if len(rec.changes) != 1 || rec.changes[0] != want {
		t.Errorf("changes = %+v; want [%+v]", rec.changes, want)
	}
}

func TestImportStopsOnStoreError(t *testing.T) {
	rec := &recorder{failAt: 2}
	file := "phone\n+14155550121\n+14155550122\n+14155550123\n"
	sum, err := importCSV(context.Background(), strings.NewReader(file), testkit.DevKeyer(), "acme", "US", rec.record)
	if err == nil || err.Error() != "line 3: consent write: connection refused" {
		t.Fatalf("error = %v; want line 3: consent write: connection refused", err)
	}
	if sum.Imported != 1 || len(rec.changes) != 2 {
		t.Errorf("imported %d after %d calls; want 1 after 2", sum.Imported, len(rec.changes))
	}
}

func TestImportCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := importCSV(ctx, strings.NewReader("phone\n+14155550121\n"), testkit.DevKeyer(), "acme", "US", (&recorder{}).record)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v; want context.Canceled", err)
	}
}

func TestImportCapsReportedErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("phone\n")
	for i := range MaxReportedErrors + 5 {
		fmt.Fprintf(&b, "bad%d\n", i)
	}
	sum, err := importCSV(context.Background(), strings.NewReader(b.String()), testkit.DevKeyer(), "acme", "US", (&recorder{}).record)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != MaxReportedErrors+5 || len(sum.Errors) != MaxReportedErrors {
		t.Fatalf("skipped %d with %d errors; want %d with %d", sum.Skipped, len(sum.Errors), MaxReportedErrors+5, MaxReportedErrors)
	}
	if last := sum.Errors[len(sum.Errors)-1].Error(); last != `line 1001: invalid phone number "bad999"` {
		t.Errorf("last reported error = %q", last)
	}
}

// With the senders file, rows naming a program or one of its senders are
// imported into the program's scope, the one journeys check.
func TestImportProgramScopes(t *testing.T) {
	t.Parallel()
	store := pgtest.NewStore(t)
	keyer := testkit.DevKeyer()
	reg, err := senders.Parse([]byte(`{"senders": [{"provider": "twilio", "from": "+15550001111", "type": "long_code", "program": "acme"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	file := "phone,scope\n+14155550131,acme\n+14155550132,+15550001111\n+14155550133,+15550002222\n+14155550134,\n"
	sum, err := Import(testContext(t), store, keyer, reg, strings.NewReader(file), "acme", "US")
	if err != nil || sum.Imported != 4 {
		t.Fatalf("import: %+v, %v", sum, err)
	}
	for number, scope := range map[string]string{
		"+14155550131": "program:acme", "+14155550132": "program:acme", "+14155550133": "+15550002222", "+14155550134": "program:acme",
	} {
		ev := mustEvents(t, store, keyer.Key(number))
		if len(ev) != 1 || ev[0].Scope != scope || ev[0].To != contract.OptedOut || ev[0].Source != contract.SourceImport {
			t.Errorf("%s: events %+v, want one import opt-out in %s", number, ev, scope)
		}
	}
}

// Confirmed subscribers of a double opt-in program migrate with a state
// column; a confirmation never lifts an opt-out, whichever came first in
// the file or in the database.
func TestImportConfirmed(t *testing.T) {
	t.Parallel()
	store := pgtest.NewStore(t)
	keyer := testkit.DevKeyer()
	ctx := testContext(t)
	reg, err := senders.Parse([]byte(`{"senders": [{"provider": "twilio", "from": "+15550003333", "type": "long_code", "program": "club", "double_opt_in": true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	stopAll := keyer.Key("+14155550144")
	if _, err := store.Record(ctx, contract.ConsentChange{RecipientKey: stopAll, Scope: contract.AllScopes, To: contract.OptedOut, Source: contract.SourceKeyword, RawText: "STOPALL"}); err != nil {
		t.Fatal(err)
	}
	file := "phone,state,note\n" +
		"+14155550141,confirmed,form 2025-03\n" + // 2
		"+14155550142,opted_out,\n" + // 3
		"+14155550142,confirmed,\n" + // 4: opted out on line 3
		"+14155550143,confirmed,\n" + // 5
		"+14155550143,confirmed,\n" + // 6: again
		"+14155550144,confirmed,\n" // 7: STOPALL before the import
	sum, err := Import(ctx, store, keyer, reg, strings.NewReader(file), "club", "US")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Imported != 3 || sum.Unchanged != 1 || sum.Skipped != 2 {
		t.Errorf("summary = %d imported, %d unchanged, %d skipped; want 3, 1, 2", sum.Imported, sum.Unchanged, sum.Skipped)
	}
	want := []string{
		`line 4: not confirmed: the recipient is opted out in scope "club" (an import does not lift an opt-out)`,
		`line 7: not confirmed: the recipient is opted out in scope "club" (an import does not lift an opt-out)`,
	}
	if got := strings.Join(errorTexts(sum.Errors), "\n"); got != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}

	marketing := contract.ConsentRule{NeedConfirmed: true}
	for number, allowed := range map[string]bool{"+14155550141": true, "+14155550142": false, "+14155550143": true, "+14155550144": false} {
		d, err := store.Check(ctx, keyer.Key(number), "program:club", marketing)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != allowed {
			t.Errorf("%s: marketing allowed = %v (%+v); want %v", number, d.Allowed, d, allowed)
		}
	}
	ev := mustEvents(t, store, keyer.Key("+14155550141"))
	if len(ev) != 1 || ev[0].To != contract.OptInConfirmed || ev[0].Source != contract.SourceImport || ev[0].Scope != "program:club" || ev[0].Note != "form 2025-03" {
		t.Errorf("events of the confirmed row = %+v; want one import confirmation in program:club with the note", ev)
	}
}

// notAScope is checkScope's refusal of a value that names no scope, with a
// %s for the quoted value.
const notAScope = `scope %s: want a sender (E.164 number, short code, alphanumeric sender ID, messaging service SID), ` +
	`a program name (letters and digits, then also spaces, '_', '.', '-'), "program:" and a program name, or "*"`

// Scopes are stored as journeys name them: an opt-out under a spelling no
// journey uses would block nothing.
func TestCheckScope(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"*", "*", ""},
		{"acme", "acme", ""},
		{"ACME Deals", "ACME Deals", ""}, // alphanumeric sender ID
		{"12345", "12345", ""},           // short code
		{"MG0123456789abcdef0123456789abcdef", "MG0123456789abcdef0123456789abcdef", ""},
		{"+15550001111", "+15550001111", ""},
		{"+1 555 000 1111", "+15550001111", ""},
		{"+1 (555) 000-1111", "+15550001111", ""},
		{"+33 1 23 45 67 89", "+33123456789", ""},
		{"15550001111", "", `scope "15550001111": a sender number must have its country code, in E.164 such as "+14155550100" (a short code is 3-8 digits)`},
		{"(555) 000-1111", "", `scope "(555) 000-1111": a sender number must have its country code, in E.164 such as "+14155550100" (a short code is 3-8 digits)`},
		{"+1 555", "", `scope "+1 555": a sender number must have its country code, in E.164 such as "+14155550100" (a short code is 3-8 digits)`},
		{"", "", `no scope: fill the scope column or give a default scope ("*" for every sender)`},
		{"program:acme", "program:acme", ""},
		{"Acme-EU.2", "Acme-EU.2", ""},
		{"Café Ünï", "Café Ünï", ""},
		// Formulas, and anything else that names no scope, are refused.
		{`=HYPERLINK("http://x")`, "", fmt.Sprintf(notAScope, `"=HYPERLINK(\"http://x\")"`)},
		{"@SUM(A1)", "", fmt.Sprintf(notAScope, `"@SUM(A1)"`)},
		{"program:=1+1", "", fmt.Sprintf(notAScope, `"program:=1+1"`)},
		{"program:", "", fmt.Sprintf(notAScope, `"program:"`)},
		{"acme!", "", fmt.Sprintf(notAScope, `"acme!"`)},
		{"'acme", "", fmt.Sprintf(notAScope, `"'acme"`)},
		{"-1", "", `scope "-1": a sender number must have its country code, in E.164 such as "+14155550100" (a short code is 3-8 digits)`},
		{"+1+1", "", `scope "+1+1": a sender number must have its country code, in E.164 such as "+14155550100" (a short code is 3-8 digits)`},
		{"+1-555-000-1111", "+15550001111", ""},
		{"\t=1", "", `scope "\t=1" contains control characters`},
		{"MG0123456789ABCDEF0123456789ABCDEF", "", `scope "MG0123456789ABCDEF0123456789ABCDEF": a messaging service SID is MG followed by 32 lowercase hex characters`},
	}
	for _, tt := range tests {
		got, err := checkScope(tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.err {
			t.Errorf("checkScope(%q) = %q, %q; want %q, %q", tt.in, got, gotErr, tt.want, tt.err)
		}
	}
}
