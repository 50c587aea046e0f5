package webhook

import (
	"context"
	"time"
)

// Intake capacity defaults (see Config).
const (
	DefaultIntakeSlots   = 16
	DefaultKeywordSlots  = 8
	DefaultIntakeWait    = 5 * time.Second
	intakeRetryAfterSecs = "2"
)

// gate caps concurrent intakes. Plain messages take only the shared slots;
// urgent ones (keywords, provider opt-outs) take a shared slot or one of the
// slots kept for them, so a flood of plain messages cannot make a STOP wait
// out its bound or be refused.
type gate struct {
	shared, reserved chan struct{}
	wait             time.Duration
}

func newGate(shared, reserved int, wait time.Duration) *gate {
	return &gate{shared: make(chan struct{}, shared), reserved: make(chan struct{}, reserved), wait: wait}
}

// enter waits up to the gate's bound for a slot. It returns the release
// function, or nil when no slot freed in time (or ctx ended).
func (g *gate) enter(ctx context.Context, urgent bool) func() {
	release := func(c chan struct{}) func() { return func() { <-c } }
	select { // a free shared slot first, so the reserve stays for a burst
	case g.shared <- struct{}{}:
		return release(g.shared)
	default:
	}
	reserved := g.reserved
	if !urgent {
		reserved = nil // a nil channel never receives: plain messages wait for shared slots only
	}
	timer := time.NewTimer(g.wait)
	defer timer.Stop()
	select {
	case g.shared <- struct{}{}:
		return release(g.shared)
	case reserved <- struct{}{}:
		return release(g.reserved)
	case <-timer.C:
	case <-ctx.Done():
	}
	return nil
}
