package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows"
)

// runReport implements `starter report -run-id ID [-format text|csv]`:
// a run's outcome from Postgres (journey outcomes and the send ledger).
func runReport(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	runID := fs.String("run-id", "", "the run to report on (required)")
	format := fs.String("format", "text", "text: counts by state and reason, sends per step, STOP-to-stop times; csv: one row per journey")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *runID == "" {
		return errors.New("report: -run-id is required")
	}
	if *format != "text" && *format != "csv" {
		return fmt.Errorf("report: -format %q: want text or csv", *format)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	st, err := openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	prefixes := []string{workflows.JourneyID(*runID, ""), workflows.TestSendID(*runID, "")}
	if *format == "csv" {
		return writeOutcomesCSV(ctx, w, st, *runID, prefixes)
	}
	r, err := st.Report(ctx, *runID, prefixes...)
	if err != nil {
		return err
	}
	return printReport(w, *runID, r)
}

// printReport writes a run report for people. States and reasons are
// printed as stored, so new ones appear without a change here.
func printReport(w io.Writer, runID string, r *store.RunReport) error {
	ended := 0
	for _, o := range r.Outcomes {
		ended += o.Journeys
	}
	fmt.Fprintf(w, "run %s: %d journeys ended, %d running\n", runID, ended, r.Running)
	for _, o := range r.Outcomes {
		label := o.State
		if o.Reason != "" {
			label += " " + o.Reason
		}
		if o.Step >= 0 {
			label += fmt.Sprintf(" at step %d", o.Step)
		}
		fmt.Fprintf(w, "  %-36s %7d\n", label, o.Journeys)
	}
	fmt.Fprintf(w, "  %-36s %7d  (%d deferrals)\n", "deferred (held back at least once)", r.Deferred, r.Deferrals)
	fmt.Fprintf(w, "  %-36s %7d  (%d sends)\n", "unknown (a send of unknown outcome)", r.Unresolved, r.UnknownSends)
	fmt.Fprintln(w, "SMS per step (send ledger):")
	for i := 0; i < len(r.Steps); {
		step, line := r.Steps[i].Step, ""
		for ; i < len(r.Steps) && r.Steps[i].Step == step; i++ {
			if line != "" {
				line += ", "
			}
			line += fmt.Sprintf("%s %d", r.Steps[i].Status, r.Steps[i].Rows)
		}
		fmt.Fprintf(w, "  step %d: %s\n", step, line)
	}
	if r.StopToStop.N == 0 {
		_, err := fmt.Fprintln(w, "STOP to stop: no journey of this run was stopped by a STOP")
		return err
	}
	_, err := fmt.Fprintf(w, "STOP to stop (%d journeys): median %s, p99 %s\n", r.StopToStop.N,
		r.StopToStop.Median.Round(time.Millisecond), r.StopToStop.P99.Round(time.Millisecond))
	return err
}

// writeOutcomesCSV writes one row per journey of the run, ended or running.
func writeOutcomesCSV(ctx context.Context, w io.Writer, st *store.Store, runID string, prefixes []string) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"workflow_id", "run_id", "recipient_key", "state", "reason", "step", "sent", "unknown", "deferrals", "stop_committed_at", "ended_at"})
	err := st.JourneyOutcomes(ctx, runID, prefixes, func(o store.JourneyOutcome) error {
		return cw.Write([]string{o.WorkflowID, o.RunID, o.RecipientKey, o.State, o.Reason, step(o.Step),
			strconv.Itoa(o.Sent), strconv.Itoa(o.Unknown), strconv.Itoa(o.Deferrals), rfc3339(o.StopCommittedAt), rfc3339(o.EndedAt)})
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

func step(i int) string {
	if i < 0 {
		return ""
	}
	return strconv.Itoa(i)
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
