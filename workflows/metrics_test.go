package workflows_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// The journey counts each SMS step's outcome once, through the workflow's
// metrics handler: one count per step that reached an outcome, none for a
// step never tried.
func TestJourneyCountsStepOutcomes(t *testing.T) {
	const series = `stopline_sms_total{category="marketing",outcome="%s",provider="twilio"} `
	cases := []struct {
		name    string
		allowed bool
		capped  bool // the first send comes back deferred by a frequency cap
		send    activities.SendResult
		sendErr error
		want    map[string]string // outcome -> count
	}{
		{"both sent", true, false, activities.SendResult{Status: contract.LedgerSent}, nil, map[string]string{"sent": "2"}},
		{"capped once, then both sent", true, true, activities.SendResult{Status: contract.LedgerSent}, nil,
			map[string]string{"deferred_cap": "1", "sent": "2"}},
		{"unknown, then the next step", true, false, activities.SendResult{Status: contract.LedgerUnresolved, Reason: activities.ReasonUnresolved}, nil,
			map[string]string{"unknown": "2"}},
		{"opted out at the provider", true, false, activities.SendResult{Status: contract.LedgerSkipped, Reason: activities.ReasonOptedOutAtProvider}, nil,
			map[string]string{"skipped_opted_out": "1"}},
		{"consent refused", false, false, activities.SendResult{}, nil, map[string]string{"skipped_opted_out": "1"}},
		{"provider refuses for good", true, false, activities.SendResult{},
			temporal.NewNonRetryableApplicationError("bad sender", contract.ErrProviderPermanent, nil), map[string]string{"failed": "1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set, env := testkit.MetricsWorkflowEnv(t)
			env.SetStartTime(daytime)
			env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflowID})
			env.RegisterWorkflow(workflows.Journey)
			env.RegisterActivity(&activities.Activities{})
			env.OnActivity(a.RegisterJourney, mock.Anything, mock.Anything).Return(contract.RunSignal{}, nil)
			env.OnActivity(a.FinishJourney, mock.Anything, mock.Anything).Return(nil)
			env.OnActivity(a.CheckConsent, mock.Anything, mock.Anything).Return(contract.Decision{Allowed: c.allowed, Reason: contract.ReasonOptedOut}, nil)
			calls := 0
			env.OnActivity(a.SendSMS, mock.Anything, mock.Anything).Return(
				func(context.Context, activities.SendInput) (activities.SendResult, error) {
					if calls++; c.capped && calls == 1 {
						return activities.SendResult{Status: activities.Deferred, Reason: activities.ReasonFrequencyCap,
							DeferredUntil: daytime.Add(time.Hour)}, nil
					}
					return c.send, c.sendErr
				})
			env.ExecuteWorkflow(workflows.Journey, input())
			if !env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}

			got := testkit.Scrape(set, "stopline_sms_total{")
			var want []string
			for outcome, n := range c.want {
				want = append(want, strings.Replace(series, "%s", outcome, 1)+n)
			}
			slices.Sort(want) // the exposition sorts series by their labels
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("counted:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
