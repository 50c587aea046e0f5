package launch

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/stopline/stopline/internal/temporalns"
	"github.com/stopline/stopline/workflows"
)

// UnmappedRetry bounds how long a start refused for search attributes the
// server has not picked up yet is retried: its namespace cache refreshes
// in about 10 s.
const UnmappedRetry = time.Minute

// TemporalStarter starts journeys on a Temporal cluster.
type TemporalStarter struct {
	Client    client.Client
	TaskQueue string
	// OnUnmapped, if set, is told of each refusal that will be retried.
	OnUnmapped func(error)
}

// Start implements Starter. The workflow ID is the journey's identity: a
// second start of the same ID, running or closed, is refused by the server.
func (t TemporalStarter) Start(ctx context.Context, id string, in workflows.JourneyInput) (bool, error) {
	deadline := time.Now().Add(UnmappedRetry)
	for {
		started, err := t.start(ctx, id, in)
		if !temporalns.IsUnmapped(err) || time.Now().After(deadline) {
			return started, err
		}
		if t.OnUnmapped != nil {
			t.OnUnmapped(err)
		}
		select {
		case <-ctx.Done():
			return false, err
		case <-time.After(time.Second):
		}
	}
}

func (t TemporalStarter) start(ctx context.Context, id string, in workflows.JourneyInput) (bool, error) {
	tq := t.TaskQueue
	if tq == "" {
		tq = workflows.TaskQueue
	}
	opts := client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                tq,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without this the SDK hands back the running workflow as if started.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		// What the Temporal UI shows of the journey at a glance: no PII.
		StaticSummary:         workflows.StaticSummary(&in.Journey, in.RunID),
		StaticDetails:         workflows.StaticDetails(&in.Journey, in.RunID),
		TypedSearchAttributes: workflows.StartSearchAttributes(in),
	}
	if in.Test != nil {
		opts.StaticSummary = "test send"
		if in.Test.Now {
			opts.StaticSummary += " (now: sending window ignored)"
		}
	}
	_, err := t.Client.ExecuteWorkflow(ctx, opts, workflows.Journey, in)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return false, nil
	}
	return err == nil, err
}
