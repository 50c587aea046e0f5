package workflows_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// sendQueueEnv is a journey test environment whose activities read a
// senders file giving the journey's sender maxPerSecond (0 = no file), and
// whose SendSMS answers with send(n) for the n-th call, noting its task
// queue.
func sendQueueEnv(t *testing.T, maxPerSecond int, send func(n int) error) (*testsuite.TestWorkflowEnvironment, *[]string) {
	var reg *senders.Registry
	if maxPerSecond > 0 {
		path := filepath.Join(t.TempDir(), "senders.json")
		cfg := `{"senders": [{"provider": "twilio", "from": "` + sender + `", "type": "long_code", "max_per_second": 5}]}`
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		var err error
		if reg, err = senders.Load(path); err != nil {
			t.Fatal(err)
		}
	}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(daytime)
	env.RegisterWorkflow(workflows.Journey)
	env.RegisterActivity(&activities.Activities{Registry: reg})
	env.OnActivity(a.RegisterJourney, mock.Anything, mock.Anything).Return(contract.RunSignal{}, nil)
	env.OnActivity(a.FinishJourney, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.CheckConsent, mock.Anything, mock.Anything).Return(contract.Decision{Allowed: true}, nil)
	var queues []string
	env.OnActivity(a.SendSMS, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.SendInput) (activities.SendResult, error) {
			queues = append(queues, activity.GetInfo(ctx).TaskQueue)
			if err := send(len(queues) - 1); err != nil {
				return activities.SendResult{}, err
			}
			return activities.SendResult{Status: contract.LedgerSent}, nil
		})
	return env, &queues
}

// A journey's sends go on its provider's queue, which only workers with
// the provider poll; a sender with a max_per_second gets its own queue
// under the provider's, which the server rate-limits.
func TestJourneySendQueue(t *testing.T) {
	tests := []struct {
		name         string
		maxPerSecond int
		want         string
	}{
		{"no limit", 0, activities.ProviderQueue("default-test-taskqueue", "twilio")},
		{"max_per_second", 5, activities.ProviderSenderQueue("default-test-taskqueue", "twilio", sender)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, queues := sendQueueEnv(t, tt.maxPerSecond, func(int) error { return nil })
			env.ExecuteWorkflow(workflows.Journey, input())
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			if q := *queues; len(q) != 2 || q[0] != tt.want || q[1] != tt.want {
				t.Errorf("sends on task queues %q, want both on %q", q, tt.want)
			}
		})
	}
}

// A send that no worker took before its schedule-to-start timeout (no
// worker has the provider) is scheduled again: the journey waits, it does
// not fail, and each step is sent once it is taken.
func TestJourneyWaitsForProvider(t *testing.T) {
	env, queues := sendQueueEnv(t, 0, func(n int) error {
		if n < 2 {
			return temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, nil)
		}
		return nil
	})
	env.ExecuteWorkflow(workflows.Journey, input())
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("journey failed while no worker had its provider: %v", err)
	}
	var res workflows.JourneyResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Summary != "sent 2" || len(*queues) != 4 {
		t.Errorf("result %q after %d send attempts; want sent 2 after 4 (two not taken)", res.Summary, len(*queues))
	}
}
