package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/store"
)

func TestPrintReport(t *testing.T) {
	r := &store.RunReport{
		Running: 12,
		Outcomes: []store.OutcomeCount{
			{State: "completed", Step: -1, Journeys: 940},
			{State: "failed", Reason: "send failed", Step: -1, Journeys: 1},
			{State: "skipped", Reason: "opted_out", Step: -1, Journeys: 31},
			{State: "stopped", Reason: "opted_out", Step: 1, Journeys: 24},
			{State: "stopped", Reason: "run_stopped", Step: 2, Journeys: 3},
		},
		Deferred: 210, Deferrals: 233, Unresolved: 1, UnknownSends: 1,
		Steps:      []store.StepCount{{Step: 0, Status: "sent", Rows: 999}, {Step: 0, Status: "unknown", Rows: 1}, {Step: 2, Status: "sent", Rows: 940}},
		StopToStop: store.Latency{N: 24, Median: 180 * time.Millisecond, P99: 920 * time.Millisecond},
	}
	var b strings.Builder
	if err := printReport(&b, "welcome-20261201", r); err != nil {
		t.Fatal(err)
	}
	want := `run welcome-20261201: 999 journeys ended, 12 running
  completed                                940
  failed send failed                         1
  skipped opted_out                         31
  stopped opted_out at step 1               24
  stopped run_stopped at step 2              3
  deferred (held back at least once)       210  (233 deferrals)
  unknown (a send of unknown outcome)        1  (1 sends)
SMS per step (send ledger):
  step 0: sent 999, unknown 1
  step 2: sent 940
STOP to stop (24 journeys): median 180ms, p99 920ms
`
	if b.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	if err := printReport(&b, "empty", &store.RunReport{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "no journey of this run was stopped by a STOP") {
		t.Errorf("empty report:\n%s", b.String())
	}
}

func TestReportFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "-run-id is required"},
		{[]string{"-run-id", "r1", "-format", "xml"}, `-format "xml": want text or csv`},
	} {
		err := runReport(tt.args, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("report %q: err = %v, want %q", tt.args, err, tt.want)
		}
	}
}
