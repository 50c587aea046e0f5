package workflows_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/workflows"
)

// A test send (starter test) goes through the consent check and the send
// activity like a journey, but skips waits and opt_in steps, sends only
// -step K if given, never counts towards frequency caps, and waits for
// the sending window unless Now, which its sends and summary record.
func TestJourneyTestSend(t *testing.T) {
	night := time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC) // midnight in San Francisco
	step := func(k int) *int { return &k }
	tests := []struct {
		name    string
		start   time.Time
		test    workflows.TestSend
		optIn   bool      // the journey opens with an opt_in step
		steps   []int     // sent
		firstAt time.Time // when the first send happens
		summary string
	}{
		{"every sms step, waits skipped", daytime, workflows.TestSend{}, false, []int{0, 2}, daytime, "test send: sent 2"},
		{"only step 2", daytime, workflows.TestSend{Step: step(2)}, false, []int{2}, daytime, "test send: sent 1"},
		{"opt_in step skipped", daytime, workflows.TestSend{}, true, []int{1, 3}, daytime, "test send: sent 2"},
		{"night waits for the window", night, workflows.TestSend{Step: step(0)}, false, []int{0}, daytime, "test send: sent 1"},
		{"now sends at night", night, workflows.TestSend{Now: true}, false, []int{0, 2}, night,
			"test send (now, sending window ignored): sent 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.env.SetStartTime(tt.start)
			var timers []time.Duration
			w.env.SetOnTimerScheduledListener(func(_ string, d time.Duration) { timers = append(timers, d) })
			in := input()
			if tt.optIn {
				in.Journey.Steps = append([]journey.Step{{OptIn: "Reply YES for deals"}}, in.Journey.Steps...)
			}
			in.Test = &tt.test
			res, err := w.run(in)
			if err != nil {
				t.Fatal(err)
			}
			if res.Summary != tt.summary {
				t.Errorf("summary %q, want %q", res.Summary, tt.summary)
			}
			var sent []int
			for _, s := range w.sends {
				sent = append(sent, s.Step)
				if !s.Test || s.TestNow != tt.test.Now || s.FrequencyCap {
					t.Errorf("send %d: Test %v, TestNow %v, FrequencyCap %v; want a test's, not capped", s.Step, s.Test, s.TestNow, s.FrequencyCap)
				}
				if s.NotAfter.IsZero() != tt.test.Now {
					t.Errorf("send %d: NotAfter %v; want it bounded by the window unless now", s.Step, s.NotAfter)
				}
			}
			if !slices.Equal(sent, tt.steps) {
				t.Errorf("sent steps %v, want %v", sent, tt.steps)
			}
			if len(w.sentAt) > 0 && !w.sentAt[0].Equal(tt.firstAt) {
				t.Errorf("first send at %v, want %v", w.sentAt[0].UTC(), tt.firstAt)
			}
			if slices.Contains(w.events(), "request opt-in") {
				t.Error("a test send asked for an opt-in")
			}
			if tt.firstAt.Equal(tt.start) && len(timers) > 0 {
				t.Errorf("timers %v; a test send waits for nothing", timers)
			}
		})
	}
}
