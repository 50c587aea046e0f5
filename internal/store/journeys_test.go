package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/testkit"
)

func TestActiveJourneys(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := t.Context()

	// Registered in this order; ActiveJourneys lists by start.
	regs := []struct{ wf, key, scope string }{
		{"journey/run1/" + key, key, scopeA},
		{"journey/run2/" + key, key, scopeB},
		{"journey/run1/" + other, other, scopeA},
		{"journey/run3/" + key, key, scopeA},
	}
	for _, r := range regs {
		if _, err := s.RegisterJourney(ctx, store.ActiveJourney{WorkflowID: r.wf, Scope: r.scope, Category: "marketing"}, r.key); err != nil {
			t.Fatalf("RegisterJourney(%s): %v", r.wf, err)
		}
	}
	// A replayed registration (local activity retry) is harmless.
	if _, err := s.RegisterJourney(ctx, store.ActiveJourney{WorkflowID: regs[0].wf, Scope: scopeA, Category: "transactional"}, key); err != nil {
		t.Fatalf("re-register: %v", err)
	}

	check := func(step, recipient, scope string, want ...string) {
		t.Helper()
		journeys, err := s.ActiveJourneys(ctx, recipient, scope)
		if err != nil {
			t.Fatalf("%s: ActiveJourneys: %v", step, err)
		}
		var got []string
		for _, j := range journeys {
			if j.Category != "marketing" || j.Scope != scope && scope != allScop {
				t.Errorf("%s: %+v: category or scope differs from its registration", step, j)
			}
			got = append(got, j.WorkflowID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: ActiveJourneys(%s, %s) = %v, want %v", step, recipient, scope, got, want)
		}
	}
	check("scope A", key, scopeA, regs[0].wf, regs[3].wf)
	check("scope B", key, scopeB, regs[1].wf)
	check("all scopes", key, allScop, regs[0].wf, regs[1].wf, regs[3].wf)
	check("other recipient", other, allScop, regs[2].wf)
	check("unknown scope", key, "+14155550199")
	check("unknown recipient", "rnobody", allScop)

	if err := s.DeregisterJourney(ctx, regs[0].wf); err != nil {
		t.Fatal(err)
	}
	// Deregistering twice (the deferred local activity retried) is harmless.
	if err := s.DeregisterJourney(ctx, regs[0].wf); err != nil {
		t.Fatal(err)
	}
	check("after deregister", key, allScop, regs[1].wf, regs[3].wf)
	check("after deregister, scope A", key, scopeA, regs[3].wf)
	check("other recipient untouched", other, scopeA, regs[2].wf)
}

// RegisterJourney is ordered against opt-outs: a registration that arrives
// while an opt-out is committing waits for it, so the opt-out's
// cancellation either finds the journey or the journey's next consent
// check sees the opt-out.
func TestRegisterJourneyWaitsForOptOut(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()

	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := s.RecordTx(ctx, tx, optOut(key, scopeA)); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := s.RegisterJourney(ctx, store.ActiveJourney{WorkflowID: "journey/run1/" + key, Scope: scopeA, Category: "marketing"}, key)
		done <- err
	}()
	pgtest.WaitForLockWaiters(t, s, 1)
	select {
	case err := <-done:
		t.Fatalf("RegisterJourney returned (%v) while an opt-out held the recipient's lock", err)
	default:
	}
	var optOutCommitted time.Time
	if err := tx.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&optOutCommitted); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := testkit.Recv(t, done, "RegisterJourney"); err != nil {
		t.Fatal(err)
	}
	var startedAt time.Time
	if err := s.Pool().QueryRow(ctx, `SELECT started_at FROM active_journeys WHERE workflow_id = $1`, "journey/run1/"+key).Scan(&startedAt); err != nil {
		t.Fatal(err)
	}
	if !startedAt.After(optOutCommitted) {
		t.Errorf("registration at %v, not after the opt-out's commit at %v", startedAt, optOutCommitted)
	}
}
