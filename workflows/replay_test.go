package workflows_test

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"

	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/workflows"
)

// TestReplayRecordedHistories replays histories recorded from the e2e tests
// (STOPLINE_RECORD_HISTORIES=<label> writes them, see README) against the
// current workflow code. Journeys wait for days: a change that no longer
// replays them would fail every running journey on deploy, so it must fail
// here first (use workflow.GetVersion for such changes).
//
// Files recorded before shape25 (every other label) show the final
// search attributes in their start event: the recording then marshalled a
// history after replaying it, and the replay merges upserts into the start
// event in place. Their code paths (perf16-fewer-commands below 3) never
// read the start's search attributes, so they replay as recorded.
//
// The histories hold plain payloads, written before payload encryption: a
// worker with PAYLOAD_KEYS replays them too, as it must for the journeys
// that were running when encryption was turned on.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.history.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories in testdata (%v)", err)
	}
	keyring, err := codec.Parse(codec.DevKeys)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		codec *codec.Codec
	}{{"plain", nil}, {"with PAYLOAD_KEYS", keyring}} {
		r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
			DataConverter: codec.DataConverter(tt.codec), FailureConverter: codec.FailureConverter(tt.codec),
		})
		if err != nil {
			t.Fatal(err)
		}
		workflows.Register(r)
		for _, f := range files {
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Errorf("%s: %s: %v", tt.name, f, err)
			}
		}
	}
}
