package workflows_test

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"

	"github.com/stopline/stopline/workflows"
)

// TestReplayRecordedHistories replays histories recorded from the e2e tests
// (STOPLINE_RECORD_HISTORIES=<label> writes them, see README) against the
// current workflow code. Journeys wait for days: a change that no longer
// replays them would fail every running journey on deploy, so it must fail
// here first (use workflow.GetVersion for such changes).
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.history.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories in testdata (%v)", err)
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflow(workflows.Journey)
	r.RegisterWorkflow(workflows.OptOut)
	for _, f := range files {
		if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
