package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/internal/consent"
	"github.com/stopline/stopline/internal/pgtest"
)

var (
	marketingDOI   = consent.Rule{NeedConfirmed: true} // marketing from a double opt-in program
	transactionalM = consent.Rule{OptOutAllows: true}  // transactional, STOP blocks marketing only
	plain          = consent.Rule{}
)

// TestRules is the decision table: the deciding state under each rule.
func TestRules(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := t.Context()
	tests := []struct {
		state   consent.State // consent.Unknown: no row
		rule    consent.Rule
		allowed bool
		reason  string
	}{
		{consent.Unknown, plain, true, ""},
		{consent.Unknown, marketingDOI, false, consent.ReasonNotConfirmed},
		{consent.OptedIn, marketingDOI, false, consent.ReasonNotConfirmed},
		{consent.Pending, plain, true, ""},
		{consent.Pending, marketingDOI, false, consent.ReasonNotConfirmed},
		{consent.Confirmed, marketingDOI, true, ""},
		{consent.Confirmed, plain, true, ""},
		{consent.OptedOut, plain, false, consent.ReasonOptedOut},
		{consent.OptedOut, marketingDOI, false, consent.ReasonOptedOut},
		{consent.OptedOut, transactionalM, true, ""},
		{consent.Unknown, transactionalM, true, ""},
	}
	for i, tt := range tests {
		rk := fmt.Sprintf("rrules%02d", i)
		if tt.state != consent.Unknown {
			if _, err := s.Record(ctx, consent.Change{RecipientKey: rk, Scope: scopeA, To: tt.state, Source: consent.SourceAdmin}); err != nil {
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
	pending := func(src consent.Source) consent.Change {
		return consent.Change{RecipientKey: key, Scope: scopeA, To: consent.Pending, Source: src, RawText: "START"}
	}
	yes := consent.Change{RecipientKey: key, Scope: scopeA, To: consent.Confirmed, Source: consent.SourceKeyword, RawText: "YES"}
	age := func(hours int) {
		t.Helper()
		if _, err := s.Pool().Exec(ctx, `UPDATE consent SET updated_at = updated_at - make_interval(hours => $3)
			WHERE recipient_key = $1 AND scope = $2`, key, scopeA, hours); err != nil {
			t.Fatal(err)
		}
	}
	imported := consent.Change{RecipientKey: key, Scope: scopeA, To: consent.Confirmed, Source: consent.SourceImport, Note: "double opt-in at old provider"}
	steps := []struct {
		name    string
		before  func()
		change  consent.Change
		changed bool
		state   consent.State
		err     error
	}{
		{"YES without a request changes nothing", nil, yes, false, consent.Unknown, nil},
		{"START asks", nil, pending(consent.SourceKeyword), true, consent.Pending, nil},
		{"YES after 25 h is too late", func() { age(25) }, yes, false, consent.Pending, nil},
		{"START again restarts the window", nil, pending(consent.SourceKeyword), true, consent.Pending, nil},
		{"YES after 23 h confirms", func() { age(23) }, yes, true, consent.Confirmed, nil},
		{"YES again changes nothing", nil, yes, false, consent.Confirmed, nil},
		{"a new request leaves a confirmed recipient confirmed", nil, pending(consent.SourceJourney), false, consent.Confirmed, nil},
		{"STOP opts out", nil, optOut(key, scopeA), true, consent.OptedOut, nil},
		{"YES does not undo a STOP", nil, yes, false, consent.OptedOut, nil},
		{"START after STOP asks again", nil, pending(consent.SourceKeyword), true, consent.Pending, nil},
		{"START again", nil, pending(consent.SourceKeyword), true, consent.Pending, nil},
		{"STOPALL ends the open request", nil, optOut(key, allScop), true, consent.OptedOut, nil},
		{"YES after STOPALL changes nothing", nil, yes, false, consent.OptedOut, nil},
		{"an imported confirmation does not lift a STOPALL", nil, imported, false, consent.OptedOut, consent.ErrOptedOut},
		{"staff confirm without a window", func() { age(100) }, consent.Change{RecipientKey: key, Scope: scopeA, To: consent.Confirmed, Source: consent.SourceAdmin, Note: "signed form"}, true, consent.Confirmed, nil},
		{"an imported confirmation of a confirmed recipient changes nothing", nil, imported, false, consent.Confirmed, nil},
		{"STOP", nil, optOut(key, scopeA), true, consent.OptedOut, nil},
		{"an imported confirmation does not lift a STOP", nil, imported, false, consent.OptedOut, consent.ErrOptedOut},
		{"START", nil, pending(consent.SourceKeyword), true, consent.Pending, nil},
		{"an imported confirmation confirms", nil, imported, true, consent.Confirmed, nil},
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
		before  []consent.Change
		allowed bool
		after   consent.State
	}{
		{"unknown becomes pending", nil, true, consent.Pending},
		{"opted out stays opted out", []consent.Change{optOut("rreq1", scopeA)}, false, consent.OptedOut},
		{"STOPALL stays in force", []consent.Change{optOut("rreq2", allScop)}, false, consent.OptedOut},
		{"confirmed stays confirmed", []consent.Change{{RecipientKey: "rreq3", Scope: scopeA, To: consent.Confirmed, Source: consent.SourceImport}}, true, consent.Confirmed},
		{"opted in (single opt-in before) becomes pending", []consent.Change{optIn("rreq4", scopeA)}, true, consent.Pending},
	}
	for i, tt := range tests {
		rk := fmt.Sprintf("rreq%d", i)
		for _, c := range tt.before {
			if _, err := s.Record(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		d, err := s.RequestOptIn(ctx, consent.Change{RecipientKey: rk, Scope: scopeA, To: consent.Pending, Source: consent.SourceJourney})
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
