package e2e

import (
	"context"
	"os"
	"path/filepath"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/worker"

	"github.com/stopline/stopline/workflows"
)

// recordHistories names the environment variable that makes the e2e tests
// also write the histories they replay to workflows/testdata, where
// workflows' replay test keeps checking that later code still replays them
// (a change that would break running workflows fails there).
const recordHistories = "STOPLINE_RECORD_HISTORIES"

// replay fetches a finished or running workflow's history and replays it
// against the current workflow code: non-determinism fails the test.
func (e *env) replay(workflowID, name string) {
	e.T.Helper()
	ctx := context.Background()
	hist := &historypb.History{}
	it := e.Client().GetWorkflowHistory(ctx, workflowID, "", false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			e.T.Fatalf("history of %s: %v", name, err)
		}
		hist.Events = append(hist.Events, ev)
	}
	// Marshalled before the replay, which merges the workflow's upserts
	// into its start event's search attributes in place.
	data, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		e.T.Fatal(err)
	}
	r := worker.NewWorkflowReplayer()
	workflows.Register(r)
	if err := r.ReplayWorkflowHistory(nil, hist); err != nil {
		e.T.Fatalf("replay of %s (%d events): %v", name, len(hist.Events), err)
	}
	if os.Getenv(recordHistories) == "" {
		return
	}
	// Files are labelled by the code that recorded them (the variable's
	// value): older labels stay, as the histories older code left running.
	path := filepath.Join("..", "..", "workflows", "testdata", os.Getenv(recordHistories)+"-"+name+".history.json")
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		e.T.Fatal(err)
	}
}
