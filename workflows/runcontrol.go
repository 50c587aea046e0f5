package workflows

import (
	"context"
	"fmt"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

// TellRun tells the running journeys of a run its new state, after a
// pause, resume or stop was committed (store.Store.SetRunState): a stop as
// the cancel signal with ReasonRunStopped, a pause or resume as the run
// signal. It returns how many journeys were signalled.
//
// Sends obey the committed state without it, since each reads the run
// under its lock; the signals make journeys stop at once, hold before a
// send instead of at it, and go on at once after a resume. A held journey
// the resume's signal missed reads the run's state itself after 10 minutes
// (then every 20, 40 and 60); giving the resume again tells it at once.
//
// Journeys are found in the registry by run, and, while the registry still
// holds journeys registered before it kept runs, also through visibility
// (the JourneyRunID search attribute), which lags a little.
func TellRun(ctx context.Context, c client.Client, st *store.Store, run store.Run) (int, error) {
	ids, unplaced, err := st.RunJourneys(ctx, run.ID)
	if err != nil {
		return 0, err
	}
	if unplaced {
		if ids, err = addVisible(ctx, c, run.ID, ids); err != nil {
			return 0, err
		}
	}
	if run.State == contract.RunStopped {
		return activities.SignalJourneys(ctx, c, st, ids, contract.SignalCancel, contract.CancelRequest{Reason: contract.ReasonRunStopped})
	}
	return activities.SignalJourneys(ctx, c, st, ids, contract.SignalRun, contract.RunSignal{State: run.State, Seq: run.Seq})
}

// addVisible adds the running journeys of a run that visibility knows to
// ids.
func addVisible(ctx context.Context, c client.Client, runID string, ids []string) ([]string, error) {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		seen[id] = true
	}
	query := fmt.Sprintf(`%s = %q AND ExecutionStatus = "Running"`, SAJourneyRunID.GetName(), runID)
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token, PageSize: 1000})
		if err != nil {
			return nil, fmt.Errorf("journeys of run %s: %w", runID, err)
		}
		for _, e := range resp.GetExecutions() {
			if id := e.GetExecution().GetWorkflowId(); !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return ids, nil
		}
	}
}
