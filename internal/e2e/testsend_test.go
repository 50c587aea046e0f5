package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// testSenders: program "club" needs double opt-in; program "deals" caps
// marketing at 1 message per hour.
func testSenders(t *testing.T) func(*app.Config) {
	path := filepath.Join(t.TempDir(), "senders.json")
	if err := os.WriteFile(path, []byte(`{"senders": [
		{"provider": "twilio", "from": "+15550001111", "type": "long_code", "program": "club", "double_opt_in": true},
		{"provider": "twilio", "from": "+15550002222", "type": "long_code", "program": "deals", "frequency_cap": {"max": 1, "per": "1h"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(c *app.Config) { c.SendersFile = path }
}

// sendingJourney is a marketing journey from sender whose window is hours
// ("" for any time); steps are JSON.
func sendingJourney(name, from, hours, steps string) *journey.Definition {
	if hours == "" {
		hours = `"start": "00:00", "end": "24:00"`
	}
	return testkit.MustJourney(`{"name": "` + name + `", "category": "marketing",
		"sender": {"provider": "twilio", "from": "` + from + `", "type": "long_code", "quiet_hours": {` + hours + `, "legal_override": "test journeys"}},
		"steps": ` + steps + `}`)
}

// testSend starts a test send as `starter test` does and returns its
// workflow ID.
func (e *env) testSend(runID string, def *journey.Definition, number string, step *int, now bool) string {
	e.T.Helper()
	id, in, err := launch.TestSend{Options: launch.Options{RunID: e.Run(runID), Journey: def, Region: "US", Keyer: e.Keyer},
		Phone: number, Step: step, Now: now}.Input(time.Now())
	if err != nil {
		e.T.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if started, err := e.Starter().Start(ctx, id, in); err != nil || !started {
		e.T.Fatalf("test send %s: started %v, %v", id, started, err)
	}
	return id
}

func (e *env) resultOf(id string) workflows.JourneyResult {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var res workflows.JourneyResult
	if err := e.Client().GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		e.T.Fatalf("%s: %v", id, err)
	}
	return res
}

func (e *env) statusOf(id string) contract.JourneyStatus {
	e.T.Helper()
	var st contract.JourneyStatus
	v, err := e.Client().QueryWorkflow(context.Background(), id, "", contract.QueryStatus)
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		e.T.Fatal(err)
	}
	return st
}

func (e *env) terminate(id string) {
	e.T.Helper()
	if err := e.Client().TerminateWorkflow(context.Background(), id, "", "test over"); err != nil {
		e.T.Fatal(err)
	}
}

// Issue 18's test send, end to end through the real worker, Postgres and
// the fake Twilio: it honours consent (opt-outs, double opt-in), sends
// only -step K if given, skips waits, waits for the sending window unless
// -now (recorded), and neither counts towards frequency caps nor waits for
// them. Every ledger row of a test send is marked as one.
func TestTestSend(t *testing.T) {
	e := newEnv(t, testSenders(t))
	ctx := context.Background()
	record := func(number, scope string, to contract.ConsentState) {
		t.Helper()
		if _, err := e.App.Store.Record(ctx, contract.ConsentChange{RecipientKey: e.Key(number), Scope: scope, To: to, Source: contract.SourceAdmin}); err != nil {
			t.Fatal(err)
		}
	}
	deals := sendingJourney("deals", "+15550002222", "",
		`[{"sms": "deals first"}, {"wait": "1h"}, {"sms": "deals second"}, {"wait": "1h"}, {"sms": "deals third"}]`)
	club := sendingJourney("club", "+15550001111", "", `[{"opt_in": "Reply YES for club news"}, {"sms": "club news"}]`)
	step := func(k int) *int { return &k }
	wantLedger := func(id string, rows int, now bool) {
		t.Helper()
		entries := pgtest.Ledger(t, e.App.Store, id)
		if len(entries) != rows {
			t.Errorf("%s: %d ledger rows, want %d", id, len(entries), rows)
		}
		for _, en := range entries {
			if !en.Test || en.TestNow != now {
				t.Errorf("%s step %d: ledger test %v, test_now %v; want true, %v", id, en.Step, en.Test, en.TestNow, now)
			}
		}
	}

	t.Run("never reaches an opted-out number", func(t *testing.T) {
		const n = "+14155557001"
		record(n, "program:deals", contract.OptedOut)
		id := e.testSend("optedout", deals, n, nil, true)
		if res := e.resultOf(id); res.State != workflows.StateSkipped || res.Reason != contract.ReasonOptedOut {
			t.Errorf("result %+v, want skipped: opted_out", res)
		}
		if got := e.SentTo(n); len(got) != 0 {
			t.Errorf("the fake Twilio accepted %d messages for the opted-out number, want 0", len(got))
		}
	})

	t.Run("refused to an unconfirmed double opt-in number", func(t *testing.T) {
		const unconfirmed, confirmed = "+14155557002", "+14155557003"
		record(confirmed, "program:club", contract.OptInConfirmed)
		id := e.testSend("doi", club, unconfirmed, nil, false)
		if res := e.resultOf(id); res.State != workflows.StateSkipped || res.Reason != contract.ReasonNotConfirmed {
			t.Errorf("unconfirmed: result %+v, want skipped: not_confirmed", res)
		}
		if res := e.resultOf(e.testSend("doi", club, confirmed, nil, false)); res.Summary != "test send: sent 1" {
			t.Errorf("confirmed: %q, want test send: sent 1", res.Summary)
		}
		if got := e.SentTo(unconfirmed); len(got) != 0 {
			t.Errorf("unconfirmed number got %q; want nothing (and no opt-in request)", got)
		}
		if got := e.SentTo(confirmed); len(got) != 1 || !strings.HasPrefix(got[0], "club news") {
			t.Errorf("confirmed number got %q; want the sms step only", got)
		}
	})

	t.Run("-step K sends only step K; without it waits are skipped", func(t *testing.T) {
		const one, all = "+14155557004", "+14155557005"
		id := e.testSend("step", deals, one, step(2), false)
		if res := e.resultOf(id); res.Summary != "test send: sent 1" {
			t.Errorf("-step 2: %q", res.Summary)
		}
		if got := e.SentTo(one); len(got) != 1 || !strings.HasPrefix(got[0], "deals second") {
			t.Errorf("-step 2 sent %q, want only steps[2]", got)
		}
		wantLedger(id, 1, false)
		id = e.testSend("step", deals, all, nil, false)
		if res := e.resultOf(id); res.Summary != "test send: sent 3" {
			t.Errorf("every step: %q", res.Summary)
		}
		if got := e.SentTo(all); len(got) != 3 {
			t.Errorf("every step sent %q, want 3 messages", got)
		}
		wantLedger(id, 3, false)
	})

	t.Run("-now sends outside the window and is recorded", func(t *testing.T) {
		const n = "+14155557006" // San Francisco
		la, err := time.LoadLocation("America/Los_Angeles")
		if err != nil {
			t.Fatal(err)
		}
		hours := `"start": "13:00", "end": "14:00"`
		if time.Now().In(la).Hour() >= 12 {
			hours = `"start": "08:00", "end": "09:00"`
		}
		closed := sendingJourney("closed", "+15550002222", hours, `[{"sms": "closed now"}]`)
		waiting := e.testSend("window", closed, n, nil, false)
		testkit.Eventually(t, 30*time.Second, "the test send deferred by the window", func() bool {
			return e.statusOf(waiting).DeferredReason == "sending_window"
		})
		if got := e.SentTo(n); len(got) != 0 {
			t.Errorf("sent %q outside the window without -now", got)
		}
		e.terminate(waiting)

		id := e.testSend("now", closed, n, nil, true)
		if res := e.resultOf(id); res.Summary != "test send (now, sending window ignored): sent 1" {
			t.Errorf("-now: %q", res.Summary)
		}
		if got := e.SentTo(n); len(got) != 1 {
			t.Errorf("-now sent %q, want 1 message", got)
		}
		wantLedger(id, 1, true)
		e.replay(id, "journey-test-send-now")
	})

	t.Run("not counted by the frequency cap", func(t *testing.T) {
		const n = "+14155557007"
		one := sendingJourney("capped", "+15550002222", "", `[{"sms": "capped real"}]`)
		// A test send first: the real journey after it still goes at once.
		if res := e.resultOf(e.testSend("cap1", deals, n, step(0), false)); res.Summary != "test send: sent 1" {
			t.Errorf("first test send: %q", res.Summary)
		}
		if err := e.StartJourney("cap-real1", one, n); err != nil {
			t.Fatal(err)
		}
		if res := e.Result("cap-real1", n); res.Summary != "sent 1" {
			t.Errorf("real journey after a test send: %q, want sent 1 at once", res.Summary)
		}
		// The cap (1 per hour) is full now: a test send still goes ...
		if res := e.resultOf(e.testSend("cap2", deals, n, step(0), false)); res.Summary != "test send: sent 1" {
			t.Errorf("test send to a capped recipient: %q, want sent", res.Summary)
		}
		// ... and a real journey waits: the cap is real.
		if err := e.StartJourney("cap-real2", one, n); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 30*time.Second, "the second real journey deferred by the cap", func() bool {
			return e.status("cap-real2", n).DeferredReason == activities.ReasonFrequencyCap
		})
		e.terminate(workflows.JourneyID(e.Run("cap-real2"), e.Key(n)))
		if got := e.SentTo(n); len(got) != 3 {
			t.Errorf("sent %d messages, want 3 (2 test sends, 1 real)", len(got))
		}
	})
}
