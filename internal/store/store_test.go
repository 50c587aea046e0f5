package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

const (
	key     = "rrecipient0000000000000000000001"
	other   = "rrecipient0000000000000000000002"
	scopeA  = "+14155550100"
	scopeB  = "+14155550101"
	allScop = contract.AllScopes
)

func TestCheck(t *testing.T) {
	s := pgtest.NewStore(t)
	tests := []struct {
		name    string
		changes []contract.ConsentChange // applied in order, to a recipient of its own
		scope   string
		want    contract.Decision
	}{
		{
			name:  "unknown recipient is allowed",
			scope: scopeA,
			want:  contract.Decision{Allowed: true, State: contract.ConsentUnknown},
		},
		{
			name:    "opted out in scope blocks",
			changes: []contract.ConsentChange{optOut(key, scopeA)},
			scope:   scopeA,
			want:    contract.Decision{Allowed: false, State: contract.OptedOut, Scope: scopeA, Reason: contract.ReasonOptedOut},
		},
		{
			name:    "opted out in another scope does not block",
			changes: []contract.ConsentChange{optOut(key, scopeB)},
			scope:   scopeA,
			want:    contract.Decision{Allowed: true, State: contract.ConsentUnknown},
		},
		{
			name:    "opted in explicitly",
			changes: []contract.ConsentChange{optOut(key, scopeA), optIn(key, scopeA)},
			scope:   scopeA,
			want:    contract.Decision{Allowed: true, State: contract.OptedIn, Scope: scopeA},
		},
		{
			name:    "STOPALL blocks scope A",
			changes: []contract.ConsentChange{optOut(key, allScop)},
			scope:   scopeA,
			want:    contract.Decision{Allowed: false, State: contract.OptedOut, Scope: allScop, Reason: contract.ReasonOptedOut},
		},
		{
			name:    "STOPALL blocks scope B",
			changes: []contract.ConsentChange{optOut(key, allScop)},
			scope:   scopeB,
			want:    contract.Decision{Allowed: false, State: contract.OptedOut, Scope: allScop, Reason: contract.ReasonOptedOut},
		},
		{
			name:    "STOPALL after START in scope wins",
			changes: []contract.ConsentChange{optIn(key, scopeA), optOut(key, allScop)},
			scope:   scopeA,
			want:    contract.Decision{Allowed: false, State: contract.OptedOut, Scope: allScop, Reason: contract.ReasonOptedOut},
		},
		{
			// The newest row wins: START re-enables the scope it was sent to.
			name:    "STOPALL then START re-enables that scope",
			changes: []contract.ConsentChange{optOut(key, allScop), optIn(key, scopeA)},
			scope:   scopeA,
			want:    contract.Decision{Allowed: true, State: contract.OptedIn, Scope: scopeA},
		},
		{
			name:    "STOPALL then START in A leaves B blocked",
			changes: []contract.ConsentChange{optOut(key, allScop), optIn(key, scopeA)},
			scope:   scopeB,
			want:    contract.Decision{Allowed: false, State: contract.OptedOut, Scope: allScop, Reason: contract.ReasonOptedOut},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A fresh recipient per case keeps cases independent.
			got := recordThenCheck(t, s, key+"-"+string(rune('a'+i)), tc.changes, tc.scope)
			if got != tc.want {
				t.Errorf("Check(%s) = %+v, want %+v", tc.scope, got, tc.want)
			}
		})
	}
}

// A repeated opt-out must block again even when the same row already says
// opted_out, if a newer opt-in in another row currently decides. Guarantee 1:
// after a 2xx to a STOP(ALL), nothing more is sent in that scope.
func TestCheckRepeatedOptOutAfterNewerOptInBlocks(t *testing.T) {
	s := pgtest.NewStore(t)
	tests := []struct {
		name    string
		changes []contract.ConsentChange
		scope   string
	}{
		{
			name:    "STOPALL, START in A, STOPALL again",
			changes: []contract.ConsentChange{optOut(key, allScop), optIn(key, scopeA), optOut(key, allScop)},
			scope:   scopeA,
		},
		{
			name:    "STOP in A, START everywhere, STOP in A again",
			changes: []contract.ConsentChange{optOut(key, scopeA), optIn(key, allScop), optOut(key, scopeA)},
			scope:   scopeA,
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := recordThenCheck(t, s, key+"-repeat-"+string(rune('a'+i)), tc.changes, tc.scope)
			if got.Allowed {
				t.Errorf("Check(%s) = %+v after the recipient's latest message was an opt-out; want not allowed "+
					"(RecordTx treats the repeated opt-out as a no-op because its own row already says opted_out, "+
					"so the newer opt-in row keeps deciding)", tc.scope, got)
			}
		})
	}
}

func TestRecord(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := t.Context()

	stop := contract.ConsentChange{
		RecipientKey: key, Scope: scopeA, To: contract.OptedOut, Source: contract.SourceKeyword,
		RawText: "Stop please", Provider: "twilio", ProviderMessageID: "SM1", Sender: scopeA, Note: "inbound",
	}
	steps := []struct {
		name        string
		change      contract.ConsentChange
		wantChanged bool
		wantEvents  int
	}{
		{"first opt-out", stop, true, 1},
		// A redelivered keyword must not add audit noise.
		{"same state again", stop, false, 1},
		{"opt back in", optIn(key, scopeA), true, 2},
		{"opt-in again", optIn(key, scopeA), false, 2},
	}
	for _, st := range steps {
		changed, err := s.Record(ctx, st.change)
		if err != nil {
			t.Fatalf("%s: Record: %v", st.name, err)
		}
		if changed != st.wantChanged {
			t.Errorf("%s: changed = %v, want %v", st.name, changed, st.wantChanged)
		}
		events, err := s.Events(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != st.wantEvents {
			t.Fatalf("%s: %d events, want %d: %+v", st.name, len(events), st.wantEvents, events)
		}
	}

	events, err := s.Events(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	first, second := events[0], events[1]
	if first.From != contract.ConsentUnknown || first.To != contract.OptedOut || first.Scope != scopeA ||
		first.Source != contract.SourceKeyword || first.RawText != "Stop please" || first.Provider != "twilio" ||
		first.ProviderMessageID != "SM1" || first.Sender != scopeA || first.Note != "inbound" {
		t.Errorf("first event = %+v", first)
	}
	if second.From != contract.OptedOut || second.To != contract.OptedIn || second.RawText != "START" {
		t.Errorf("second event = %+v, want opted_out -> opted_in", second)
	}
	if !second.At.After(first.At) || second.ID <= first.ID {
		t.Errorf("events out of order: %+v then %+v", first, second)
	}
}

func TestRecordRejectsInvalidChanges(t *testing.T) {
	s := pgtest.NewStore(t)
	tests := []struct {
		name    string
		change  contract.ConsentChange
		wantErr string
	}{
		{"invalid state", contract.ConsentChange{RecipientKey: key, Scope: scopeA, To: "paused", Source: contract.SourceAdmin}, `invalid state "paused"`},
		{"unknown state", contract.ConsentChange{RecipientKey: key, Scope: scopeA, To: contract.ConsentUnknown, Source: contract.SourceAdmin}, "invalid state"},
		{"empty key", contract.ConsentChange{Scope: scopeA, To: contract.OptedOut, Source: contract.SourceKeyword}, "recipient key and scope are required"},
		{"empty scope", contract.ConsentChange{RecipientKey: key, To: contract.OptedOut, Source: contract.SourceKeyword}, "recipient key and scope are required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			changed, err := s.Record(t.Context(), tc.change)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Record err = %v, want one containing %q", err, tc.wantErr)
			}
			if changed {
				t.Error("changed = true on error")
			}
		})
	}
	var n int
	if err := s.Pool().QueryRow(t.Context(), `SELECT (SELECT count(*) FROM consent) + (SELECT count(*) FROM consent_events)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("invalid changes left %d rows", n)
	}
}

func TestConsentEventsAreAppendOnly(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := t.Context()
	if _, err := s.Record(ctx, optOut(key, scopeA)); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE consent_events SET to_state = 'opted_in'`,
		`DELETE FROM consent_events`,
		`TRUNCATE consent_events`,
	} {
		t.Run(strings.Fields(stmt)[0], func(t *testing.T) {
			_, err := s.Pool().Exec(ctx, stmt)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: err = %v, want the append-only trigger to refuse it", stmt, err)
			}
		})
	}
	events, err := s.Events(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].To != contract.OptedOut {
		t.Errorf("events after tampering attempts = %+v, want the one opt-out unchanged", events)
	}
}

func TestFencedSerialisesWithOptOut(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()

	entered := make(chan struct{})
	release := make(chan struct{})
	var fnReturned time.Time // written before fencedDone is sent
	type fencedOut struct {
		d   contract.Decision
		err error
	}
	fencedDone := make(chan fencedOut, 1)
	go func() {
		d, err := s.Fenced(ctx, key, scopeA, contract.ConsentRule{}, func(pgx.Tx) error {
			close(entered)
			<-release
			fnReturned = time.Now()
			return nil
		})
		fencedDone <- fencedOut{d, err}
	}()
	testkit.Recv(t, entered, "Fenced fn to start")

	type recordOut struct {
		at  time.Time
		err error
	}
	recordDone := make(chan recordOut, 1)
	go func() {
		_, err := s.Record(ctx, optOut(key, scopeA))
		recordDone <- recordOut{time.Now(), err}
	}()

	// The opt-out is blocked on the recipient's lock, not merely slow.
	pgtest.WaitForLockWaiters(t, s, 1)
	select {
	case r := <-recordDone:
		t.Fatalf("opt-out committed (err %v) while a fenced send was in flight", r.err)
	default:
	}

	// Another recipient's opt-out is not held up by this send.
	otherDone := make(chan error, 1)
	go func() {
		_, err := s.Record(ctx, optOut(other, scopeA))
		otherDone <- err
	}()
	if err := testkit.Recv(t, otherDone, "another recipient's opt-out"); err != nil {
		t.Fatalf("other recipient's Record: %v", err)
	}

	close(release)
	f := testkit.Recv(t, fencedDone, "Fenced to return")
	if f.err != nil || !f.d.Allowed {
		t.Fatalf("Fenced = %+v, %v; want allowed, nil", f.d, f.err)
	}
	r := testkit.Recv(t, recordDone, "opt-out to commit")
	if r.err != nil {
		t.Fatalf("Record: %v", r.err)
	}
	if r.at.Before(fnReturned) {
		t.Errorf("opt-out committed at %v, before the fenced fn returned at %v", r.at, fnReturned)
	}

	// A send that starts after the opt-out committed sees it and does not run.
	called := false
	d, err := s.Fenced(ctx, key, scopeA, contract.ConsentRule{}, func(pgx.Tx) error { called = true; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.State != contract.OptedOut || called {
		t.Errorf("Fenced after opt-out = %+v, fn called %v; want not allowed and fn not called", d, called)
	}
}

func TestFencedDifferentRecipientsDoNotBlock(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()

	entered := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := s.Fenced(ctx, key, scopeA, contract.ConsentRule{}, func(pgx.Tx) error {
			close(entered)
			<-release
			return nil
		})
		done <- err
	}()
	testkit.Recv(t, entered, "first Fenced fn")
	defer func() {
		close(release)
		if err := testkit.Recv(t, done, "first Fenced"); err != nil {
			t.Error(err)
		}
	}()

	// A second recipient's send runs to completion while the first holds
	// its lock; so does an opt-out of that second recipient.
	otherDone := make(chan error, 1)
	go func() {
		ran := false
		d, err := s.Fenced(ctx, other, scopeA, contract.ConsentRule{}, func(pgx.Tx) error { ran = true; return nil })
		if err == nil && (!d.Allowed || !ran) {
			err = errors.New("other recipient's fn did not run")
		}
		if err == nil {
			_, err = s.Record(ctx, optOut(other, scopeA))
		}
		otherDone <- err
	}()
	if err := testkit.Recv(t, otherDone, "other recipient's send and opt-out"); err != nil {
		t.Fatal(err)
	}
	// Two sends of the same recipient share the lock, too.
	sameDone := make(chan error, 1)
	go func() {
		_, err := s.Fenced(ctx, key, scopeB, contract.ConsentRule{}, func(pgx.Tx) error { return nil })
		sameDone <- err
	}()
	if err := testkit.Recv(t, sameDone, "concurrent send of the same recipient"); err != nil {
		t.Fatal(err)
	}
}

func TestFencedFnErrorRollsBack(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := t.Context()
	if _, _, err := s.BeginAttempt(ctx, "wf", 0, key, "twilio"); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err := s.Fenced(ctx, key, scopeA, contract.ConsentRule{}, func(tx pgx.Tx) error {
		if err := s.FinishAttempt(ctx, tx, "wf", 0, contract.LedgerSent, "SM1", ""); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Fenced err = %v, want %v", err, boom)
	}
	// The ledger write inside the failed fn must not survive.
	rows := pgtest.Ledger(t, s, "wf")
	if len(rows) != 1 || rows[0].Status != contract.LedgerAttempting {
		t.Errorf("ledger = %+v, want the row still attempting", rows)
	}
}

// recordThenCheck records changes for recipient rk, in order, and returns
// the consent check of scope under the plain rule.
func recordThenCheck(t *testing.T, s *store.Store, rk string, changes []contract.ConsentChange, scope string) contract.Decision {
	t.Helper()
	for _, c := range changes {
		c.RecipientKey = rk
		if _, err := s.Record(t.Context(), c); err != nil {
			t.Fatalf("Record %+v: %v", c, err)
		}
	}
	d, err := s.Check(t.Context(), rk, scope, contract.ConsentRule{})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return d
}

// TestInboundStopWaitsForFencedSend: a STOP stored with its opt-out
// (SaveInbound, whose insert also takes the recipient's lock) waits for a
// send in flight, as Record does, and commits after it.
func TestInboundStopWaitsForFencedSend(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	entered, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	defer free() // a failure must not leave the send holding its connection
	fencedDone := make(chan error, 1)
	go func() {
		_, err := s.Fenced(ctx, key, scopeA, contract.ConsentRule{}, func(pgx.Tx) error {
			close(entered)
			<-release
			return nil
		})
		fencedDone <- err
	}()
	testkit.Recv(t, entered, "Fenced fn to start")

	stop := contract.Inbound{Provider: "twilio", MessageID: "SMfenced", From: "+14155550123", To: scopeA, Body: "STOP",
		RecipientKey: key, Scope: scopeA, Intent: contract.IntentOptOut, ReceivedAt: time.Now()}
	change := optOut(key, scopeA)
	saveDone := make(chan error, 1)
	go func() {
		_, _, _, err := s.SaveInbound(ctx, stop, store.Effect{Intent: contract.IntentOptOut, Change: &change})
		saveDone <- err
	}()
	pgtest.WaitForLockWaiters(t, s, 1)
	select {
	case err := <-saveDone:
		t.Fatalf("STOP committed (err %v) while a fenced send was in flight", err)
	default:
	}
	free()
	if err := testkit.Recv(t, fencedDone, "Fenced to return"); err != nil {
		t.Fatal(err)
	}
	if err := testkit.Recv(t, saveDone, "STOP to commit"); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Check(ctx, key, scopeA, contract.ConsentRule{}); err != nil || d.State != contract.OptedOut {
		t.Fatalf("after the STOP: %+v, %v; want opted out", d, err)
	}
}
