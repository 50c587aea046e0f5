package webhook_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/stopline/stopline/internal/webhook"
	"github.com/stopline/stopline/workflows"
)

// signalClient is a Temporal client whose SignalWithStart fails for the
// workflow IDs in failFor and records the others.
type signalClient struct {
	client.Client
	failFor map[string]bool
	mu      sync.Mutex
	got     []string
}

func (c *signalClient) SignalWithStartWorkflow(_ context.Context, id, _ string, _ any, _ client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	if c.failFor[id] {
		return nil, errors.New("unavailable")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, id)
	return nil, nil
}

// One recipient's failing signal must not undo the delivery of the others:
// they would be signalled again on every sweep until it succeeds.
func TestRedriverKeepsDeliveredSignalsWhenOneFails(t *testing.T) {
	f := newFixture(t)
	const ok, failing = "+14155553201", "+14155553202"
	f.text(t, ok, senderA, "STOP")
	f.text(t, failing, senderA, "STOP")
	c := &signalClient{failFor: map[string]bool{workflows.RecipientID(f.acts.Keyer.Key(failing)): true}}
	r := webhook.NewRedriver(f.store, c, "q", slog.New(slog.DiscardHandler))

	delivered, err := r.Sweep(t.Context())
	if err == nil || delivered != 1 {
		t.Fatalf("sweep delivered %d, error %v; want 1 and the failure", delivered, err)
	}
	if n, err := f.store.PendingSignalCount(t.Context()); err != nil || n != 1 {
		t.Errorf("pending after the sweep = %d, %v; want 1 (the failing recipient's)", n, err)
	}
	if _, err := r.Sweep(t.Context()); err == nil || len(c.got) != 1 {
		t.Errorf("second sweep: error %v, signals %v; want the failure again and no redelivery", err, c.got)
	}
}
