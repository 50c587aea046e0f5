package workflows_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// A journey held by its run's pause whose resume or stop was committed but
// never told (the signalling failed, or the starter died) reads its run's
// state after 10 minutes, then after 20 more, and adopts it: it goes on
// after a resume and ends after a stop.
func TestHeldJourneyReadsItsRun(t *testing.T) {
	tests := []struct {
		name      string
		committed contract.RunState
		wantState string
		wantSent  int
	}{
		{"resumed, not told", contract.RunRunning, workflows.StateCompleted, 2},
		{"stopped, not told", contract.RunStopped, workflows.StateStopped, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.registered = contract.RunSignal{State: contract.RunPaused, Seq: 1}
			var reads atomic.Int32
			w.env.OnActivity(a.CurrentRun, mock.Anything, "run1").Return(
				func(context.Context, string) (contract.RunSignal, error) {
					if reads.Add(1) == 1 {
						return w.registered, nil // still paused at the first read
					}
					return contract.RunSignal{State: tt.committed, Seq: 2}, nil
				})
			res, err := w.run(input())
			if err != nil {
				t.Fatal(err)
			}
			if res.State != tt.wantState || res.Sent != tt.wantSent || reads.Load() != 2 {
				t.Errorf("%s after %d reads of the run, want %s with %d sent after 2 reads", res.Summary, reads.Load(), tt.wantState, tt.wantSent)
			}
			if tt.committed == contract.RunStopped && res.Reason != contract.ReasonRunStopped {
				t.Errorf("reason %q, want %s", res.Reason, contract.ReasonRunStopped)
			}
			if want := daytime.Add(30 * time.Minute); len(w.sentAt) > 0 && w.sentAt[0].Before(want) {
				t.Errorf("first send at %v, before the second read of the run (%v)", w.sentAt[0], want)
			}
		})
	}
}
