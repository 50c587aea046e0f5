package main

// Scenario "counts": the work stopline asks of Temporal and Postgres, per
// journey, per STOP, per inbound message and per start, beside the same
// work done bare. Counted from real runs, not from the code: history events
// (by type) from the histories the server stored, visibility writes read
// from them (start, search-attribute upserts, close), and Postgres round
// trips from a pgx QueryTracer on the app's pools. Counts do not depend on
// the machine's load, so they compare runs on a busy machine.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/webhook"
	"github.com/stopline/stopline/workflows"
)

var countsQueue, countsBaselineQueue = queues("counts")

// countsPer is how many units each count is averaged over.
const countsPer = 10

// countsRow is one unit of work: stopline's counts beside the baseline's.
type countsRow struct {
	unit    string
	s, b    workCount
	base    string // what the baseline is
	byStmt  map[string]float64
	byEvent map[string]float64
}

// workCount is the work per unit.
type workCount struct {
	events, visibility, wfTasks, activities, roundTrips float64
	hasHistory                                          bool
}

func runCounts(ctx context.Context, cfg *config) (row, error) {
	pc := newPGCounter()
	st, err := startApp(ctx, cfg, "counts", func(c *app.Config) {
		c.TaskQueue = countsQueue
		c.DBTracer = pc
		stack.Webhooks(c)
	})
	if err != nil {
		return row{}, err
	}
	defer st.Close()
	tc, a := st.Temporal.Client, st.App
	stopBaselines, err := startBaselines(st.Temporal, countsBaselineQueue)
	if err != nil {
		return row{}, err
	}
	defer stopBaselines()
	// The bare intake handler, its pool traced as the app's are.
	bpc := newPGCounter()
	bdb, err := store.OpenTraced(ctx, st.Config.DatabaseURL, 0, bpc)
	if err != nil {
		return row{}, err
	}
	defer bdb.Close()
	baselineURL, stopBaseline, err := serveBaseline(ctx, bdb.Pool())
	if err != nil {
		return row{}, err
	}
	defer stopBaseline()

	k, n, per := 3, countsPer, cfg.scalePer
	hc := newHTTPClient(1)
	stoplineURL := "http://" + a.HTTPAddr() + webhook.PathTwilio
	starter := launch.TemporalStarter{Client: tc, TaskQueue: countsQueue}
	settle := func() error { return settleCounts(ctx, st, pc) }
	var rows []countsRow

	// A journey of k SMS steps, and its start.
	def := smsJourney(k)
	if err := settle(); err != nil {
		return row{}, err
	}
	before := pc.snapshot()
	var ids []string
	for i := range n {
		e164 := number(i)
		in := workflows.JourneyInput{RunID: "c", Journey: *def, Phone: e164, Region: "US",
			RecipientKey: a.Keyer.Key(e164), Attributes: map[string]string{"first_name": "Ada"}}
		id := workflows.JourneyID("c", in.RecipientKey)
		if _, err := starter.Start(ctx, id, in); err != nil {
			return row{}, err
		}
		ids = append(ids, id)
	}
	if err := waitAll(ctx, tc, ids); err != nil {
		return row{}, err
	}
	if err := settle(); err != nil {
		return row{}, err
	}
	journeyRT := pc.since(before)
	var bids []string
	for i := range n {
		id := fmt.Sprintf("bench-counts-activities/%d", i)
		if _, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: countsBaselineQueue}, "BenchActivities", k); err != nil {
			return row{}, err
		}
		bids = append(bids, id)
	}
	if err := waitAll(ctx, tc, bids); err != nil {
		return row{}, err
	}
	sh, err := histories(ctx, tc, ids, nil)
	if err != nil {
		return row{}, err
	}
	bh, err := histories(ctx, tc, bids, nil)
	if err != nil {
		return row{}, err
	}
	jr := countsRow{unit: fmt.Sprintf("journey, %d SMS, no waits", k), s: sh.per(n), b: bh.per(n),
		base: fmt.Sprintf("workflow of %d no-op activities", k), byEvent: sh.byType(n)}
	jr.s.roundTrips, jr.byStmt = journeyRT.per(n)
	rows = append(rows, jr)
	ss, err := histories(ctx, tc, ids, startEvents)
	if err != nil {
		return row{}, err
	}
	bs, err := histories(ctx, tc, bids, startEvents)
	if err != nil {
		return row{}, err
	}
	rows = append(rows, countsRow{unit: "start (the server's part; 1 RPC each side)", s: ss.per(n), b: bs.per(n),
		base: "StartWorkflow without search attributes", byEvent: ss.byType(n)})

	// Inbound messages: plain text, HELP, STOP (with per journeys waiting).
	inbound := func(name, text string, keyword bool, from func(int) string, ids func(int) []string) error {
		if err := settle(); err != nil {
			return err
		}
		before := pc.snapshot()
		var optOuts []string
		for i := range n {
			if err := post(ctx, hc, stoplineURL, signedInbound(fmt.Sprintf("SMcount%s%026d", name, i), from(i), text)); err != nil {
				return err
			}
			optOuts = append(optOuts, workflows.RecipientID(a.Keyer.Key(from(i))))
		}
		var closed []string
		if ids != nil {
			for i := range n {
				closed = append(closed, ids(i)...)
			}
			if err := waitAll(ctx, tc, closed); err != nil {
				return err
			}
		}
		if err := settle(); err != nil {
			return err
		}
		rt, byStmt := pc.since(before).per(n)
		r := countsRow{unit: "inbound " + name, byStmt: byStmt}
		r.s.roundTrips = rt
		if !keyword {
			rows = append(rows, r) // no workflow runs for it
			return nil
		}
		oh, err := histories(ctx, tc, optOuts, nil)
		if err != nil {
			return err
		}
		jh, err := histories(ctx, tc, closed, fromSignal)
		if err != nil {
			return err
		}
		r.s = oh.add(jh).per(n)
		r.s.roundTrips = rt
		r.byEvent = oh.add(jh).byType(n)
		rows = append(rows, r)
		return nil
	}
	if err := inbound("plain text", "Thanks, see you on Saturday", false, func(i int) string { return number(100_000 + i) }, nil); err != nil {
		return row{}, err
	}
	if err := inbound("HELP", "HELP", true, func(i int) string { return number(200_000 + i) }, nil); err != nil {
		return row{}, err
	}
	// STOP: each recipient has per journeys waiting on a timer.
	stopFrom := func(i int) string { return number(300_000 + i) }
	stopIDs := func(i int) []string {
		out := make([]string, per)
		for j := range out {
			out[j] = workflows.JourneyID(fmt.Sprintf("w%d", j), a.Keyer.Key(stopFrom(i)))
		}
		return out
	}
	wdef := waitingJourney()
	for i := range n {
		for j, id := range stopIDs(i) {
			in := workflows.JourneyInput{RunID: fmt.Sprintf("w%d", j), Journey: *wdef, Phone: stopFrom(i), Region: "US",
				RecipientKey: a.Keyer.Key(stopFrom(i)), Attributes: map[string]string{"first_name": "Ada", "code": "C1"}}
			if _, err := starter.Start(ctx, id, in); err != nil {
				return row{}, err
			}
		}
	}
	if err := waitRegistered(ctx, st.App.Store.Pool(), n*per); err != nil {
		return row{}, err
	}
	time.Sleep(2 * time.Second) // their first workflow tasks complete
	if err := inbound(fmt.Sprintf("STOP, %d journeys waiting", per), "STOP", true, stopFrom, stopIDs); err != nil {
		return row{}, err
	}

	// Baselines of the inbound rows: the bare handler's round trips; of
	// the STOP: per waiting bare workflows each signalled "cancel".
	before = bpc.snapshot()
	for i := range n {
		if err := post(ctx, hc, baselineURL, signedInbound(fmt.Sprintf("SMcountbase%026d", i), number(400_000+i), "STOP")); err != nil {
			return row{}, err
		}
	}
	bareRT, _ := bpc.since(before).per(n)
	var waiters []string
	for i := range n * per {
		id := fmt.Sprintf("bench-counts-waiter/%d", i)
		if _, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: countsBaselineQueue}, "BenchCancelWaiter"); err != nil {
			return row{}, err
		}
		waiters = append(waiters, id)
	}
	time.Sleep(2 * time.Second)
	if err := parallel(len(waiters), 16, func(i int) error { return tc.SignalWorkflow(ctx, waiters[i], "", "cancel", nil) }); err != nil {
		return row{}, err
	}
	if err := waitAll(ctx, tc, waiters); err != nil {
		return row{}, err
	}
	wh, err := histories(ctx, tc, waiters, fromSignal)
	if err != nil {
		return row{}, err
	}
	for i := range rows {
		if strings.HasPrefix(rows[i].unit, "inbound") {
			rows[i].b = workCount{roundTrips: bareRT}
			rows[i].base = "bare handler, one INSERT"
		}
		if strings.HasPrefix(rows[i].unit, "inbound STOP") {
			rows[i].b = wh.per(n)
			rows[i].b.roundTrips = bareRT
			rows[i].base = fmt.Sprintf("bare handler, one INSERT; %d waiting workflows signalled, closed", per)
		}
	}
	printCounts(os.Stdout, rows)
	return row{notes: fmt.Sprintf("counts table above; each figure is the mean over %d units", n)}, nil
}

// parallel calls f for 0..n-1, limit at a time; a failed call does not
// stop the others.
func parallel(n, limit int, f func(int) error) error {
	var g errgroup.Group
	g.SetLimit(limit)
	var mu sync.Mutex
	var errs []error
	for i := range n {
		g.Go(func() error {
			if err := f(i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

// waitAll waits for the workflows to close.
func waitAll(ctx context.Context, c client.Client, ids []string) error {
	return parallel(len(ids), 32, func(i int) error { return c.GetWorkflow(ctx, ids[i], "").Get(ctx, nil) })
}

// settleCounts waits until the app's asynchronous work is done: no signal
// pending, no replies in flight, and no statement for a second and a half.
// If it never is, the error names what kept running.
func settleCounts(ctx context.Context, st *stack.Stack, pc *pgCounter) error {
	const quiet = 1500 * time.Millisecond
	last, since := pc.snapshot(), time.Now()
	var busy pgCounts // the statements of the last change
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		pending, err := st.App.Store.PendingSignalCount(ctx)
		if err != nil {
			return err
		}
		if d := pc.since(last); len(d) > 0 {
			busy, last, since = d, pc.snapshot(), time.Now()
		}
		if pending == 0 && time.Since(since) > quiet {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("counts: settling (%d signals pending; last statements %v): %w", pending, busy, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("counts: the app did not settle in 2 minutes; last statements %v", busy)
}

// eventFilter picks the events of a history that count: keep returns
// whether e, the i-th event, counts.
type eventFilter func(i int, e *history.HistoryEvent, seen *bool) bool

// startEvents are the events a start writes: those before the first
// workflow task starts.
func startEvents(_ int, e *history.HistoryEvent, seen *bool) bool {
	if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED {
		*seen = true
	}
	return !*seen
}

// fromSignal counts from the first signal on: what ending a waiting
// workflow costs.
func fromSignal(_ int, e *history.HistoryEvent, seen *bool) bool {
	if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED {
		*seen = true
	}
	return *seen
}

// historyCount sums events over many histories.
type historyCount map[enumspb.EventType]int

func histories(ctx context.Context, c client.Client, ids []string, keep eventFilter) (historyCount, error) {
	var mu sync.Mutex
	hc := historyCount{}
	err := parallel(len(ids), 16, func(i int) error {
		it := c.GetWorkflowHistory(ctx, ids[i], "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		seen := false
		for j := 0; it.HasNext(); j++ {
			e, err := it.Next()
			if err != nil {
				return err
			}
			if keep != nil && !keep(j, e, &seen) {
				continue
			}
			mu.Lock()
			hc[e.GetEventType()]++
			mu.Unlock()
		}
		return nil
	})
	return hc, err
}

func (h historyCount) add(o historyCount) historyCount {
	out := maps.Clone(h)
	for t, n := range o {
		out[t] += n
	}
	return out
}

// visibilityEvents are the events that make the server write the
// workflow's visibility record.
var visibilityEvents = []enumspb.EventType{
	enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
	enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
	enumspb.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
	enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
	enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
	enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
	enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
	enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
	enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}

func (h historyCount) per(n int) workCount {
	w := workCount{hasHistory: true}
	for t, c := range h {
		w.events += float64(c)
		if slices.Contains(visibilityEvents, t) {
			w.visibility += float64(c)
		}
	}
	w.wfTasks = float64(h[enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED])
	w.activities = float64(h[enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED])
	d := float64(n)
	w.events, w.visibility, w.wfTasks, w.activities = w.events/d, w.visibility/d, w.wfTasks/d, w.activities/d
	return w
}

func (h historyCount) byType(n int) map[string]float64 {
	out := map[string]float64{}
	for t, c := range h {
		out[strings.TrimPrefix(t.String(), "EVENT_TYPE_")] = float64(c) / float64(n)
	}
	return out
}

func printCounts(w io.Writer, rows []countsRow) {
	fmt.Fprintln(w, "Work per unit, stopline / baseline (history events, visibility writes, workflow tasks, activity tasks, Postgres round trips):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "unit\tevents\tvisibility\tWF tasks\tactivities\tPG round trips\tbaseline")
	f := func(s, b float64, has bool) string {
		if !has {
			return "-"
		}
		return fmt.Sprintf("%.1f / %.1f", s, b)
	}
	for _, r := range rows {
		has := r.s.hasHistory || r.b.hasHistory
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.unit, f(r.s.events, r.b.events, has), f(r.s.visibility, r.b.visibility, has),
			f(r.s.wfTasks, r.b.wfTasks, has), f(r.s.activities, r.b.activities, has), f(r.s.roundTrips, r.b.roundTrips, true), r.base)
	}
	_ = tw.Flush()
	for _, r := range rows {
		fmt.Fprintf(w, "\n%s:\n", r.unit)
		if len(r.byEvent) > 0 {
			fmt.Fprintf(w, "  events: %s\n", perUnit(r.byEvent))
		}
		fmt.Fprintf(w, "  round trips: %s\n", perUnit(r.byStmt))
	}
	fmt.Fprintln(w)
}

// perUnit formats counts per unit, largest first.
func perUnit(m map[string]float64) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			if m[a] > m[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%.1f %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

// pgCounter is a pgx QueryTracer that counts round trips by statement. It
// leaves out what runs whatever the load: worker heartbeats and the
// re-driver's idle sweeps (a transaction that found no pending signal).
type pgCounter struct {
	mu     sync.Mutex
	tx     map[*pgx.Conn][]string // statements of a transaction in progress
	idle   map[*pgx.Conn]bool     // that transaction is an idle sweep
	counts map[string]int
}

func newPGCounter() *pgCounter {
	return &pgCounter{tx: map[*pgx.Conn][]string{}, idle: map[*pgx.Conn]bool{}, counts: map[string]int{}}
}

type sqlKey struct{}

func (p *pgCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, sqlKey{}, d.SQL)
}

func (p *pgCounter) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, d pgx.TraceQueryEndData) {
	sql, _ := ctx.Value(sqlKey{}).(string)
	if strings.Contains(sql, "worker_heartbeats") || strings.HasPrefix(strings.TrimSpace(sql), "SELECT count(*)") {
		return // background, or the bench's own polling (settle, waitRegistered)
	}
	l := label(sql)
	p.mu.Lock()
	defer p.mu.Unlock()
	if l == "begin" {
		p.tx[conn] = []string{l}
		return
	}
	buf, inTx := p.tx[conn]
	if !inTx {
		p.counts[l]++
		return
	}
	buf = append(buf, l)
	if idleSweep(sql, d) {
		p.idle[conn] = true
	}
	if l != "commit" && l != "rollback" {
		p.tx[conn] = buf
		return
	}
	delete(p.tx, conn)
	if p.idle[conn] {
		delete(p.idle, conn)
		return
	}
	for _, s := range buf {
		p.counts[s]++
	}
}

// idleSweep reports whether a statement is the re-driver's read of pending
// signals and found none. It matches the words, not the exact text: the
// read's aliases changed once (m.signal_pending, m.id), no sweep was left
// out any more, and settle never saw the app quiet.
func idleSweep(sql string, d pgx.TraceQueryEndData) bool {
	s := strings.Join(strings.Fields(sql), " ")
	return strings.Contains(s, "signal_pending ORDER BY") && strings.Contains(s, "LIMIT") &&
		d.Err == nil && d.CommandTag.RowsAffected() == 0
}

// label shortens a statement to a readable key.
func label(sql string) string {
	s := strings.Join(strings.Fields(sql), " ")
	if len(s) > 70 {
		s = s[:70] + "…"
	}
	return s
}

// pgCounts is a snapshot of a pgCounter.
type pgCounts map[string]int

func (p *pgCounter) snapshot() pgCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}

func (p *pgCounter) since(before pgCounts) pgCounts {
	now := p.snapshot()
	for k, v := range before {
		now[k] -= v
		if now[k] == 0 {
			delete(now, k)
		}
	}
	return now
}

func (c pgCounts) total() float64 {
	t := 0
	for _, v := range c {
		t += v
	}
	return float64(t)
}

// per returns the round trips per unit, in all and by statement.
func (c pgCounts) per(n int) (float64, map[string]float64) {
	by := map[string]float64{}
	for k, v := range c {
		by[k] = float64(v) / float64(n)
	}
	return c.total() / float64(n), by
}
