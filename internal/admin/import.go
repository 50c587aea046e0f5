// Package admin is the support-staff and migration side of consent: import
// existing opt-out lists (Import), export the audit log (Export), and an
// authenticated HTTP API to opt a recipient out or in, look one up and export
// (Handler). Every change goes through store.Store.Record, so it takes the
// recipient's lock and appends an audit event like a keyword would; nothing
// here updates or deletes events.
package admin

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

// ImportSummary counts what Import did with the data rows of a file.
type ImportSummary struct {
	Imported  int // opt-outs and confirmations recorded
	Unchanged int // recipients already in that state in that scope
	Skipped   int // bad rows, and confirmations of opted-out recipients: not imported
	// Errors describes the first MaxReportedErrors bad rows, in file order.
	// They quote the offending values, phone numbers included, so that the
	// person fixing the file can find them: print them to that person, never
	// to logs.
	Errors []RowError
}

// MaxReportedErrors bounds ImportSummary.Errors, so a file of a million bad
// rows (a wrong -region, a shifted column) does not hold a million errors in
// memory; Skipped still counts them all.
const MaxReportedErrors = 1000

// RowError is a bad row of an import file.
type RowError struct {
	Line int // 1-based line where the row starts
	Err  error
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e RowError) Unwrap() error { return e.Err }

// Import columns.
const (
	colPhone = "phone"
	colScope = "scope"
	colNote  = "note"
	colState = "state"
)

// Values of the state column.
const (
	stateOptedOut  = "opted_out"
	stateConfirmed = "confirmed"
)

// Import reads a CSV suppression list and records each row as an opt-out
// from the import source, so recipients who opted out before a migration
// stay opted out. A row whose state column says "confirmed" records a double
// opt-in confirmation instead, so confirmed subscribers of a double opt-in
// program need not confirm again; it never lifts an opt-out (such rows are
// skipped and reported: the list may predate the recipient's STOP).
//
// The header names the columns, in any order and case: phone (required),
// scope, note and state (optional; opted_out, the default, or confirmed). A row's scope is its scope column, or
// defaultScope when the column is absent or empty; "*" means every sender
// (like STOPALL). Numbers without a leading "+" are read in region (e.g.
// "US").
//
// Cells are read as Export writes them: a "'" that Export put before a
// value a spreadsheet would run as a formula is dropped, so a scope or note
// copied from an export imports unchanged.
//
// Bad rows (an invalid number, no scope or a value that is not a scope, see
// checkScope, a wrong number of fields, broken quoting) are skipped and
// reported with their line number, e.g. `line 7: invalid phone number
// "555-CALL"`. A recipient already opted out in the
// scope counts as unchanged and gets no new event, so importing the same
// file twice is harmless. A bad header, a read error or a database error
// stops the import with an error; the summary then tells how far it got.
//
// Scopes naming a program, or a sender of a program in scopes, are recorded
// as the program's scope, which is what journeys check.
func Import(ctx context.Context, st *store.Store, keyer phone.Keyer, scopes *senders.Registry, r io.Reader, defaultScope, region string) (ImportSummary, error) {
	return importCSV(ctx, r, keyer, defaultScope, region, func(ctx context.Context, c contract.ConsentChange) (bool, error) {
		c.Scope = scopes.ResolveScope(c.Scope)
		return st.Record(ctx, c)
	})
}

// recordFunc records one change; store.Store.Record in production.
type recordFunc func(context.Context, contract.ConsentChange) (changed bool, err error)

func importCSV(ctx context.Context, r io.Reader, keyer phone.Keyer, defaultScope, region string, record recordFunc) (ImportSummary, error) {
	var sum ImportSummary
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked per row, to report and skip instead of stopping
	cr.ReuseRecord = true

	header, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF):
		return sum, errors.New("empty file: want a header row such as phone,scope,note")
	case err != nil:
		return sum, err // a csv.ParseError names its line
	}
	cols, err := parseHeader(header)
	if err != nil {
		return sum, fmt.Errorf("line 1: %w", err)
	}
	defaultScope = strings.TrimSpace(defaultScope)

	for {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return sum, nil
		}
		if pe, ok := errors.AsType[*csv.ParseError](err); ok {
			sum.skip(pe.StartLine, pe.Err)
			continue
		}
		if err != nil {
			return sum, err
		}
		line, _ := cr.FieldPos(0)
		change, err := parseRow(rec, cols, keyer, defaultScope, region)
		if err != nil {
			sum.skip(line, err)
			continue
		}
		changed, err := record(ctx, change)
		if errors.Is(err, store.ErrOptedOut) {
			sum.skip(line, fmt.Errorf("not confirmed: the recipient is opted out in scope %q (an import does not lift an opt-out)", change.Scope))
			continue
		}
		if err != nil {
			return sum, fmt.Errorf("line %d: %w", line, err)
		}
		if changed {
			sum.Imported++
		} else {
			sum.Unchanged++
		}
	}
}

func (s *ImportSummary) skip(line int, err error) {
	s.Skipped++
	if len(s.Errors) < MaxReportedErrors {
		s.Errors = append(s.Errors, RowError{Line: line, Err: err})
	}
}

// columns maps the known columns to their index; -1 when absent.
type columns struct {
	phone, scope, note, state int
	n                         int // fields per row
}

func parseHeader(header []string) (columns, error) {
	cols := columns{phone: -1, scope: -1, note: -1, state: -1, n: len(header)}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff") // spreadsheet exports start with a BOM
		}
		var idx *int
		switch name {
		case colPhone:
			idx = &cols.phone
		case colScope:
			idx = &cols.scope
		case colNote:
			idx = &cols.note
		case colState:
			idx = &cols.state
		default:
			// Refused rather than ignored: a misspelt "scope" column would
			// otherwise import every row into the default scope.
			return cols, fmt.Errorf("unknown column %q (want phone, scope, note, state)", h)
		}
		if *idx >= 0 {
			return cols, fmt.Errorf("column %q appears twice", name)
		}
		*idx = i
	}
	if cols.phone < 0 {
		return cols, errors.New("no phone column (want a header such as phone,scope,note)")
	}
	return cols, nil
}

func parseRow(rec []string, cols columns, keyer phone.Keyer, defaultScope, region string) (contract.ConsentChange, error) {
	if len(rec) != cols.n {
		return contract.ConsentChange{}, fmt.Errorf("%d fields, want %d as in the header", len(rec), cols.n)
	}
	e164, err := phone.Normalize(cell(rec, cols.phone), region)
	if err != nil {
		return contract.ConsentChange{}, err
	}
	scope := defaultScope
	if cols.scope >= 0 {
		if s := cell(rec, cols.scope); s != "" {
			scope = s
		}
	}
	scope, err = checkScope(scope)
	if err != nil {
		return contract.ConsentChange{}, err
	}
	note := ""
	if cols.note >= 0 {
		note = cell(rec, cols.note)
	}
	if err := checkNote(note); err != nil {
		return contract.ConsentChange{}, err
	}
	to := contract.OptedOut
	if cols.state >= 0 {
		switch s := strings.ToLower(cell(rec, cols.state)); s {
		case "", stateOptedOut:
		case stateConfirmed:
			if scope == contract.AllScopes {
				// A confirmation in '*' would outrank every program's opt-out.
				return contract.ConsentChange{}, errors.New(`state "confirmed" needs a program or sender scope, not "*"`)
			}
			to = contract.OptInConfirmed
		default:
			return contract.ConsentChange{}, fmt.Errorf("state %q: want opted_out or confirmed", rec[cols.state])
		}
	}
	return contract.ConsentChange{
		RecipientKey: keyer.Key(e164), Scope: scope, To: to,
		Source: contract.SourceImport, Note: note,
	}, nil
}

// cell returns a field of rec as Export wrote it (see undefuse), trimmed.
func cell(rec []string, col int) string {
	return strings.TrimSpace(undefuse(rec[col]))
}

// maxNoteLen bounds a note: it is a reason for the audit log, not a document.
const maxNoteLen = 1000

func checkNote(note string) error {
	if utf8.RuneCountInString(note) > maxNoteLen {
		return fmt.Errorf("note longer than %d characters", maxNoteLen)
	}
	return nil
}
