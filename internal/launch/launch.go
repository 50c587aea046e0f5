// Package launch starts a journey for every recipient of an audience CSV.
// It streams the file, so memory does not grow with the number of rows
// (except for an 8-byte fingerprint per distinct recipient, to tell
// duplicates within the file from recipients started by an earlier run).
package launch

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/policy"
	"github.com/stopline/stopline/workflows"
)

// Starter starts one journey workflow; started is false when a workflow
// with that ID already exists (an earlier run, or a retry of this one).
type Starter interface {
	Start(ctx context.Context, workflowID string, in workflows.JourneyInput) (started bool, err error)
}

// Options describe one launch.
type Options struct {
	RunID       string
	Journey     *journey.Definition
	Region      string // default region for national-format numbers
	Keyer       phone.Keyer
	Concurrency int // parallel starts; default 16
	// Progress, if set, is called with the bytes of the CSV consumed so far.
	Progress func(bytesRead int64)
}

// RowError is a row that was skipped, with its 1-based line number.
type RowError struct {
	Line   int
	Reason string
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// Summary is the outcome of a launch.
type Summary struct {
	Rows           int        // data rows read
	Started        int        // journeys started now
	AlreadyStarted int        // journeys that existed (earlier run with this run ID)
	Duplicates     []RowError // rows repeating an earlier row's recipient
	Skipped        []RowError // rows not started: invalid number, missing attribute
	Failed         []RowError // rows whose start failed (Temporal error)
	// FooterSegment counts rows whose opt-out footer adds an SMS segment.
	FooterSegment int
}

// Run reads the audience CSV from r and starts one journey per distinct
// recipient. A bad row is reported and skipped, never fatal; a header
// without a needed column is fatal, since every row would fail.
func Run(ctx context.Context, r io.Reader, opts Options, s Starter) (*Summary, error) {
	if opts.RunID == "" {
		return nil, errors.New("run ID is required")
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	aud, err := ReadAudience(r, opts)
	if err != nil {
		return nil, err
	}

	sum := &Summary{}
	var mu sync.Mutex
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				started, err := s.Start(ctx, workflows.JourneyID(opts.RunID, j.in.RecipientKey), j.in)
				mu.Lock()
				switch {
				case err != nil:
					sum.Failed = append(sum.Failed, RowError{j.line, err.Error()})
				case started:
					sum.Started++
				default:
					sum.AlreadyStarted++
				}
				mu.Unlock()
			}
		}()
	}

	var readErr error
	for {
		row, err := aud.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		if ctx.Err() != nil {
			readErr = ctx.Err()
			break
		}
		mu.Lock()
		sum.Rows++
		mu.Unlock()
		if opts.Progress != nil {
			opts.Progress(aud.BytesRead())
		}
		if row.Skip != "" {
			mu.Lock()
			sum.Skipped = append(sum.Skipped, RowError{row.Line, row.Skip})
			mu.Unlock()
			continue
		}
		if opts.Journey.FooterAddsSegment(row.Input.Attributes) {
			mu.Lock()
			sum.FooterSegment++
			mu.Unlock()
		}
		if row.DuplicateOf > 0 {
			mu.Lock()
			sum.Duplicates = append(sum.Duplicates, RowError{row.Line, fmt.Sprintf("same recipient as line %d", row.DuplicateOf)})
			mu.Unlock()
			continue
		}
		select {
		case jobs <- job{line: row.Line, in: row.Input}:
		case <-ctx.Done():
			// Counted, or the summary's rows would not add up; a re-run
			// with the same run ID starts it.
			mu.Lock()
			sum.Failed = append(sum.Failed, RowError{row.Line, ctx.Err().Error()})
			mu.Unlock()
		}
	}
	close(jobs)
	wg.Wait()
	sortRows(sum.Skipped)
	sortRows(sum.Duplicates)
	sortRows(sum.Failed)
	return sum, readErr
}

// Row is one data row of an audience file, read as a start reads it.
type Row struct {
	Line int // 1-based line number
	// Input is the journey input of a valid row (Skip is ""), and Bodies
	// its rendered messages, as Definition.Render gives them.
	Input  workflows.JourneyInput
	Bodies []string
	// Skip says why the row is skipped: an invalid number, a missing
	// attribute, a wrong field count; "" for a valid row.
	Skip string
	// DuplicateOf is, for a valid row whose recipient an earlier row
	// already has, that row's line; 0 otherwise.
	DuplicateOf int
}

// Audience reads an audience CSV one row at a time: the one reading of
// the file that starts and previews share. Memory does not grow with the
// file, except for an 8-byte fingerprint per distinct recipient.
type Audience struct {
	opts    Options
	counter *countingReader
	cr      *csv.Reader
	fields  int
	cols    columnMap
	seen    map[uint64]int // recipient fingerprint -> first line
}

// ReadAudience reads the header of the audience CSV in r. A header without
// a needed column is an error, since every row would fail.
func ReadAudience(r io.Reader, opts Options) (*Audience, error) {
	counter := &countingReader{r: r}
	br := bufio.NewReader(counter)
	if r, _, err := br.ReadRune(); err == nil && r != '\ufeff' {
		_ = br.UnreadRune()
	}
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("line 1: reading header: %w", err)
	}
	cols, err := columns(header, opts.Journey.Attributes())
	if err != nil {
		return nil, fmt.Errorf("line 1: %w", err)
	}
	return &Audience{opts: opts, counter: counter, cr: cr, fields: len(header), cols: cols, seen: map[uint64]int{}}, nil
}

// BytesRead is how much of the file has been consumed so far.
func (a *Audience) BytesRead() int64 { return a.counter.n }

// Next returns the next data row, or io.EOF after the last. Any other
// error is fatal: a broken quote can swallow the rest of the file.
func (a *Audience) Next() (Row, error) {
	rec, err := a.cr.Read()
	if err != nil {
		var pe *csv.ParseError
		switch {
		case errors.Is(err, io.EOF):
			return Row{}, err
		case !errors.As(err, &pe):
			return Row{}, fmt.Errorf("reading CSV: %w", err)
		case !errors.Is(pe.Err, csv.ErrFieldCount):
			return Row{}, fmt.Errorf("line %d: %w", pe.StartLine, pe.Err)
		}
		return Row{Line: pe.StartLine, Skip: fmt.Sprintf("has %d fields, header has %d", len(rec), a.fields)}, nil
	}
	line, _ := a.cr.FieldPos(0)
	in, bodies, reason := a.opts.row(rec, a.cols)
	if reason != "" {
		return Row{Line: line, Skip: reason}, nil
	}
	fp := fingerprint(in.RecipientKey)
	if first, dup := a.seen[fp]; dup {
		return Row{Line: line, Input: in, Bodies: bodies, DuplicateOf: first}, nil
	}
	a.seen[fp] = line
	return Row{Line: line, Input: in, Bodies: bodies}, nil
}

type job struct {
	line int
	in   workflows.JourneyInput
}

// stateColumn and postalCodeColumn are the optional audience columns
// saying where the recipient lives: a US state ("FL" or "Florida") and a
// ZIP Code ("33101"). Both are attributes too.
const (
	stateColumn      = "state"
	postalCodeColumn = "postal_code"
)

// residence returns the US state the recipient lives in, from the state
// column or the ZIP Code's prefix, whose rules the journey adds to those
// of the number's area code; "" if neither says. A value that is not a
// state or a ZIP Code, or a ZIP Code in another state than the state
// column's, skips the row (the reason names the column) rather than
// silently dropping a stricter rule. postal_code is read as a ZIP Code
// only for US numbers, so a French audience's postcodes stay attributes.
func residence(e164 string, attrs map[string]string) (state, reason string) {
	state, err := policy.ParseState(attrs[stateColumn])
	if err != nil {
		return "", stateColumn + ": " + err.Error()
	}
	zip := attrs[postalCodeColumn]
	if zip == "" || !policy.IsUS(e164) {
		return state, ""
	}
	zipState, err := policy.ZIPState(zip)
	switch {
	case err != nil:
		return "", postalCodeColumn + ": " + err.Error()
	case state == "":
		return zipState, ""
	case zipState != "" && zipState != state:
		return "", fmt.Sprintf("%s: ZIP Code %s is in %s, but %s says %s", postalCodeColumn, zip, zipState, stateColumn, state)
	}
	return state, ""
}

type columnMap struct {
	phone int
	attrs map[string]int // every column but phone, by header name
}

func columns(header []string, needed []string) (columnMap, error) {
	cm := columnMap{phone: -1, attrs: map[string]int{}}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) // Excel's BOM
		if h == "" {
			return cm, fmt.Errorf("column %d has no name", i+1)
		}
		if _, dup := cm.attrs[h]; dup || (h == "phone" && cm.phone >= 0) {
			return cm, fmt.Errorf("column %q appears twice", h)
		}
		if h == "phone" {
			cm.phone = i
			continue
		}
		cm.attrs[h] = i
	}
	if cm.phone < 0 {
		return cm, errors.New(`no "phone" column`)
	}
	var missing []string
	for _, n := range needed {
		if _, ok := cm.attrs[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return cm, fmt.Errorf("the journey uses attributes with no column: %s", strings.Join(missing, ", "))
	}
	return cm, nil
}

// row builds the journey input of one CSV record and renders its bodies,
// or says why it can't.
func (o Options) row(rec []string, cols columnMap) (workflows.JourneyInput, []string, string) {
	e164, err := phone.Normalize(strings.TrimSpace(rec[cols.phone]), o.Region)
	if err != nil {
		return workflows.JourneyInput{}, nil, "phone: " + err.Error()
	}
	// An empty cell counts as missing: a blank must not reach an SMS.
	attrs := make(map[string]string, len(cols.attrs))
	for name, i := range cols.attrs {
		if v := strings.TrimSpace(rec[i]); v != "" {
			attrs[name] = v
		}
	}
	// Render now so a missing or empty attribute is reported here, at start
	// time, and never becomes a blank in an SMS.
	bodies, err := o.Journey.Render(attrs)
	if err != nil {
		return workflows.JourneyInput{}, nil, err.Error()
	}
	state, reason := residence(e164, attrs)
	if reason != "" {
		return workflows.JourneyInput{}, nil, reason
	}
	return workflows.JourneyInput{
		RunID: o.RunID, Journey: *o.Journey, Phone: e164, Region: o.Region,
		RecipientKey: o.Keyer.Key(e164), Attributes: attrs, State: state,
	}, bodies, ""
}

func fingerprint(key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return binary.BigEndian.Uint64(h.Sum(nil))
}

func sortRows(rows []RowError) {
	sort.Slice(rows, func(i, j int) bool { return rows[i].Line < rows[j].Line })
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
