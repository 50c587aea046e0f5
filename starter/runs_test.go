package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
)

// A run command to a run Postgres does not know fails naming the run ID
// and changes nothing, unless -create; a start into a paused or stopped
// run is warned about.
func TestRunCommandsAndWarnings(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1") // nothing to tell
	dbURL := pgtest.NewDatabase(t)
	t.Setenv("DATABASE_URL", dbURL)
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args        []string
		wantErr     string // "" for none
		wantOut     string
		wantKnown   string // a run Postgres knows afterwards, if any
		wantUnknown string // one it still does not know, if any
	}{
		{args: []string{"stop", "-run-id", "sprnig"}, wantErr: "run sprnig: no such run: no journey of it has started and no command was given to it; check -run-id, or give -create", wantUnknown: "sprnig"},
		{args: []string{"pause", "-run-id", "spring", "-create"}, wantErr: "telling the run's journeys", wantOut: "run spring is paused", wantKnown: "spring"},
		{args: []string{"stop", "-run-id", "spring"}, wantErr: "telling the run's journeys", wantOut: "run spring is stopped", wantKnown: "spring"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := runRunCommand(tt.args[0], append(tt.args[1:], "-dev"), &out)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(out.String(), tt.wantOut) {
			t.Errorf("%q: error %v, output %q; want an error containing %q, output containing %q", tt.args, err, out.String(), tt.wantErr, tt.wantOut)
		}
		for run, want := range map[string]bool{tt.wantKnown: true, tt.wantUnknown: false} {
			if run == "" {
				continue
			}
			if known, err := st.RunKnown(ctx, run); err != nil || known != want {
				t.Errorf("%q: run %s known %v (%v), want %v", tt.args, run, known, err, want)
			}
		}
	}
	if _, _, err := st.SetRunState(ctx, store.RunCommand{RunID: "held", To: "paused", Actor: "test", Create: true}); err != nil {
		t.Fatal(err)
	}
	for run, want := range map[string]string{"held": "run held is paused", "spring": "run spring is stopped", "new": ""} {
		var out bytes.Buffer
		prepareRun(ctx, &out, run, false)
		if got := out.String(); want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("start into %s: %q, want a warning containing %q", run, got, want)
		}
		// A launch records its run: a stop right after it is taken.
		if known, err := st.RunKnown(ctx, run); err != nil || !known {
			t.Errorf("after a start into %s: known %v (%v), want true", run, known, err)
		}
	}
}
