package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// Erased is what EraseRecipient did in Temporal.
type Erased struct {
	Cancelled int // running journeys asked to cancel
	Deleted   int // executions deleted (journeys and OptOut runs)
}

// EraseRecipient removes a forgotten recipient from Temporal: it cancels
// their running journeys (those in registered, from the journey registry,
// and those visibility lists under the RecipientKey search attribute),
// waits up to wait for them to close, terminates their per-recipient workflow, and
// deletes all those executions with DeleteWorkflowExecution. What it misses
// (visibility is eventually consistent) is removed by the namespace's
// retention once closed.
func EraseRecipient(ctx context.Context, c client.Client, namespace, recipientKey string, registered []string, wait time.Duration) (Erased, error) {
	var out Erased
	type execution struct{ id, run string }
	seen := map[execution]bool{}
	ids := map[string]bool{}
	var execs []execution
	add := func(id, run string) {
		if e := (execution{id, run}); !seen[e] {
			seen[e], ids[id] = true, true
			execs = append(execs, e)
		}
	}
	query := fmt.Sprintf("%s = '%s' OR WorkflowId = '%s'", SARecipientKey.GetName(), recipientKey, RecipientID(recipientKey))
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace, Query: query, NextPageToken: token})
		if err != nil {
			return out, fmt.Errorf("list the recipient's workflows: %w", err)
		}
		for _, e := range resp.Executions {
			add(e.Execution.GetWorkflowId(), e.Execution.GetRunId())
		}
		if token = resp.NextPageToken; len(token) == 0 {
			break
		}
	}
	// Registered journeys visibility did not list yet; a journey it listed
	// is already in, by its run.
	for _, id := range append(registered, RecipientID(recipientKey)) {
		if !ids[id] {
			add(id, "")
		}
	}

	var errs []error
	var journeys []execution
	for _, e := range execs {
		if e.id == RecipientID(recipientKey) {
			continue
		}
		err := c.CancelWorkflow(ctx, e.id, e.run)
		switch {
		case err == nil:
			out.Cancelled++
			journeys = append(journeys, e)
		case !closed(err):
			errs = append(errs, fmt.Errorf("cancel %s: %w", e.id, err))
		}
	}
	// A cancelled journey deregisters itself; give it the time to.
	deadline := time.Now().Add(wait)
	for _, e := range journeys {
		for time.Now().Before(deadline) {
			d, err := c.DescribeWorkflowExecution(ctx, e.id, e.run)
			if err != nil || d.WorkflowExecutionInfo.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := c.TerminateWorkflow(ctx, RecipientID(recipientKey), "", "recipient forgotten"); err != nil && !closed(err) {
		errs = append(errs, fmt.Errorf("terminate %s: %w", RecipientID(recipientKey), err))
	}
	for _, e := range execs {
		_, err := c.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
			Namespace: namespace, WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: e.id, RunId: e.run}})
		switch {
		case err == nil:
			out.Deleted++
		case !closed(err):
			errs = append(errs, fmt.Errorf("delete %s: %w", e.id, err))
		}
	}
	return out, errors.Join(errs...)
}

// closed reports an error saying the workflow is gone or already closed.
func closed(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
