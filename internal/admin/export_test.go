package admin

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

func TestExport(t *testing.T) {
	t.Parallel()
	store := pgtest.NewStore(t)
	keyer := testkit.DevKeyer()
	ctx := testContext(t)
	key := keyer.Key("+14155550123")

	first := contract.ConsentChange{
		RecipientKey: key, Scope: "+15550001111", To: contract.OptedOut, Source: contract.SourceKeyword,
		RawText: `=HYPERLINK("http://x")`, Provider: "twilio", ProviderMessageID: "SM123", Sender: "+15550001111",
	}
	if _, err := store.Record(ctx, first); err != nil {
		t.Fatal(err)
	}
	// The database's clock, not ours: created_at comes from clock_timestamp().
	var between time.Time
	if err := store.Pool().QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&between); err != nil {
		t.Fatal(err)
	}
	second := contract.ConsentChange{RecipientKey: key, Scope: "+15550001111", To: contract.OptedIn, Source: contract.SourceAdmin, Note: "-called back, wants texts"}
	if _, err := store.Record(ctx, second); err != nil {
		t.Fatal(err)
	}

	export := func(since time.Time) [][]string {
		t.Helper()
		var buf bytes.Buffer
		if err := Export(ctx, store, &buf, since); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatalf("export is not CSV: %v\n%s", err, buf.String())
		}
		if len(rows) == 0 || !slices.Equal(rows[0], ExportHeader) {
			t.Fatalf("header = %v; want %v", rows, ExportHeader)
		}
		return rows[1:]
	}

	all := export(time.Time{})
	if len(all) != 2 {
		t.Fatalf("export since the beginning: %d rows; want 2", len(all))
	}
	// created_at is checked apart: its value is the database's.
	wantRows := [][]string{
		{"1", key, "+15550001111", "", "opted_out", "keyword", "twilio", "SM123", "+15550001111", "", `'=HYPERLINK("http://x")`},
		{"2", key, "+15550001111", "opted_out", "opted_in", "admin", "", "", "", "'-called back, wants texts", ""},
	}
	for i, row := range all {
		if !slices.Equal(row[:11], wantRows[i]) {
			t.Errorf("row %d = %q; want %q", i+1, row[:11], wantRows[i])
		}
		at, err := time.Parse(time.RFC3339Nano, row[11])
		if err != nil || at.Location() != time.UTC {
			t.Errorf("row %d created_at = %q; want RFC 3339 in UTC", i+1, row[11])
		}
	}

	if rows := export(between); len(rows) != 1 || rows[0][0] != "2" {
		t.Errorf("export since between the events = %q; want only event 2", rows)
	}
	if rows := export(between.Add(time.Hour)); len(rows) != 0 {
		t.Errorf("export since the future = %q; want no rows", rows)
	}
}

// defuseCases are cells a spreadsheet must not run, and cells it may show
// as they are. TestDefuse checks the function, TestExportDefusesEveryColumn
// every column of a real export.
var defuseCases = []struct{ in, want string }{
	{"", ""},
	{"STOP", "STOP"},
	{"a=b", "a=b"},
	{"=1+1", "'=1+1"},
	{`=HYPERLINK("http://x","y")`, `'=HYPERLINK("http://x","y")`},
	{"@SUM(A1)", "'@SUM(A1)"},
	{"\tx", "'\tx"},
	{"\rx", "'\rx"},
	{"-2", "'-2"},
	{"+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"},
	{"+1 555 000 1111", "'+1 555 000 1111"}, // not E.164: may be an expression
	{"+15550001111", "+15550001111"},        // E.164: a number, left as journeys name it
	{"+0123", "'+0123"},                     // no country code starts with 0
	{"'=x", "''=x"},                         // the escape itself is escaped, so undefuse is exact
	{"'quoted'", "''quoted'"},
}

func TestDefuse(t *testing.T) {
	for _, tt := range defuseCases {
		if got := defuse(tt.in); got != tt.want {
			t.Errorf("defuse(%s) = %q; want %q", strconv.Quote(tt.in), got, tt.want)
		}
		if back := undefuse(tt.want); back != tt.in {
			t.Errorf("undefuse(%s) = %q; want %q", strconv.Quote(tt.want), back, tt.in)
		}
	}
	// A hand-written cell with a "'" that defuse would not have added is
	// kept: only the escape is dropped.
	for _, in := range []string{"'", "'quoted'", "'+15550001111", "O'Brien"} {
		if got := undefuse(in); got != in {
			t.Errorf("undefuse(%s) = %q; want it unchanged", strconv.Quote(in), got)
		}
	}
}

// Every text column is defused, whatever wrote it: each case's value is put
// into each column in turn, straight into the table as old rows or another
// writer could have left it.
func TestExportDefusesEveryColumn(t *testing.T) {
	t.Parallel()
	store := pgtest.NewStore(t)
	ctx := testContext(t)
	dbColumn := map[string]string{"from": "from_state", "to": "to_state"}
	textColumns := slices.DeleteFunc(slices.Clone(ExportHeader), func(c string) bool { return c == "id" || c == "created_at" })

	type cell struct {
		col  int // in ExportHeader
		want string
		in   string
	}
	byID := map[string]cell{}
	for _, name := range textColumns {
		col := dbColumn[name]
		if col == "" {
			col = name
		}
		for _, tt := range defuseCases {
			row := map[string]string{"recipient_key": "rkey", "scope": "*", "to_state": "opted_out", "source": "admin"}
			row[col] = tt.in
			var id int64
			err := store.Pool().QueryRow(ctx, `
				INSERT INTO consent_events (recipient_key, scope, from_state, to_state, source, provider, provider_message_id, sender, note, raw_text)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
				row["recipient_key"], row["scope"], row["from_state"], row["to_state"], row["source"],
				row["provider"], row["provider_message_id"], row["sender"], row["note"], row["raw_text"]).Scan(&id)
			if err != nil {
				t.Fatal(err)
			}
			byID[strconv.FormatInt(id, 10)] = cell{col: slices.Index(ExportHeader, name), want: tt.want, in: tt.in}
		}
	}

	var buf bytes.Buffer
	if err := Export(ctx, store, &buf, time.Time{}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(byID)+1 {
		t.Fatalf("export has %d rows; want %d and the header", len(rows)-1, len(byID))
	}
	for _, row := range rows[1:] {
		c := byID[row[0]]
		if got := row[c.col]; got != c.want {
			t.Errorf("column %s holding %s: exported %q; want %q", ExportHeader[c.col], strconv.Quote(c.in), got, c.want)
		}
		for i, v := range row {
			if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) && !e164RE.MatchString(v) {
				t.Errorf("row %s, column %s: %q could run as a formula", row[0], ExportHeader[i], v)
			}
		}
	}
}

// What staff and imports record comes back unchanged through export and
// import: the scope and note columns of an export, imported into another
// database, record the same scopes and notes, which export the same again.
func TestExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	keyer := testkit.DevKeyer()
	first, second := pgtest.NewStore(t), pgtest.NewStore(t)

	// Notes are the defuse cases (trimmed, as import keeps them); scopes
	// are every kind checkScope accepts, as it returns them.
	scopes := []string{"+15550001111", "*", "12345", "acme", "ACME Deals", "program:acme", "MG0123456789abcdef0123456789abcdef"}
	phones := map[string]string{} // recipient key -> phone
	var file bytes.Buffer
	w := csv.NewWriter(&file)
	_ = w.Write([]string{"phone", "scope", "note", "state"})
	for i, tt := range defuseCases {
		number := fmt.Sprintf("+1415555%04d", 100+i)
		phones[keyer.Key(number)] = number
		state := "opted_out"
		if i%3 == 0 && scopes[i%len(scopes)] != "*" {
			state = "confirmed"
		}
		_ = w.Write([]string{number, scopes[i%len(scopes)], strings.TrimSpace(tt.in), state})
	}
	w.Flush()
	importInto(t, first, file.String())

	// The export's own cells, as a spreadsheet user would copy them.
	exported := exportRows(t, first)
	file.Reset()
	w = csv.NewWriter(&file)
	_ = w.Write([]string{"phone", "scope", "note", "state"})
	for _, row := range exported {
		_ = w.Write([]string{phones[row[1]], row[2], row[9], row[4]})
	}
	w.Flush()
	importInto(t, second, file.String())

	for key := range phones {
		a, b := mustEvents(t, first, key), mustEvents(t, second, key)
		if len(a) != 1 || len(b) != 1 || a[0].Scope != b[0].Scope || a[0].Note != b[0].Note || a[0].To != b[0].To {
			t.Errorf("recipient %s: events %+v after the round trip; want %+v", key, b, a)
		}
	}
	again := exportRows(t, second)
	for i := range exported {
		// id and created_at are the database's own.
		if i >= len(again) || !slices.Equal(exported[i][1:11], again[i][1:11]) {
			t.Errorf("row %d exported again = %q; want %q", i+1, again[i][1:11], exported[i][1:11])
		}
	}
}

func importInto(t *testing.T, st *store.Store, file string) {
	t.Helper()
	sum, err := Import(testContext(t), st, testkit.DevKeyer(), nil, strings.NewReader(file), "", "US")
	if err != nil || sum.Skipped != 0 || sum.Unchanged != 0 {
		t.Fatalf("Import = %+v, %v; want every row imported\n%s", sum, err, file)
	}
}

// exportRows returns the data rows of an export of store.
func exportRows(t *testing.T, st *store.Store) [][]string {
	t.Helper()
	var buf bytes.Buffer
	if err := Export(testContext(t), st, &buf, time.Time{}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows[1:]
}
