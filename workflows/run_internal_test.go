package workflows

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/consent"
	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/metrics"
	"github.com/stopline/stopline/internal/sms"
	"github.com/stopline/stopline/workflows/contract"
)

// A stopped run's journey counts run_stopped once, whichever the journey
// learns first: the stop's cancel signal (countRunStopped) or the answer of
// a send the run refused (count). Both come while a send is in flight, in
// either order; the test environment answers a cancelled activity at once,
// so the two calls are made here in each order.
func TestRunStoppedCountedOnce(t *testing.T) {
	refused := activities.SendResult{Status: consent.Skipped, Reason: contract.ReasonRunStopped}
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
			set := metrics.New(slog.New(slog.DiscardHandler))
			defer set.Close()
			h, err := set.SDKHandler()
			if err != nil {
				t.Fatal(err)
			}
			var s testsuite.WorkflowTestSuite
			s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
			s.SetMetricsHandler(h)
			env := s.NewTestWorkflowEnvironment()
			var o outcome
			env.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
				ctx = metrics.ForJourney(ctx, sms.ProviderTwilio, "marketing")
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
			rec := httptest.NewRecorder()
			set.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			body, _ := io.ReadAll(rec.Body)
			const series = `stopline_sms_total{category="marketing",outcome="run_stopped",provider="twilio"} `
			var got []string
			for _, l := range strings.Split(string(body), "\n") {
				if strings.HasPrefix(l, "stopline_sms_total{") {
					got = append(got, l)
				}
			}
			if len(got) != 1 || got[0] != series+"1" {
				t.Errorf("counted %q, want %q", got, series+"1")
			}
		})
	}
}
