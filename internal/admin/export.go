package admin

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/stopline/stopline/internal/consent"
)

// ExportHeader is the header row of Export's CSV.
var ExportHeader = []string{
	"id", "recipient_key", "scope", "from", "to", "source", "provider",
	"provider_message_id", "sender", "note", "raw_text", "created_at",
}

// Export writes the consent events created at or after since as CSV, oldest
// first, with ExportHeader as its first row: the evidence a regulator or
// auditor asks for. The zero time exports everything. from is empty for a
// recipient's first change; created_at is RFC 3339 in UTC.
//
// note and raw_text hold text typed by people (raw_text by recipients), and
// exports get opened in spreadsheets: a value that starts with =, +, -, @,
// tab or carriage return is prefixed with ' so that it cannot run as a
// formula (OWASP's advice against CSV injection). The table keeps the exact
// text.
//
// Nothing is written when the query fails; an error after the first row
// leaves a partial file, which callers must not present as complete.
func Export(ctx context.Context, store *consent.Store, w io.Writer, since time.Time) error {
	// The store has no query for all events, so the query lives here. It
	// only reads: the audit log has no update or delete path anywhere.
	rows, err := store.Pool().Query(ctx, `
		SELECT id, recipient_key, scope, coalesce(from_state, ''), to_state, source,
		       coalesce(provider, ''), coalesce(provider_message_id, ''), coalesce(sender, ''),
		       coalesce(note, ''), coalesce(raw_text, ''), created_at
		FROM consent_events WHERE created_at >= $1 ORDER BY id`, since)
	if err != nil {
		return fmt.Errorf("consent events: %w", err)
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	if err := cw.Write(ExportHeader); err != nil {
		return err
	}
	for rows.Next() {
		var (
			id                                                    int64
			key, scope, from, to, source, provider, msgID, sender string
			note, raw                                             string
			at                                                    time.Time
		)
		if err := rows.Scan(&id, &key, &scope, &from, &to, &source, &provider, &msgID, &sender, &note, &raw, &at); err != nil {
			return fmt.Errorf("consent events: %w", err)
		}
		err := cw.Write([]string{
			strconv.FormatInt(id, 10), key, scope, from, to, source, provider, msgID, sender,
			defuse(note), defuse(raw), at.UTC().Format(time.RFC3339Nano),
		})
		if err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("consent events: %w", err)
	}
	cw.Flush()
	return cw.Error()
}

// defuse keeps a spreadsheet from reading free text as a formula.
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
