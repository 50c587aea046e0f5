package launch

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/stopline/stopline/workflows"
)

// TestSend is one test send (starter test): a journey's message steps, or
// one of them, to one number, waits skipped.
type TestSend struct {
	Options    // RunID (default: test-<journey>-<UTC time>), Journey, Region, Keyer
	Phone      string
	Attributes map[string]string
	Step       *int // the only step sent, an index into the journey's steps; nil for every message step
	Now        bool // send outside the sending window
}

// Input returns the test send's workflow ID and input, or says what is
// wrong with it, naming the flag.
func (t TestSend) Input(now time.Time) (string, workflows.JourneyInput, error) {
	if err := t.checkStep(); err != nil {
		return "", workflows.JourneyInput{}, err
	}
	if t.RunID == "" {
		t.RunID = "test-" + t.Journey.Name + "-" + now.UTC().Format("20060102T150405.000Z")
	}
	attrs := maps.Clone(t.Attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	in, _, reason := t.input(t.Phone, attrs)
	if reason != "" {
		return "", workflows.JourneyInput{}, errors.New("-to/-attr: " + reason)
	}
	in.Test = &workflows.TestSend{Step: t.Step, Now: t.Now}
	return workflows.TestSendID(t.RunID, in.RecipientKey), in, nil
}

// checkStep refuses a -step that is no message step, and a journey with
// none: a test skips waits and opt_in steps.
func (t TestSend) checkStep() error {
	steps := t.Journey.Steps
	if t.Step == nil {
		for _, s := range steps {
			if !s.IsWait() && !s.IsOptIn() {
				return nil
			}
		}
		return errors.New("the journey has no sms step to test (a test send skips waits and opt_in steps)")
	}
	k := *t.Step
	switch {
	case k < 0 || k >= len(steps):
		return fmt.Errorf("-step %d: the journey's steps are steps[0] to steps[%d]", k, len(steps)-1)
	case steps[k].IsWait():
		return fmt.Errorf("-step %d: steps[%d] is a wait; a test send sends an sms step", k, k)
	case steps[k].IsOptIn():
		return fmt.Errorf("-step %d: steps[%d] is an opt_in step; a test send must not change the number's consent", k, k)
	}
	return nil
}
