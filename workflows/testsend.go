package workflows

import (
	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/journey"
)

// TestSend makes a journey a test send (`starter test`): its message steps
// go to one number at once, waits skipped, through the same consent check,
// fence, ledger and provider as a run's. Only new runs carry it, so the
// histories of running journeys replay unchanged.
type TestSend struct {
	// Step, if set, is the only step sent (an index into the journey's
	// steps); otherwise every message step is.
	Step *int `json:"step,omitempty"`
	// Now sends outside the recipient's sending window (quiet hours and
	// state rules); the ledger and the summary record it.
	Now bool `json:"now,omitempty"`
}

// skips reports whether the test send leaves out step i: waits, opt_in
// steps (a test must not change the number's consent) and, with Step,
// every other step. A nil TestSend is a real journey, which skips nothing.
func (t *TestSend) skips(i int, s journey.Step) bool {
	return t != nil && (s.IsWait() || s.IsOptIn() || t.Step != nil && *t.Step != i)
}

// windowed reports whether a marketing send waits for the sending window.
func (t *TestSend) windowed() bool { return t == nil || !t.Now }

// mark flags a send as a test's for the ledger. A test send does not count
// towards the recipient's frequency caps, nor waits for them.
func (t *TestSend) mark(in *activities.SendInput) {
	if t == nil {
		return
	}
	in.Test, in.TestNow, in.FrequencyCap = true, t.Now, false
}

// label names a test send in its journey's summary.
func (t *TestSend) label(summary string) string {
	switch {
	case t == nil:
		return summary
	case t.Now:
		return "test send (now, sending window ignored): " + summary
	}
	return "test send: " + summary
}
