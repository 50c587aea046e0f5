package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

// A run's commands: an unknown run is refused unless created, stop is
// final, every command is logged, and the sequence number grows with
// every change.
func TestSetRunState(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	steps := []struct {
		to          contract.RunState
		create      bool
		wantState   contract.RunState
		wantSeq     int64
		wantChanged bool
		wantErr     error
	}{
		{to: contract.RunStopped, wantErr: store.ErrRunUnknown},
		{to: contract.RunPaused, create: true, wantState: contract.RunPaused, wantSeq: 1, wantChanged: true},
		{to: contract.RunPaused, wantState: contract.RunPaused, wantSeq: 1},
		{to: contract.RunRunning, wantState: contract.RunRunning, wantSeq: 2, wantChanged: true},
		{to: contract.RunStopped, wantState: contract.RunStopped, wantSeq: 3, wantChanged: true},
		{to: contract.RunRunning, wantErr: store.ErrRunStopped},
		{to: contract.RunStopped, wantState: contract.RunStopped, wantSeq: 3},
	}
	for i, st := range steps {
		run, changed, err := s.SetRunState(ctx, store.RunCommand{RunID: "run1", To: st.to, Actor: "ops", Note: "step", Create: st.create})
		if !errors.Is(err, st.wantErr) || err == nil && (run.State != st.wantState || run.Seq != st.wantSeq || changed != st.wantChanged) {
			t.Errorf("command %d (%s): %+v changed %v err %v; want %s seq %d changed %v err %v",
				i, st.to, run, changed, err, st.wantState, st.wantSeq, st.wantChanged, st.wantErr)
		}
	}
	events, err := s.RunEvents(ctx, "run1")
	if err != nil || len(events) != 5 || events[0].Command != "pause" || events[0].Actor != "ops" || events[3].From != contract.RunRunning {
		t.Errorf("events %+v, %v; want 5 (the refused stop and resume are not logged)", events, err)
	}
}

// A run is known by its row, or by a journey of it registered or ended.
func TestRunKnown(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO runs (run_id) VALUES ('by-row')`,
		`INSERT INTO active_journeys (workflow_id, recipient_key, scope, run_id) VALUES ('journey/by-journey/k', 'k', 's', 'by-journey')`,
		`INSERT INTO journey_outcomes (workflow_id, run_id, journey, recipient_key, state, step, sent, unknown)
			VALUES ('journey/by-outcome/k', 'by-outcome', 'j', 'k', 'completed', 1, 1, 0)`,
	} {
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for run, want := range map[string]bool{"by-row": true, "by-journey": true, "by-outcome": true, "by-typo": false} {
		if known, err := s.RunKnown(ctx, run); err != nil || known != want {
			t.Errorf("RunKnown(%s) = %v, %v; want %v", run, known, err, want)
		}
	}
}

// A pause waits for a send that holds its run's row (LockRunShared), and
// the next send sees it; a journey registered meanwhile is told the state.
func TestPauseWaitsForSend(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	// The run has its row, as once a journey registered: the send's lock,
	// not its insert, must hold the pause.
	if _, err := s.Pool().Exec(ctx, `INSERT INTO runs (run_id) VALUES ('run1')`); err != nil {
		t.Fatal(err)
	}
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if run, err := s.LockRunShared(ctx, tx, "run1"); err != nil || run.State != contract.RunRunning {
		t.Fatalf("send's read: %+v, %v; want running", run, err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := s.SetRunState(ctx, store.RunCommand{RunID: "run1", To: contract.RunPaused, Actor: "ops"})
		done <- err
	}()
	pgtest.WaitForLockWaiters(t, s, 1)
	select {
	case err := <-done:
		t.Fatalf("pause returned (%v) while a send held the run", err)
	default:
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := testkit.Recv(t, done, "pause"); err != nil {
		t.Fatal(err)
	}
	run, err := s.RegisterJourney(ctx, store.ActiveJourney{WorkflowID: "journey/run1/" + key, Scope: scopeA, Category: "marketing", RunID: "run1"}, key)
	if err != nil || run.State != contract.RunPaused || run.Seq != 1 {
		t.Errorf("registration: %+v, %v; want paused, seq 1", run, err)
	}
	ids, unplaced, err := s.RunJourneys(ctx, "run1")
	if err != nil || len(ids) != 1 || unplaced {
		t.Errorf("run journeys %v, unplaced %v, %v; want the one registered", ids, unplaced, err)
	}
}
