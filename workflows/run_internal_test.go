package workflows

import (
	"testing"

	"go.temporal.io/sdk/workflow"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/metrics"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

// A stopped run's journey counts run_stopped once, whichever the journey
// learns first: the stop's cancel signal (countRunStopped) or the answer of
// a send the run refused (count). Both come while a send is in flight, in
// either order; the test environment answers a cancelled activity at once,
// so the two calls are made here in each order.
func TestRunStoppedCountedOnce(t *testing.T) {
	refused := activities.SendResult{Status: contract.LedgerSkipped, Reason: contract.ReasonRunStopped}
	tests := []struct {
		name  string
		learn func(r *journeyRun) outcome
	}{
		{"cancel signal, then the send's answer", func(r *journeyRun) outcome { r.countRunStopped(); return r.count(0, refused) }},
		{"the send's answer, then the cancel signal", func(r *journeyRun) outcome { o := r.count(0, refused); r.countRunStopped(); return o }},
		{"the send's answer only", func(r *journeyRun) outcome { return r.count(0, refused) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, env := testkit.MetricsWorkflowEnv(t)
			var o outcome
			env.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
				ctx = metrics.ForJourney(ctx, contract.ProviderTwilio, "marketing")
				r := &journeyRun{ctx: ctx, stepCtx: ctx, def: journey.Definition{Steps: make([]journey.Step, 2)}}
				o = tt.learn(r)
				return nil
			}, workflow.RegisterOptions{Name: "learn"})
			env.ExecuteWorkflow("learn")
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			if o != stopped {
				t.Errorf("outcome %+v, want stopped", o)
			}
			const series = `stopline_sms_total{category="marketing",outcome="run_stopped",provider="twilio"} `
			got := testkit.Scrape(set, "stopline_sms_total{")
			if len(got) != 1 || got[0] != series+"1" {
				t.Errorf("counted %q, want %q", got, series+"1")
			}
		})
	}
}
