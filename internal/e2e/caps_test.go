package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
)

// capProgram puts two senders in program "deals", so journeys from either
// count against the same caps; max > 0 adds the program's own cap.
func capProgram(t *testing.T, max int, per string) func(*app.Config) {
	limit := ""
	if max > 0 {
		limit = fmt.Sprintf(`, "frequency_cap": {"max": %d, "per": %q}`, max, per)
	}
	cfg := `{"senders": [
		{"provider": "twilio", "from": "+15550001111", "type": "long_code", "program": "deals"` + limit + `},
		{"provider": "twilio", "from": "+15550003333", "type": "long_code", "program": "deals"` + limit + `}]}`
	path := filepath.Join(t.TempDir(), "senders.json")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(c *app.Config) { c.SendersFile = path }
}

// capJourney is a marketing journey of two SMS steps, wait apart, from
// sender; the bodies name it, so duplicates show.
func capJourney(name, from, wait string) string {
	return `{"name": "` + name + `", "category": "marketing",
		"sender": {"provider": "twilio", "from": "` + from + `", "type": "long_code", "quiet_hours": {"start": "00:00", "end": "24:00", "legal_override": "test journeys run at any hour"}},
		"steps": [{"sms": "` + name + ` first"}, {"wait": "` + wait + `"}, {"sms": "` + name + ` second"}]}`
}

// capViolations counts, per recipient, the rolling periods holding more
// than max of times (each recipient's counted or accepted sends): a send
// whose max-th predecessor is less than per - tolerance before it.
func capViolations(times map[string][]time.Time, max int, per, tolerance time.Duration) (violations int) {
	for _, ts := range times {
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
		for i := max; i < len(ts); i++ {
			if ts[i].Sub(ts[i-max]) < per-tolerance {
				violations++
			}
		}
	}
	return violations
}

// The frequency cap race of issue 17: 5 journeys of one program (from two
// of its senders) start at once for 50 Florida recipients, each with 2
// marketing steps. Florida allows 3 per rolling 24 hours, shortened here to
// capPer. Counted: rolling periods with more than 3 sends, by the ledger's
// count times and by the fake Twilio's accept times; messages never sent
// once the cap frees (every journey must end "sent 2"); duplicates.
func TestFrequencyCapRace(t *testing.T) {
	const (
		recipients, journeys = 50, 5
		capMax               = 3
		capPer               = 8 * time.Second
		// Accept times trail count times by the provider call's latency,
		// which varies under load: the fake's log may show two sends a
		// little less than capPer apart although they were counted
		// capPer apart.
		acceptTolerance = time.Second
	)
	e := newEnv(t, capProgram(t, 0, ""), func(c *app.Config) { c.StateCapPeriod = capPer })
	numbers := make([]string, recipients)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+1305555%04d", 3000+i) // Miami
	}
	e.Twilio.SetDelay(5 * time.Millisecond) // keep sends in flight long enough to race
	defs := make([]*journey.Definition, journeys)
	for j := range defs {
		from := []string{"+15550001111", "+15550003333"}[j%2]
		defs[j] = testkit.MustJourney(capJourney(fmt.Sprintf("deal%d", j), from, "2s"))
	}
	// Each recipient's 5 journeys start together, 16 recipients at a time
	// (the embedded server refuses a burst of 250 starts on 2 cores).
	var (
		wg  sync.WaitGroup
		sem = make(chan struct{}, 16)
	)
	start := time.Now()
	for _, n := range numbers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			for j, def := range defs {
				if err := e.StartJourney(fmt.Sprintf("cap%d", j), def, n); err != nil {
					t.Errorf("start: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	lost := 0
	for j := range journeys {
		for _, n := range numbers {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			var res struct{ Summary string }
			err := e.Client().GetWorkflow(ctx, workflows.JourneyID(e.Run(fmt.Sprintf("cap%d", j)), e.Key(n)), "").Get(ctx, &res)
			cancel()
			if err != nil {
				t.Fatalf("journey cap%d of %s: %v", j, phone.Mask(n), err)
			}
			if res.Summary != "sent 2" {
				lost++
				t.Errorf("journey cap%d of %s: %s, want sent 2", j, phone.Mask(n), res.Summary)
			}
		}
	}
	took := time.Since(start)

	accepted := map[string][]time.Time{}
	seen := map[string]bool{}
	duplicates := 0
	for _, m := range e.Twilio.Accepted() {
		if seen[m.To+"|"+m.Body] {
			duplicates++
		}
		seen[m.To+"|"+m.Body] = true
		accepted[m.To] = append(accepted[m.To], m.At)
	}
	counted := e.countedSends(t)
	byLedger := capViolations(counted, capMax, capPer, 0)
	byProvider := capViolations(accepted, capMax, capPer, acceptTolerance)
	t.Logf("%d journeys, %d messages accepted in %v (cap %d per %v); over the cap: %d by the ledger, %d by the provider's log; lost %d; duplicates %d",
		recipients*journeys, len(e.Twilio.Accepted()), took.Round(time.Millisecond), capMax, capPer, byLedger, byProvider, lost, duplicates)
	if byLedger+byProvider+lost+duplicates != 0 {
		t.Errorf("violations: over the cap %d (ledger) %d (provider), lost %d, duplicates %d; want 0", byLedger, byProvider, lost, duplicates)
	}
	if want := recipients * journeys * 2; len(e.Twilio.Accepted()) != want {
		t.Errorf("accepted %d messages, want %d", len(e.Twilio.Accepted()), want)
	}
	// 10 messages, 3 per period: the last can go only after 3 periods.
	if least := 3 * capPer; took < least {
		t.Errorf("all sent in %v, faster than the cap allows (%v)", took, least)
	}
}

// A program's own cap from the senders file, for a recipient no state caps
// (San Francisco): the second journey's message waits, visibly, until the
// first leaves the period.
func TestProgramFrequencyCap(t *testing.T) {
	const per = 3 * time.Second
	e := newEnv(t, capProgram(t, 1, per.String()))
	const ada = "+14155557001"
	def := testkit.MustJourney(`{"name": "one", "category": "marketing",
		"sender": {"provider": "twilio", "from": "+15550003333", "type": "long_code", "quiet_hours": {"start": "00:00", "end": "24:00", "legal_override": "test journeys run at any hour"}},
		"steps": [{"sms": "one of two"}]}`)
	if err := e.StartJourney("p1", def, ada); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the first message", func() bool { return len(e.SentTo(ada)) == 1 })
	def.Steps[0].SMS = "two of two"
	def.Sender.From = "+15550001111" // the program's other sender
	if err := e.StartJourney("p2", def, ada); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the second journey deferred", func() bool {
		st := e.status("p2", ada)
		return st.DeferredReason == activities.ReasonFrequencyCap && !st.DeferredUntil.IsZero()
	})
	if res := e.Result("p2", ada); res.Summary != "sent 1" {
		t.Errorf("second journey: %s, want sent 1", res.Summary)
	}
	acc := e.Twilio.Accepted()
	if len(acc) != 2 || acc[1].At.Sub(acc[0].At) < per-200*time.Millisecond {
		t.Errorf("accepted %d messages; want 2, at least %v apart", len(acc), per)
	}
	e.replay(workflows.JourneyID(e.Run("p2"), e.Key(ada)), "journey-frequency-capped")
}

// countedSends returns the ledger's count times per recipient number.
func (e *env) countedSends(t *testing.T) map[string][]time.Time {
	t.Helper()
	byKey := map[string]string{}
	for _, m := range e.Twilio.Accepted() {
		byKey[e.Key(m.To)] = m.To
	}
	rows, err := e.App.Store.Pool().Query(context.Background(),
		`SELECT recipient_key, counted_at FROM send_ledger WHERE counted_at IS NOT NULL AND status IN ('attempting', 'sent', 'unknown')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]time.Time{}
	for rows.Next() {
		var (
			key string
			at  time.Time
		)
		if err := rows.Scan(&key, &at); err != nil {
			t.Fatal(err)
		}
		out[byKey[key]] = append(out[byKey[key]], at)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
