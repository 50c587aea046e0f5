package admin

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/consent"
	"github.com/stopline/stopline/internal/pgtest"
)

func TestExport(t *testing.T) {
	t.Parallel()
	store := pgtest.NewStore(t)
	keyer := testKeyer(t)
	ctx := testContext(t)
	key := keyer.Key("+14155550123")

	first := consent.Change{
		RecipientKey: key, Scope: "+15550001111", To: consent.OptedOut, Source: consent.SourceKeyword,
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
	second := consent.Change{RecipientKey: key, Scope: "+15550001111", To: consent.OptedIn, Source: consent.SourceAdmin, Note: "-called back, wants texts"}
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

func TestDefuse(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"STOP", "STOP"},
		{"=1+1", "'=1+1"},
		{"+15550001111", "'+15550001111"},
		{"-2", "'-2"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"a=b", "a=b"},
	}
	for _, tt := range tests {
		if got := defuse(tt.in); got != tt.want {
			t.Errorf("defuse(%s) = %q; want %q", strconv.Quote(tt.in), got, tt.want)
		}
	}
}
