package launch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// fakeStarter is an in-memory Temporal: a workflow ID starts once.
type fakeStarter struct {
	mu      sync.Mutex
	started map[string]workflows.JourneyInput
	calls   int
	fail    func(in workflows.JourneyInput) error // optional
}

func newStarter() *fakeStarter {
	return &fakeStarter{started: map[string]workflows.JourneyInput{}}
}

func (f *fakeStarter) Start(_ context.Context, id string, in workflows.JourneyInput) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail != nil {
		if err := f.fail(in); err != nil {
			return false, err
		}
	}
	if _, ok := f.started[id]; ok {
		return false, nil
	}
	f.started[id] = in
	return true, nil
}

func def() *journey.Definition {
	return &journey.Definition{
		Name:     "welcome",
		Category: contract.CategoryMarketing,
		Sender:   journey.Sender{Provider: contract.ProviderTwilio, From: "+14155550100", Type: contract.SenderLongCode},
		Steps:    []journey.Step{{SMS: "Hi {{.first_name}}, use {{.code}}. Reply STOP to opt out."}},
	}
}

func options(t testing.TB, runID string) launch.Options {
	return launch.Options{RunID: runID, Journey: def(), Region: "US", Keyer: testkit.DevKeyer(), Concurrency: 4}
}

// rowErr is a RowError with only the part of the reason a test pins.
type rowErr struct {
	line   int
	reason string // substring
}

func checkRows(t *testing.T, what string, got []launch.RowError, want []rowErr) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %v, want %d rows: %v", what, got, len(want), want)
		return
	}
	for i := range want {
		if got[i].Line != want[i].line || !strings.Contains(got[i].Reason, want[i].reason) {
			t.Errorf("%s[%d] = %v, want line %d with %q", what, i, got[i], want[i].line, want[i].reason)
		}
	}
}

func TestRunReportsBadRows(t *testing.T) {
	tests := []struct {
		name    string
		csv     string
		rows    int
		started int
		skipped []rowErr
	}{
		{
			name: "bad rows are skipped with their lines",
			csv: "phone,first_name,code\n" + // 1
				"+14155550123,Ada,A1\n" + // 2
				"not-a-phone,Bob,B2\n" + // 3
				"+14155550124,,C3\n" + // 4: empty cell
				"+14155550125,Dan\n" + // 5: too few fields
				"+14155550126,Eve,E5,extra\n" + // 6: too many fields
				"\n" + // 7: blank lines are not rows
				"+14155550127,   ,F6\n" + // 8: blank cell
				"+1415555012,Gus,G7\n" + // 9: too short
				"+14155550128,Hal,H8\n", // 10
			rows:    8,
			started: 2,
			skipped: []rowErr{
				{3, "phone"},
				{4, `missing attribute "first_name"`},
				{5, "has 2 fields, header has 3"},
				{6, "has 4 fields, header has 3"},
				{8, `missing attribute "first_name"`},
				{9, "phone"},
			},
		},
		{
			// Line numbers count physical lines, so a multi-line cell moves
			// every later row down.
			name: "quoted fields with embedded newlines",
			csv: "phone,first_name,code\n" + // 1
				"+14155550123,\"Ada\nLovelace\",A1\n" + // 2-3
				"\"+14155550124\",\"Bob\",\"\"\n" + // 4: empty quoted cell
				"+14155550125,\"Multi\n\nline\",C3\n" + // 5-7
				"bad,\"x\ny\",Z\n" + // 8-9
				"+14155550126,Dan\n" + // 10
				"+14155550127,\"Eve, \"\"E\"\"\",E5\n", // 11
			rows:    6,
			started: 3,
			skipped: []rowErr{
				{4, `missing attribute "code"`},
				{8, "phone"},
				{10, "has 2 fields"},
			},
		},
		{
			name: "CRLF line endings and an Excel BOM",
			csv: "\ufeffphone,first_name,code\r\n" +
				"+14155550123,Ada,A1\r\n" +
				"+14155550124,Bob\r\n",
			rows:    2,
			started: 1,
			skipped: []rowErr{{3, "has 2 fields"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newStarter()
			sum, err := launch.Run(t.Context(), strings.NewReader(tc.csv), options(t, "run1"), st)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if sum.Rows != tc.rows || sum.Started != tc.started || sum.AlreadyStarted != 0 || len(st.started) != tc.started {
				t.Errorf("summary rows %d started %d already %d (starter has %d), want rows %d started %d",
					sum.Rows, sum.Started, sum.AlreadyStarted, len(st.started), tc.rows, tc.started)
			}
			checkRows(t, "Skipped", sum.Skipped, tc.skipped)
			checkRows(t, "Duplicates", sum.Duplicates, nil)
			checkRows(t, "Failed", sum.Failed, nil)
		})
	}
}

func TestRunStartsWhatTheRowSays(t *testing.T) {
	st := newStarter()
	csv := "phone, first_name ,code,plan\n(415) 555-0123, Ada ,A1,gold\n"
	if _, err := launch.Run(t.Context(), strings.NewReader(csv), options(t, "run1"), st); err != nil {
		t.Fatal(err)
	}
	k := testkit.DevKeyer().Key("+14155550123")
	in, ok := st.started[workflows.JourneyID("run1", k)]
	if !ok {
		t.Fatalf("started %v, want the recipient's journey ID", st.started)
	}
	if in.Phone != "+14155550123" || in.RecipientKey != k || in.RunID != "run1" || in.Journey.Name != "welcome" ||
		in.Attributes["first_name"] != "Ada" || in.Attributes["code"] != "A1" || in.Attributes["plan"] != "gold" {
		t.Errorf("input = %+v", in)
	}
	// The workflow ID carries the keyed hash, never the number.
	for id := range st.started {
		if strings.Contains(id, "4155550123") {
			t.Errorf("workflow ID %q contains the phone number", id)
		}
	}
}

// The state and postal_code columns become the journey's State, whose
// rules the workflow adds; a value that is neither skips the row, naming
// the column, and so does a ZIP Code in another state than the state
// column's. postal_code is a ZIP Code only for US numbers.
func TestRunResidenceColumns(t *testing.T) {
	tests := []struct {
		name    string
		csv     string
		want    map[string]string // phone -> State
		skipped []rowErr
	}{
		{"state", "phone,first_name,code,state\n" +
			"+12125550123,Ada,A1,FL\n" + // 2
			"+12125550124,Bob,B2, florida \n" + // 3
			"+12125550125,Cy,C3,\n" + // 4: empty, no state
			"+12125550126,Di,D4,Atlantis\n", // 5
			map[string]string{"+12125550123": "FL", "+12125550124": "FL", "+12125550125": ""},
			[]rowErr{{5, `state: "Atlantis" is not a US state`}}},
		{"postal_code", "phone,first_name,code,postal_code\n" +
			"+12125550123,Ada,A1,33101\n" + // 2: a New York number living in Miami
			"+12125550124,Bob,B2,73301-0001\n" + // 3: ZIP+4, Austin
			"+12125550125,Cy,C3,\n" + // 4: empty
			"+12125550126,Di,D4,3310\n" + // 5
			"+12125550127,Ed,E5,00601\n" + // 6: Puerto Rico: no state rule
			"+33612345678,Flo,F6,75001\n" + // 7: a Paris postcode on a French number stays an attribute
			"+12125550128,Gus,G7,69401\n", // 8: unassigned prefix
			map[string]string{"+12125550123": "FL", "+12125550124": "TX", "+12125550125": "", "+12125550127": "",
				"+33612345678": ""},
			[]rowErr{{5, `postal_code: "3310" is not a US ZIP Code`}, {8, `postal_code: ZIP Code 69401: the prefix 694 is not assigned`}}},
		{"both", "phone,first_name,code,state,postal_code\n" +
			"+12125550123,Ada,A1,FL,33101\n" + // 2: agree
			"+12125550124,Bob,B2,,33101\n" + // 3: the ZIP Code alone
			"+12125550125,Cy,C3,NY,33101\n" + // 4: disagree
			"+12125550126,Di,D4,TX,00601\n", // 5: a territory ZIP Code adds nothing to the state
			map[string]string{"+12125550123": "FL", "+12125550124": "FL", "+12125550126": "TX"},
			[]rowErr{{4, "postal_code: ZIP Code 33101 is in FL, but state says NY"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStarter()
			sum, err := launch.Run(t.Context(), strings.NewReader(tt.csv), options(t, "run1"), st)
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, "Skipped", sum.Skipped, tt.skipped)
			for phone, want := range tt.want {
				in, ok := st.started[workflows.JourneyID("run1", testkit.DevKeyer().Key(phone))]
				if !ok || in.State != want {
					t.Errorf("%s: started %v, State %q; want %q", phone, ok, in.State, want)
				}
			}
			if len(st.started) != len(tt.want) {
				t.Errorf("started %d journeys; want %d", len(st.started), len(tt.want))
			}
		})
	}
}

func TestRunDuplicatesAndReruns(t *testing.T) {
	csv := "phone,first_name,code\n" +
		"+14155550123,Ada,A1\n" + // 2
		"(415) 555-0123,Ada,A1\n" + // 3: same number, national format
		"+1 415 555 0123,Ada,A1\n" + // 4: same, spaced
		"+14155550124,Bob,B2\n" + // 5
		"415.555.0124,Bob,B2\n" // 6
	wantDups := []rowErr{
		{3, "same recipient as line 2"},
		{4, "same recipient as line 2"},
		{6, "same recipient as line 5"},
	}
	st := newStarter()

	first, err := launch.Run(t.Context(), strings.NewReader(csv), options(t, "run1"), st)
	if err != nil {
		t.Fatal(err)
	}
	if first.Rows != 5 || first.Started != 2 || first.AlreadyStarted != 0 || st.calls != 2 {
		t.Errorf("first run: %+v with %d starts, want 5 rows, 2 started", first, st.calls)
	}
	checkRows(t, "Duplicates", first.Duplicates, wantDups)
	// The first row of a recipient is the one started.
	if in := st.started[workflows.JourneyID("run1", testkit.DevKeyer().Key("+14155550123"))]; in.Attributes["code"] != "A1" {
		t.Errorf("started input = %+v", in)
	}

	// A re-run of the same run ID (the starter crashed, say) starts nothing new.
	again, err := launch.Run(t.Context(), strings.NewReader(csv), options(t, "run1"), st)
	if err != nil {
		t.Fatal(err)
	}
	if again.Started != 0 || again.AlreadyStarted != 2 || len(st.started) != 2 {
		t.Errorf("re-run: started %d, already %d (starter has %d), want 0 and 2", again.Started, again.AlreadyStarted, len(st.started))
	}
	checkRows(t, "re-run Duplicates", again.Duplicates, wantDups)

	// A new run ID is a new launch.
	next, err := launch.Run(t.Context(), strings.NewReader(csv), options(t, "run2"), st)
	if err != nil {
		t.Fatal(err)
	}
	if next.Started != 2 || len(st.started) != 4 {
		t.Errorf("run2: started %d (starter has %d), want 2 more", next.Started, len(st.started))
	}
}

func TestRunStartFailuresAreReported(t *testing.T) {
	st := newStarter()
	bad := testkit.DevKeyer().Key("+14155550124")
	st.fail = func(in workflows.JourneyInput) error {
		if in.RecipientKey == bad {
			return errors.New("temporal: unavailable")
		}
		return nil
	}
	csv := "phone,first_name,code\n+14155550123,Ada,A1\n+14155550124,Bob,B2\n+14155550125,Cy,C3\n"
	sum, err := launch.Run(t.Context(), strings.NewReader(csv), options(t, "run1"), st)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Started != 2 {
		t.Errorf("started %d, want 2", sum.Started)
	}
	checkRows(t, "Failed", sum.Failed, []rowErr{{3, "temporal: unavailable"}})
}

func TestRunFatalHeaderErrors(t *testing.T) {
	tests := []struct {
		name    string
		csv     string
		wantErr []string
	}{
		{"no phone column", "mobile,first_name,code\n+14155550123,Ada,A1\n", []string{"line 1", `"phone"`}},
		{"missing template attribute", "phone,first_name\n+14155550123,Ada\n", []string{"line 1", "code"}},
		{"two missing attributes", "phone\n+14155550123\n", []string{"code, first_name"}},
		{"duplicate column", "phone,code,first_name,code\n", []string{`"code" appears twice`}},
		{"unnamed column", "phone,,code,first_name\n", []string{"column 2 has no name"}},
		{"empty file", "", []string{"line 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newStarter()
			sum, err := launch.Run(t.Context(), strings.NewReader(tc.csv), options(t, "run1"), st)
			if err == nil {
				t.Fatalf("Run succeeded with %+v, want a fatal error", sum)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
			if st.calls != 0 {
				t.Errorf("%d journeys started despite a bad header", st.calls)
			}
		})
	}
	if _, err := launch.Run(t.Context(), strings.NewReader("phone\n"), launch.Options{Journey: def(), Keyer: testkit.DevKeyer()}, newStarter()); err == nil {
		t.Error("Run without a run ID succeeded")
	}
}

// runSafely turns a panic in Run into a test failure, so one bug does not
// take the other tests of the package down with it.
func runSafely(t *testing.T, csv string, st launch.Starter) (sum *launch.Summary, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("Run panicked: %v", p)
		}
	}()
	return launch.Run(t.Context(), strings.NewReader(csv), options(t, "run1"), st)
}

// A stray quote may be fatal (the reader cannot tell where the row ends),
// but it must be reported with its line, wherever it sits in the row.
func TestRunBrokenQuotesNameTheLine(t *testing.T) {
	tests := []struct {
		name string
		csv  string
		want string
	}{
		{"bare quote in a later field", "phone,first_name,code\n+14155550123,Ada,A1\n+14155550124,B\"ob,B2\n", "line 3"},
		{"unterminated quoted field", "phone,first_name,code\n+14155550123,Ada,A1\n+14155550124,\"Bob,B2\n", "line 3"},
		// The reader records no field position for a row whose first field
		// is broken; Run calls cr.FieldPos(0) before looking at the error.
		{"bare quote in the first field", "phone,first_name,code\n+14155550123,Ada,A1\n+1415\"5550124,Bob,B2\n", "line 3"},
		{"quote after a quoted first field", "phone,first_name,code\n+14155550123,Ada,A1\n\"+14155550124\"x,Bob,B2\n", "line 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runSafely(t, tc.csv, newStarter())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

// Excel's "CSV UTF-8" and Windows PowerShell's Export-Csv write a BOM, and
// the latter quotes every field: the BOM then sits before a quote.
func TestRunBOMBeforeQuotedHeader(t *testing.T) {
	csv := "\ufeff\"phone\",\"first_name\",\"code\"\r\n\"+14155550123\",\"Ada\",\"A1\"\r\n"
	st := newStarter()
	sum, err := runSafely(t, csv, st)
	if err != nil {
		t.Fatalf("Run: %v (the BOM is only trimmed from the parsed header name, after encoding/csv has "+
			"already refused the quote that follows it)", err)
	}
	if sum.Started != 1 {
		t.Errorf("started %d, want 1", sum.Started)
	}
}

// failingReader yields data, then fails on every read for a while (a
// network file system, a cut-off download), then reports EOF so that a
// Run that does not stop on the error still ends.
type failingReader struct {
	data  io.Reader
	fails int
	err   error
}

func (r *failingReader) Read(p []byte) (int, error) {
	n, err := r.data.Read(p)
	if err != io.EOF {
		return n, err
	}
	if r.fails > 0 {
		r.fails--
		return 0, r.err
	}
	return 0, io.EOF
}

func TestRunStopsOnReadError(t *testing.T) {
	ioErr := errors.New("read /mnt/audience.csv: input/output error")
	r := &failingReader{
		data:  strings.NewReader("phone,first_name,code\n+14155550123,Ada,A1\n"),
		fails: 50,
		err:   ioErr,
	}
	st := newStarter()
	var (
		sum *launch.Summary
		err error
	)
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("Run panicked: %v", p)
			}
		}()
		sum, err = launch.Run(t.Context(), r, options(t, "run1"), st)
	}()
	if !errors.Is(err, ioErr) {
		t.Errorf("err = %v, want the read error", err)
	}
	if sum != nil && len(sum.Skipped) != 0 {
		t.Errorf("read errors reported as %d skipped rows, e.g. %v; a read error is not a bad row",
			len(sum.Skipped), sum.Skipped[0])
	}
}

func TestRunHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	st := &blockingStarter{cancel: cancel}
	// Enough rows that the reader is still going when the first start
	// cancels the launch.
	csv := "phone,first_name,code\n"
	for i := range 100 {
		csv += fmt.Sprintf("+1415%07d,N,C\n", 2000000+i)
	}
	type result struct {
		sum *launch.Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := launch.Run(ctx, strings.NewReader(csv), launch.Options{RunID: "r", Journey: def(), Region: "US", Keyer: testkit.DevKeyer(), Concurrency: 1}, st)
		done <- result{sum, err}
	}()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", r.err)
		}
		// Every row read is accounted for, including one that was being
		// handed to a start worker when the launch was cancelled.
		s := r.sum
		if accounted := s.Started + s.AlreadyStarted + len(s.Duplicates) + len(s.Skipped) + len(s.Failed); accounted != s.Rows {
			t.Errorf("%d rows read, %d accounted for: %+v", s.Rows, accounted, s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
}

// blockingStarter cancels the launch on its first start.
type blockingStarter struct {
	once   sync.Once
	cancel context.CancelFunc
}

func (b *blockingStarter) Start(ctx context.Context, _ string, _ workflows.JourneyInput) (bool, error) {
	b.once.Do(b.cancel)
	// Stay busy a moment, so the reader, holding the next row, sees the
	// cancellation rather than a free worker.
	time.Sleep(50 * time.Millisecond)
	return false, ctx.Err()
}

// audience generates a large CSV on the fly: every 1000th row has an invalid
// number and every 500th (offset 250) repeats the previous row's number in
// national format.
type audience struct {
	rows, next int
	buf        []byte
}

func (a *audience) Read(p []byte) (int, error) {
	for len(a.buf) < len(p) && a.next <= a.rows {
		if a.next == 0 {
			a.buf = append(a.buf, "phone,first_name,code\n"...)
		} else {
			a.buf = append(a.buf, a.row(a.next-1)...)
		}
		a.next++
	}
	if len(a.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, a.buf)
	a.buf = a.buf[n:]
	return n, nil
}

func (a *audience) row(i int) string {
	switch {
	case i%1000 == 999:
		return fmt.Sprintf("invalid-%d,Name%d,C%d\n", i, i, i)
	case i%500 == 250:
		// Same subscriber as row i-1 (exchange 200-219 in area code 415).
		n := 2000000 + i - 1
		return fmt.Sprintf("(415) %03d-%04d,Name%d,C%d\n", n/10000, n%10000, i, i)
	default:
		return fmt.Sprintf("+1415%07d,Name%d,C%d\n", 2000000+i, i, i)
	}
}

type noopStarter struct{}

func (noopStarter) Start(context.Context, string, workflows.JourneyInput) (bool, error) {
	return true, nil
}

func TestRunLargeAudience(t *testing.T) {
	// 200k rows take seconds; the race detector and -short get a smaller
	// audience that still exercises streaming, dedup and the worker pool.
	rows := 200_000
	if raceEnabled || testing.Short() {
		rows = 5_000
	}
	var invalid, dups int
	for i := range rows {
		switch {
		case i%1000 == 999:
			invalid++
		case i%500 == 250:
			dups++
		}
	}
	var (
		lastProgress int64
		progressOK   = true
	)
	opts := options(t, "big")
	opts.Concurrency = 8
	opts.Progress = func(n int64) {
		if n < lastProgress {
			progressOK = false
		}
		lastProgress = n
	}
	start := time.Now()
	sum, err := launch.Run(t.Context(), &audience{rows: rows}, opts, noopStarter{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rows in %v", rows, time.Since(start))
	if sum.Rows != rows || sum.Started != rows-invalid-dups || len(sum.Skipped) != invalid || len(sum.Duplicates) != dups || len(sum.Failed) != 0 {
		t.Errorf("summary rows %d started %d skipped %d duplicates %d failed %d; want %d, %d, %d, %d, 0",
			sum.Rows, sum.Started, len(sum.Skipped), len(sum.Duplicates), len(sum.Failed), rows, rows-invalid-dups, invalid, dups)
	}
	// Row i sits on line i+2; spot-check the first of each kind.
	if len(sum.Skipped) > 0 && sum.Skipped[0].Line != 999+2 {
		t.Errorf("first skipped row at line %d, want %d", sum.Skipped[0].Line, 999+2)
	}
	if len(sum.Duplicates) > 0 && (sum.Duplicates[0].Line != 250+2 || sum.Duplicates[0].Reason != "same recipient as line 251") {
		t.Errorf("first duplicate = %v, want line 252 repeating line 251", sum.Duplicates[0])
	}
	if !progressOK || lastProgress == 0 {
		t.Errorf("progress went backwards or was never reported (last %d)", lastProgress)
	}
}

// Rows whose opt-out footer costs an extra segment are counted for the
// starter's warning; rows whose body has instructions already are not.
func TestRunCountsFooterSegments(t *testing.T) {
	opts := options(t, "footer")
	opts.Journey.Steps = []journey.Step{{SMS: "{{.text}}"}}
	long := strings.Repeat("a", 150)
	csv := "phone,text\n+14155550101," + long + "\n+14155550102,short\n+14155550103," + long + "\n"
	sum, err := launch.Run(context.Background(), strings.NewReader(csv), opts, newStarter())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Started != 3 || sum.FooterSegment != 2 {
		t.Fatalf("started %d, footer-segment rows %d; want 3, 2", sum.Started, sum.FooterSegment)
	}
}
