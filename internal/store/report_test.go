package store_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

// A run's report counts what its journeys recorded at their end, what still
// runs and what the ledger holds, and nothing of another run whose ID
// extends this one's.
func TestRunReport(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := t.Context()
	const third = "rrecipient0000000000000000000003"
	wf := func(run, k string) string { return "journey/" + run + "/" + k }
	for _, j := range []struct{ run, key string }{{"r1", key}, {"r2", key}, {"r1", other}, {"r1", third}, {"r1/x", third}} {
		if _, err := s.RegisterJourney(ctx, store.ActiveJourney{WorkflowID: wf(j.run, j.key), Scope: scopeA, Category: "marketing"}, j.key); err != nil {
			t.Fatal(err)
		}
	}
	ledger := []struct {
		id     string
		step   int
		status contract.SendStatus
	}{
		{wf("r1", key), 0, contract.LedgerSent}, {wf("r1", other), 0, contract.LedgerSent}, {wf("r1", other), 2, contract.LedgerUnresolved},
		{wf("r1", third), 0, contract.LedgerSent}, {wf("r1/x", third), 0, contract.LedgerSent}, {wf("r2", key), 0, contract.LedgerSent},
	}
	testSend := "test/r1/" + third // starter test -run-id r1
	ledger = append(ledger, struct {
		id     string
		step   int
		status contract.SendStatus
	}{testSend, 1, contract.LedgerSent})
	for _, l := range ledger {
		if _, _, err := s.BeginAttempt(ctx, l.id, l.step, key, "twilio"); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishAttempt(ctx, nil, l.id, l.step, l.status, "SM1", ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.MarkTest(ctx, testSend, 1, false); err != nil {
		t.Fatal(err)
	}

	// A STOP of key signals both its journeys: the first to close is not
	// the last of them, the second is.
	stop := time.Now().Add(-time.Second).Truncate(time.Microsecond)
	if err := s.MarkStopping(ctx, []string{wf("r1", key), wf("r2", key)}, stop); err != nil {
		t.Fatal(err)
	}
	finish := []struct {
		o        store.JourneyOutcome
		wantLast bool
	}{
		{store.JourneyOutcome{WorkflowID: wf("r1", key), RunID: "r1", Journey: "welcome", RecipientKey: key, State: "stopped", Reason: "opted_out", Step: 1, Sent: 1}, false},
		{store.JourneyOutcome{WorkflowID: wf("r1", key), RunID: "r1", Journey: "welcome", RecipientKey: key, State: "stopped", Reason: "opted_out", Step: 1, Sent: 1}, false}, // a retry
		{store.JourneyOutcome{WorkflowID: wf("r2", key), RunID: "r2", Journey: "welcome", RecipientKey: key, State: "stopped", Reason: "opted_out", Step: 1, Sent: 1}, true},
		{store.JourneyOutcome{WorkflowID: wf("r1", other), RunID: "r1", Journey: "welcome", RecipientKey: other, State: "completed", Step: 3, Sent: 1, Unknown: 1, Deferrals: 2}, false},
	}
	for i, f := range finish {
		got, last, err := s.FinishJourney(ctx, f.o)
		if err != nil {
			t.Fatal(err)
		}
		if last != f.wantLast || last && !got.Equal(stop) {
			t.Errorf("finish %d (%s): last of its STOP = %v (STOP at %v), want %v (%v)", i, f.o.WorkflowID, last, got, f.wantLast, stop)
		}
	}

	r, err := s.Report(ctx, "r1", "journey/r1/", "test/r1/")
	if err != nil {
		t.Fatal(err)
	}
	wantOutcomes := []store.OutcomeCount{{State: "completed", Step: -1, Journeys: 1}, {State: "stopped", Reason: "opted_out", Step: 1, Journeys: 1}}
	wantSteps := []store.StepCount{{Step: 0, Status: "sent", Rows: 3}, {Step: 1, Status: "sent (test)", Rows: 1}, {Step: 2, Status: "unknown", Rows: 1}}
	if r.Running != 1 || !slices.Equal(r.Outcomes, wantOutcomes) || !slices.Equal(r.Steps, wantSteps) ||
		r.Deferred != 1 || r.Deferrals != 2 || r.Unresolved != 1 || r.UnknownSends != 1 || r.StopToStop.N != 1 || r.StopToStop.Median < time.Second {
		t.Errorf("report = %+v\nwant running 1, outcomes %+v, steps %+v, 1 deferred (2), 1 unresolved (1), 1 STOP-to-stop of at least 1s",
			r, wantOutcomes, wantSteps)
	}

	var rows []string
	err = s.JourneyOutcomes(ctx, "r1", []string{"journey/r1/"}, func(o store.JourneyOutcome) error {
		rows = append(rows, fmt.Sprintf("%s %s %s %d/%d stop=%v ended=%v", o.WorkflowID, o.State, o.Reason, o.Sent, o.Unknown, !o.StopCommittedAt.IsZero(), !o.EndedAt.IsZero()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		wf("r1", key) + " stopped opted_out 1/0 stop=true ended=true",
		wf("r1", other) + " completed  1/1 stop=false ended=true",
		wf("r1", third) + " running  1/0 stop=false ended=false",
	}
	if !slices.Equal(rows, want) {
		t.Errorf("journeys:\n got  %q\n want %q", rows, want)
	}
}

// Of a STOP's journeys closing at the same moment, exactly one is the last:
// stopline_optout_closed_seconds observes each STOP once.
func TestFinishJourneyLastOfStopUnderRace(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := t.Context()
	const recipients, perRecipient = 10, 3
	stop := time.Now().Truncate(time.Microsecond)
	var ids [recipients][]string
	for r := range recipients {
		k := fmt.Sprintf("rrace%027d", r)
		for j := range perRecipient {
			id := fmt.Sprintf("journey/run%d/%s", j, k)
			if _, err := s.RegisterJourney(ctx, store.ActiveJourney{WorkflowID: id, Scope: scopeA, Category: "marketing"}, k); err != nil {
				t.Fatal(err)
			}
			ids[r] = append(ids[r], id)
		}
		if err := s.MarkStopping(ctx, ids[r], stop); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		last = map[string]int{}
	)
	for r := range recipients {
		for _, id := range ids[r] {
			wg.Go(func() {
				k := id[len(id)-32:]
				_, l, err := s.FinishJourney(ctx, store.JourneyOutcome{WorkflowID: id, RunID: "race", RecipientKey: k, State: "stopped"})
				if err != nil {
					t.Error(err)
				}
				if l {
					mu.Lock()
					last[k]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for r := range recipients {
		k := fmt.Sprintf("rrace%027d", r)
		if last[k] != 1 {
			t.Errorf("recipient %d: %d journeys saw themselves last, want 1", r, last[k])
		}
	}
}
