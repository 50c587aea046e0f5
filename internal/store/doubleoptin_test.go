package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

var (
	marketingDOI   = contract.ConsentRule{NeedConfirmed: true} // marketing from a double opt-in program
	transactionalM = contract.ConsentRule{OptOutAllows: true}  // transactional, STOP blocks marketing only
	plain          = contract.ConsentRule{}
)

// TestRules is the decision table: the deciding state under each rule.
func TestRules(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := t.Context()
	tests := []struct {
		state   contract.ConsentState // contract.ConsentUnknown: no row
		rule    contract.ConsentRule
		allowed bool
		reason  string
	}{
		{contract.ConsentUnknown, plain, true, ""},
		{contract.ConsentUnknown, marketingDOI, false, contract.ReasonNotConfirmed},
		{contract.OptedIn, marketingDOI, false, contract.ReasonNotConfirmed},
		{contract.OptInPending, plain, true, ""},
		{contract.OptInPending, marketingDOI, false, contract.ReasonNotConfirmed},
		{contract.OptInConfirmed, marketingDOI, true, ""},
		{contract.OptInConfirmed, plain, true, ""},
		{contract.OptedOut, plain, false, contract.ReasonOptedOut},
		{contract.OptedOut, marketingDOI, false, contract.ReasonOptedOut},
		{contract.OptedOut, transactionalM, true, ""},
		{contract.ConsentUnknown, transactionalM, true, ""},
	}
	for i, tt := range tests {
		rk := fmt.Sprintf("rrules%02d", i)
		if tt.state != contract.ConsentUnknown {
			if _, err := s.Record(ctx, contract.ConsentChange{RecipientKey: rk, Scope: scopeA, To: tt.state, Source: contract.SourceAdmin}); err != nil {
				t.Fatal(err)
			}
		}
		d, err := s.Check(ctx, rk, scopeA, tt.rule)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != tt.allowed || d.Reason != tt.reason || d.State != tt.state {
			t.Errorf("state %q rule %+v: got %+v, want allowed=%v reason=%q", tt.state, tt.rule, d, tt.allowed, tt.reason)
		}
		// The fenced check (the one sends rely on) decides the same.
		ran := false
		fd, err := s.Fenced(ctx, rk, scopeA, tt.rule, func(pgx.Tx) error { ran = true; return nil })
		if err != nil || fd != d || ran != tt.allowed {
			t.Errorf("state %q rule %+v: Fenced = %+v ran=%v (err %v), want %+v ran=%v", tt.state, tt.rule, fd, ran, err, d, tt.allowed)
		}
	}
	// STOPALL is an opt-out like any other for the rules.
	if _, err := s.Record(ctx, optOut("rrulesall", allScop)); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Check(ctx, "rrulesall", scopeA, transactionalM); !d.Allowed {
		t.Errorf("STOPALL under a marketing-only rule blocked a transactional message: %+v", d)
	}
	if d, _ := s.Check(ctx, "rrulesall", scopeA, plain); d.Allowed {
		t.Errorf("STOPALL allowed: %+v", d)
	}
}

// TestDoubleOptInTransitions walks the double opt-in state machine through
// RecordTx, including the 24-hour window (rows are aged with UPDATE, which
// the current-state table allows; the event log does not).
func TestDoubleOptInTransitions(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := t.Context()
	pending := func(src contract.ConsentSource) contract.ConsentChange {
		return contract.ConsentChange{RecipientKey: key, Scope: scopeA, To: contract.OptInPending, Source: src, RawText: "START"}
	}
	yes := contract.ConsentChange{RecipientKey: key, Scope: scopeA, To: contract.OptInConfirmed, Source: contract.SourceKeyword, RawText: "YES"}
	age := func(hours int) {
		t.Helper()
		if _, err := s.Pool().Exec(ctx, `UPDATE consent SET updated_at = updated_at - make_interval(hours => $3)
			WHERE recipient_key = $1 AND scope = $2`, key, scopeA, hours); err != nil {
			t.Fatal(err)
		}
	}
	imported := contract.ConsentChange{RecipientKey: key, Scope: scopeA, To: contract.OptInConfirmed, Source: contract.SourceImport, Note: "double opt-in at old provider"}
	steps := []struct {
		name    string
		before  func()
		change  contract.ConsentChange
		changed bool
		state   contract.ConsentState
		err     error
	}{
		{"YES without a request changes nothing", nil, yes, false, contract.ConsentUnknown, nil},
		{"START asks", nil, pending(contract.SourceKeyword), true, contract.OptInPending, nil},
		{"YES after 25 h is too late", func() { age(25) }, yes, false, contract.OptInPending, nil},
		{"START again restarts the window", nil, pending(contract.SourceKeyword), true, contract.OptInPending, nil},
		{"YES after 23 h confirms", func() { age(23) }, yes, true, contract.OptInConfirmed, nil},
		{"YES again changes nothing", nil, yes, false, contract.OptInConfirmed, nil},
		{"a new request leaves a confirmed recipient confirmed", nil, pending(contract.SourceJourney), false, contract.OptInConfirmed, nil},
		{"STOP opts out", nil, optOut(key, scopeA), true, contract.OptedOut, nil},
		{"YES does not undo a STOP", nil, yes, false, contract.OptedOut, nil},
		{"START after STOP asks again", nil, pending(contract.SourceKeyword), true, contract.OptInPending, nil},
		{"START again", nil, pending(contract.SourceKeyword), true, contract.OptInPending, nil},
		{"STOPALL ends the open request", nil, optOut(key, allScop), true, contract.OptedOut, nil},
		{"YES after STOPALL changes nothing", nil, yes, false, contract.OptedOut, nil},
		{"an imported confirmation does not lift a STOPALL", nil, imported, false, contract.OptedOut, store.ErrOptedOut},
		{"staff confirm without a window", func() { age(100) }, contract.ConsentChange{RecipientKey: key, Scope: scopeA, To: contract.OptInConfirmed, Source: contract.SourceAdmin, Note: "signed form"}, true, contract.OptInConfirmed, nil},
		{"an imported confirmation of a confirmed recipient changes nothing", nil, imported, false, contract.OptInConfirmed, nil},
		{"STOP", nil, optOut(key, scopeA), true, contract.OptedOut, nil},
		{"an imported confirmation does not lift a STOP", nil, imported, false, contract.OptedOut, store.ErrOptedOut},
		{"START", nil, pending(contract.SourceKeyword), true, contract.OptInPending, nil},
		{"an imported confirmation confirms", nil, imported, true, contract.OptInConfirmed, nil},
	}
	events := 0
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		changed, err := s.Record(ctx, st.change)
		if !errors.Is(err, st.err) {
			t.Fatalf("%s: error %v, want %v", st.name, err, st.err)
		}
		d, err := s.Check(ctx, key, scopeA, plain)
		if err != nil {
			t.Fatal(err)
		}
		if changed != st.changed || d.State != st.state {
			t.Errorf("%s: changed=%v state=%q, want changed=%v state=%q", st.name, changed, d.State, st.changed, st.state)
		}
		if changed {
			events++
		}
	}
	evs, err := s.Events(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != events {
		t.Errorf("%d events for %d changes", len(evs), events)
	}
}

// TestRequestOptIn: a journey's opt_in step never moves an opted-out
// recipient (in the scope or everywhere) to pending, and leaves a confirmed
// one alone.
func TestRequestOptIn(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := t.Context()
	tests := []struct {
		name    string
		before  []contract.ConsentChange
		allowed bool
		after   contract.ConsentState
	}{
		{"unknown becomes pending", nil, true, contract.OptInPending},
		{"opted out stays opted out", []contract.ConsentChange{optOut("rreq1", scopeA)}, false, contract.OptedOut},
		{"STOPALL stays in force", []contract.ConsentChange{optOut("rreq2", allScop)}, false, contract.OptedOut},
		{"confirmed stays confirmed", []contract.ConsentChange{{RecipientKey: "rreq3", Scope: scopeA, To: contract.OptInConfirmed, Source: contract.SourceImport}}, true, contract.OptInConfirmed},
		{"opted in (single opt-in before) becomes pending", []contract.ConsentChange{optIn("rreq4", scopeA)}, true, contract.OptInPending},
	}
	for i, tt := range tests {
		rk := fmt.Sprintf("rreq%d", i)
		for _, c := range tt.before {
			if _, err := s.Record(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		d, err := s.RequestOptIn(ctx, contract.ConsentChange{RecipientKey: rk, Scope: scopeA, To: contract.OptInPending, Source: contract.SourceJourney})
		if err != nil {
			t.Fatal(err)
		}
		after, err := s.Check(context.Background(), rk, scopeA, plain)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != tt.allowed || after.State != tt.after {
			t.Errorf("%s: decision %+v, state after %q; want allowed=%v, state %q", tt.name, d, after.State, tt.allowed, tt.after)
		}
	}
}
