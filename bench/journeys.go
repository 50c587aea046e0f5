package main

// Scenario "journeys": N journeys of k SMS steps (no waits) through the
// full path (internal/app worker, consent check, send ledger in Postgres,
// twilio-go to the fake Twilio) against a bare workflow running k no-op
// activities on its own task queue, same server, same worker options, as
// many worker processes (site.go).

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/workflows"
)

// startConcurrency matches launch's default.
const startConcurrency = 16

// BaselineWorkflow runs k no-op activities one after the other, as a
// journey of k SMS steps runs k sends.
func BaselineWorkflow(ctx workflow.Context, k int) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	for range k {
		if err := workflow.ExecuteActivity(ctx, "BenchNoop").Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// NoopActivity does nothing.
func NoopActivity(context.Context) error { return nil }

func runJourneys(ctx context.Context, cfg *config) (row, error) {
	s, err := inProcessSite(ctx, cfg, "journeys")
	if err != nil {
		return row{}, err
	}
	defer s.close()
	return journeysOn(ctx, cfg, s)
}

// journeysOn runs the scenario on a site.
func journeysOn(ctx context.Context, cfg *config, s *site) (row, error) {
	n, k := cfg.journeys, cfg.steps
	tc, fake := s.temporal.Client, s.twilio

	def := smsJourney(k)
	starter := launch.TemporalStarter{Client: tc, TaskQueue: s.queue}
	// Each round texts numbers of its own: a retried send looks for its
	// earlier attempt at the provider by number and body, and must not
	// find another round's message.
	used := 0
	stopline := func(ctx context.Context, round string, count int) (time.Duration, error) {
		first := used
		used += count
		return batch(ctx, count, func(ctx context.Context, i int) (string, error) {
			e164 := number(first + i)
			in := workflows.JourneyInput{RunID: round, Journey: *def, Phone: e164, Region: "US",
				RecipientKey: s.keyer.Key(e164), Attributes: map[string]string{"first_name": "Ada"}}
			id := workflows.JourneyID(round, in.RecipientKey)
			_, err := starter.Start(ctx, id, in)
			return id, err
		}, func(ctx context.Context, id string) error {
			var res workflows.JourneyResult
			if err := tc.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
				return err
			}
			if res.Sent != k {
				return fmt.Errorf("journey %s: %s", id, res.Summary)
			}
			return nil
		})
	}
	baseline := func(ctx context.Context, round string, count int) (time.Duration, error) {
		return batch(ctx, count, func(ctx context.Context, i int) (string, error) {
			id := fmt.Sprintf("bench-activities/%s/%d", round, i)
			_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.baselineQueue}, "BenchActivities", k)
			return id, err
		}, func(ctx context.Context, id string) error {
			return tc.GetWorkflow(ctx, id, "").Get(ctx, nil)
		})
	}

	warm := max(5, min(n/10, 50))
	if _, err := baseline(ctx, "warm", warm); err != nil {
		return row{}, fmt.Errorf("baseline warm-up: %w", err)
	}
	if _, err := stopline(ctx, "warm", warm); err != nil {
		return row{}, fmt.Errorf("journeys warm-up: %w", err)
	}

	// Rounds in the order baseline, stopline, stopline, baseline, so that a
	// drift (the server's store growing) weighs on both sides alike.
	var sTime, bTime time.Duration
	half := []int{n / 2, n - n/2}
	for i, side := range []string{"b", "s", "s", "b"} {
		count := half[i/2]
		round := fmt.Sprintf("r%d", i)
		logf("journeys: round %d: %s, %d journeys", i+1, map[string]string{"b": "baseline", "s": "stopline"}[side], count)
		if side == "b" {
			d, err := baseline(ctx, round, count)
			if err != nil {
				return row{}, fmt.Errorf("baseline: %w", err)
			}
			bTime += d
		} else {
			d, err := stopline(ctx, round, count)
			if err != nil {
				return row{}, fmt.Errorf("journeys: %w", err)
			}
			sTime += d
		}
	}
	if got, want := fake.Calls(), (n+warm)*k; got != want {
		return row{}, fmt.Errorf("fake Twilio got %d create calls, want %d", got, want)
	}
	sRate, bRate := rate(n, sTime), rate(n, bTime)
	return row{
		stopline: fmt.Sprintf("%.1f journeys/s", sRate),
		baseline: fmt.Sprintf("%.1f wf/s", bRate),
		ratio:    sRate / bRate,
		goal:     "≥ 0.80",
		notes: fmt.Sprintf("SMS/s %.0f vs activities/s %.0f; N=%d k=%d, first start to last completion, rounds B S S B",
			sRate*float64(k), bRate*float64(k), n, k),
	}, nil
}

// batch starts n workflows (startConcurrency at a time) and waits for all
// of them to complete; it returns the time from the first start to the
// last completion. start returns the workflow ID that wait then awaits.
func batch(ctx context.Context, n int, start func(context.Context, int) (string, error), wait func(context.Context, string) error) (time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ids := make(chan string, n)
	var next, done atomic.Int64
	var starters, waiters sync.WaitGroup
	began := time.Now()
	stopProgress := progress(func() { logf("  %d/%d started, %d completed", min(next.Load(), int64(n)), n, done.Load()) })
	defer stopProgress()
	for range startConcurrency {
		starters.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				id, err := start(ctx, i)
				if err != nil {
					cancel(fmt.Errorf("start: %w", err))
					return
				}
				ids <- id
			}
		})
	}
	// Completions come roughly in start order, so a bounded pool of waiters
	// taking IDs in start order sees the last completion promptly.
	for range 32 {
		waiters.Go(func() {
			for id := range ids {
				if err := wait(ctx, id); err != nil {
					cancel(err)
				}
				done.Add(1)
			}
		})
	}
	starters.Wait()
	close(ids)
	waiters.Wait()
	elapsed := time.Since(began)
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	return elapsed, nil
}

// progress calls report every 15 seconds until stopped, so that a slow or
// stuck run shows where it is.
func progress(report func()) (stop func()) {
	quit := make(chan struct{})
	go func() {
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				report()
			}
		}
	}()
	return func() { close(quit) }
}
