package main

// Scenario "scale": M journeys waiting on a 1h timer, run by stopline
// worker processes against a server in a process of its own (site.go:
// embedded, both children of the bench, see child.go; or the official
// server and `worker` processes), so that each RSS is its own. Under that
// load, recipients text STOP through the signed webhook (to the workers in
// turn), and the time until the last of their journeys has closed is
// measured. Baseline, the same work bare: as many waiting workflows on
// the same server are each signalled "cancel" (16 at a time, as
// CancelJourneys does) and complete; the time from the first signal to the
// last completion. A single signal round trip (SignalWorkflow until a
// waiting workflow observes it) is shown in the notes too.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/internal/webhook"
	"github.com/stopline/stopline/workflows"
)

func runScale(ctx context.Context, cfg *config) (row, error) {
	s, err := childSite(ctx, cfg, "scale")
	if err != nil {
		return row{}, err
	}
	defer s.close()
	return scaleOn(ctx, cfg, s)
}

// scaleOn runs the scenario on a site whose stopline and server run in
// processes of their own. STOPs go to the site's workers in turn.
func scaleOn(ctx context.Context, cfg *config, s *site) (row, error) {
	m, recipients, per := cfg.scaleN, cfg.scaleRecipients, cfg.scalePer
	if recipients*per > m {
		return row{}, fmt.Errorf("scale: %d recipients × %d journeys is more than -scale-n %d", recipients, per, m)
	}
	tc := s.temporal.Client
	pool, err := pgxpool.New(ctx, s.dbURL)
	if err != nil {
		return row{}, err
	}
	defer pool.Close()

	workerIdle := procsStatus(s.workerPids, "VmRSS")
	serverIdle := procStatus(s.serverPid, "VmRSS")

	// The measured recipients' journeys (runs p0..p<per-1>), then
	// background journeys of other recipients up to m.
	keyer := s.keyer
	def := waitingJourney()
	starter := launch.TemporalStarter{Client: tc, TaskQueue: s.queue}
	stopNumber := func(r int) string { return number(5_000_000 + r) }
	measured := recipients * per
	logf("scale: starting %d journeys (%d recipients × %d measured)", m, recipients, per)
	began := time.Now()
	err = startAll(ctx, m, func(ctx context.Context, i int) error {
		run, e164 := "bg", number(i)
		if i < measured {
			run, e164 = fmt.Sprintf("p%d", i%per), stopNumber(i/per)
		}
		in := workflows.JourneyInput{RunID: run, Journey: *def, Phone: e164, Region: "US", RecipientKey: keyer.Key(e164),
			Attributes: map[string]string{"first_name": "Ada", "code": "C1"}}
		_, err := starter.Start(ctx, workflows.JourneyID(run, in.RecipientKey), in)
		return err
	})
	if err != nil {
		return row{}, err
	}
	startRate := rate(m, time.Since(began))
	if err := waitRegistered(ctx, pool, m); err != nil {
		return row{}, err
	}
	loadTime := time.Since(began)
	time.Sleep(2 * time.Second) // the last workflow tasks (timer start) complete
	workerRSS := procsStatus(s.workerPids, "VmRSS")
	serverRSS := procStatus(s.serverPid, "VmRSS")
	logf("scale: %d journeys waiting after %v; worker RSS %s, server RSS %s", m, loadTime.Round(time.Second), mib(workerRSS), mib(serverRSS))
	scrapes, err := timeScrapes(ctx, "http://"+s.webhooks[0]+"/metrics", 20)
	if err != nil {
		return row{}, err
	}

	// Baseline waiters, started before the measurements.
	waiter := func(r int) string { return fmt.Sprintf("bench-waiter/%d", r) }
	for r := range recipients {
		if _, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: waiter(r), TaskQueue: s.baselineQueue}, "BenchSignalWaiter"); err != nil {
			return row{}, err
		}
	}
	// Fair baseline: per recipient, per waiters ended by a signal each.
	cancelWaiter := func(r, j int) string { return fmt.Sprintf("bench-cancel-waiter/%d/%d", r, j) }
	err = startAll(ctx, recipients*per, func(ctx context.Context, i int) error {
		_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: cancelWaiter(i/per, i%per), TaskQueue: s.baselineQueue}, "BenchCancelWaiter")
		return err
	})
	if err != nil {
		return row{}, err
	}
	time.Sleep(time.Second)

	hc := newHTTPClient(1)
	var sLat, bLat, fLat, perJourney []time.Duration
	var paths []stopPath
	for r := range recipients {
		key := keyer.Key(stopNumber(r))
		ids := make([]string, per)
		for j := range ids {
			ids[j] = workflows.JourneyID(fmt.Sprintf("p%d", j), key)
		}
		t0 := time.Now()
		stopURL := "http://" + s.webhooks[r%len(s.webhooks)] + webhook.PathTwilio
		if err := post(ctx, hc, stopURL, signedInbound(fmt.Sprintf("SMstop%030d", r), stopNumber(r), "STOP")); err != nil {
			return row{}, err
		}
		answered := time.Since(t0)
		closed, err := closeTimes(ctx, tc, ids, stoppedJourney)
		if err != nil {
			return row{}, err
		}
		var last time.Duration
		for _, c := range closed {
			perJourney = append(perJourney, c.Sub(t0))
			last = max(last, c.Sub(t0))
		}
		sLat = append(sLat, last)
		p, err := optOutPath(ctx, tc, workflows.RecipientID(key), t0)
		if err != nil {
			return row{}, err
		}
		p.answered, p.closed = answered, last
		paths = append(paths, p)

		t0 = time.Now()
		if err := tc.SignalWorkflow(ctx, waiter(r), "", "go", nil); err != nil {
			return row{}, err
		}
		var observed time.Time
		if err := tc.GetWorkflow(ctx, waiter(r), "").Get(ctx, &observed); err != nil {
			return row{}, err
		}
		bLat = append(bLat, observed.Sub(t0))

		waiters := make([]string, per)
		for j := range waiters {
			waiters[j] = cancelWaiter(r, j)
		}
		t0 = time.Now()
		if err := parallel(per, 16, func(j int) error { return tc.SignalWorkflow(ctx, waiters[j], "", "cancel", nil) }); err != nil {
			return row{}, err
		}
		closed, err = closeTimes(ctx, tc, waiters, nil)
		if err != nil {
			return row{}, err
		}
		last = 0
		for _, c := range closed {
			last = max(last, c.Sub(t0))
		}
		fLat = append(fLat, last)
	}
	workerPeak := procsStatus(s.workerPids, "VmHWM")
	s50, f50 := percentile(sLat, 50), percentile(fLat, 50)
	s99, f99 := percentile(sLat, 99), percentile(fLat, 99)
	return row{
		stopline: ms(s99) + " p99",
		baseline: ms(f99) + " p99",
		ratio:    float64(f50) / float64(s50),
		goal:     "p50 ≥ 0.67 (≤ 1.5× the baseline), p99 ≤ 500 ms, worker RSS ≤ 1 GiB",
		p50:      pair(s50, f50),
		p99:      pair(s99, f99),
		rss: fmt.Sprintf("%s %s (idle %s, peak %s); server %s (idle %s, peak %s)", workersLabel(len(s.workerPids)),
			mib(workerRSS), mib(workerIdle), mib(workerPeak), mib(serverRSS), mib(serverIdle), mib(procStatus(s.serverPid, "VmHWM"))),
		notes: fmt.Sprintf("%d journeys waiting on a 1h timer (started at %.0f/s, all waiting after %v); STOP webhook → last of the recipient's %d journeys closed, %d recipients (per journey p99 %s); p50 path: %s; baseline: %d waiting bare workflows each signalled (16 at a time), first signal → last closed; ratio on p50; one signal → observed by the workflow p50 %s, p99 %s; GET /metrics with the journeys waiting: median %s, max %s (%d scrapes)",
			m, startRate, loadTime.Round(time.Second), per, recipients, ms(percentile(perJourney, 99)), medianPath(paths), per, ms(percentile(bLat, 50)), ms(percentile(bLat, 99)),
			ms(percentile(scrapes, 50)), ms(percentile(scrapes, 100)), len(scrapes)),
	}, nil
}

// startAll calls start for 0..n-1, startConcurrency at a time.
func startAll(ctx context.Context, n int, start func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range startConcurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := start(ctx, i); err != nil {
					cancel(fmt.Errorf("start: %w", err))
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// waitRegistered waits until n journeys have registered in active_journeys
// (they do so in their first workflow task, before their first step).
func waitRegistered(ctx context.Context, pool *pgxpool.Pool, n int) error {
	lastLog := time.Now()
	for {
		var got int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM active_journeys`).Scan(&got); err != nil {
			return err
		}
		if got >= n {
			return nil
		}
		if time.Since(lastLog) > 10*time.Second {
			logf("scale: %d/%d journeys registered", got, n)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("scale: %d/%d journeys registered: %w", got, n, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// stoppedJourney checks that a journey ended stopped.
func stoppedJourney(id string, res workflows.JourneyResult) error {
	if res.State != workflows.StateStopped {
		return fmt.Errorf("journey %s ended %q, want %q", id, res.State, workflows.StateStopped)
	}
	return nil
}

// closeTimes waits for the workflows to close, checks their result (check
// nil: workflows without one), and returns their close times as recorded
// by the server.
func closeTimes(ctx context.Context, c client.Client, ids []string, check func(string, workflows.JourneyResult) error) ([]time.Time, error) {
	times := make([]time.Time, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			var res workflows.JourneyResult
			var out any
			if check != nil {
				out = &res
			}
			if err := c.GetWorkflow(ctx, id, "").Get(ctx, out); err != nil {
				errs[i] = err
				return
			}
			if check != nil {
				if errs[i] = check(id, res); errs[i] != nil {
					return
				}
			}
			d, err := c.DescribeWorkflowExecution(ctx, id, "")
			if err != nil {
				errs[i] = err
				return
			}
			times[i] = closeTime(d)
		})
	}
	wg.Wait()
	return times, errors.Join(errs...)
}

func closeTime(d *workflowservice.DescribeWorkflowExecutionResponse) time.Time {
	return d.GetWorkflowExecutionInfo().GetCloseTime().AsTime()
}

// stopPath is when each stage of a STOP's way was reached, from the post.
type stopPath struct {
	answered time.Duration // the webhook answered 200
	signaled time.Duration // the keyword signal reached the Recipient workflow
	// cancelled: CancelJourneys has signalled the journeys (activity
	// completed, or the workflow task recording its local activity
	// completed); 0 when not found.
	cancelled time.Duration
	closed    time.Duration // the recipient's last journey closed
}

// optOutPath reads the stages from the recipient's Recipient workflow history.
func optOutPath(ctx context.Context, c client.Client, id string, t0 time.Time) (stopPath, error) {
	var p stopPath
	var cancelID int64
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return p, err
		}
		at := e.GetEventTime().AsTime().Sub(t0)
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			if p.signaled == 0 {
				p.signaled = at
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: // CancelJourneys as an activity
			if cancelID == 0 && e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "CancelJourneys" {
				cancelID = e.GetEventId()
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			if cancelID != 0 && e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId() == cancelID {
				p.cancelled = at
			}
		case enumspb.EVENT_TYPE_MARKER_RECORDED: // CancelJourneys as a local activity
			for _, pl := range e.GetMarkerRecordedEventAttributes().GetDetails()["data"].GetPayloads() {
				if p.cancelled == 0 && bytes.Contains(pl.GetData(), []byte(`"ActivityType":"CancelJourneys"`)) {
					p.cancelled = at
				}
			}
		}
	}
	return p, nil
}

// medianPath formats the median of each stage.
func medianPath(paths []stopPath) string {
	stage := func(f func(stopPath) time.Duration) string {
		var ds []time.Duration
		for _, p := range paths {
			if d := f(p); d > 0 {
				ds = append(ds, d)
			}
		}
		if len(ds) == 0 {
			return "-"
		}
		return ms(percentile(ds, 50))
	}
	return fmt.Sprintf("200 OK %s, signal at the Recipient workflow %s, journeys signalled %s, journeys closed %s",
		stage(func(p stopPath) time.Duration { return p.answered }),
		stage(func(p stopPath) time.Duration { return p.signaled }),
		stage(func(p stopPath) time.Duration { return p.cancelled }),
		stage(func(p stopPath) time.Duration { return p.closed }))
}

// timeScrapes times n sequential GETs of the worker's /metrics, which reads
// its gauges from Postgres and Temporal at scrape time.
func timeScrapes(ctx context.Context, url string, n int) ([]time.Duration, error) {
	var ds []time.Duration
	for range n {
		began := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("scrape: %w", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "stopline_journeys_active") {
			return nil, fmt.Errorf("scrape %s: status %d, %d bytes, %v", url, resp.StatusCode, len(body), err)
		}
		ds = append(ds, time.Since(began))
	}
	return ds, nil
}
