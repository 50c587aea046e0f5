package workflows_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/consent"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// A sender with a max_per_second gets its sends on its own send queue; one
// without keeps the journey's task queue.
func TestJourneySendQueue(t *testing.T) {
	tests := []struct {
		name    string
		limited bool
		want    string
	}{
		{"no limit", false, "default-test-taskqueue"},
		{"max_per_second", true, activities.SendQueue("default-test-taskqueue", sender)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			env.SetStartTime(daytime)
			env.RegisterWorkflow(workflows.Journey)
			env.RegisterActivity(&activities.Activities{})
			env.OnActivity(a.RegisterJourney, mock.Anything, mock.Anything).Return(contract.RunSignal{}, nil)
			env.OnActivity(a.FinishJourney, mock.Anything, mock.Anything).Return(nil)
			env.OnActivity(a.CheckConsent, mock.Anything, mock.Anything).Return(consent.Decision{Allowed: true}, nil)
			env.OnActivity(a.SenderRateLimited, mock.Anything, sender).Return(tt.limited, nil)
			var queues []string
			env.OnActivity(a.SendSMS, mock.Anything, mock.Anything).Return(
				func(ctx context.Context, in activities.SendInput) (activities.SendResult, error) {
					queues = append(queues, activity.GetInfo(ctx).TaskQueue)
					return activities.SendResult{Status: consent.Sent}, nil
				})
			env.ExecuteWorkflow(workflows.Journey, input())
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			if len(queues) != 2 || queues[0] != tt.want || queues[1] != tt.want {
				t.Errorf("sends on task queues %q, want both on %q", queues, tt.want)
			}
		})
	}
}
