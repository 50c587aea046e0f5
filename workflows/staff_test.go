package workflows_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// TestStaffChanges: a change staff made reaches the recipient's workflow
// like a keyword: it cancels or frees journeys and shows in the consent
// query, but is never answered and, having no inbound ID, never taken for a
// redelivery.
func TestStaffChanges(t *testing.T) {
	staff := func(intent contract.Intent, scope string) contract.Inbound {
		return contract.Inbound{Intent: intent, Scope: scope, Source: string(contract.SourceAdmin), ReceivedAt: daytime}
	}
	tests := []struct {
		name    string
		signals []contract.Inbound
		want    string // calls in order
		scopes  map[string]string
	}{
		{"opt-out cancels, no reply", []contract.Inbound{staff(contract.IntentOptOut, "+15550001111")},
			"cancel +15550001111", map[string]string{"+15550001111": "opted_out"}},
		{"opt-in, opt-out, confirm: each applied in order",
			[]contract.Inbound{staff(contract.IntentOptIn, "*"), staff(contract.IntentOptOut, "*"), staff(contract.IntentConfirm, "program:club")},
			"cancel *|confirm program:club", map[string]string{"*": "opted_out", "program:club": "confirmed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
			env := s.NewTestWorkflowEnvironment()
			env.SetStartTime(daytime)
			workflows.Register(env)
			env.RegisterActivity(&activities.Activities{})
			var calls []string
			env.OnActivity(a.CancelJourneys, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.JourneysInput) (int, error) {
					calls = append(calls, "cancel "+in.Scope)
					return 1, nil
				})
			env.OnActivity(a.ConfirmJourneys, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.JourneysInput) (int, error) {
					calls = append(calls, "confirm "+in.Scope)
					return 1, nil
				})
			env.OnActivity(a.SendReply, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.ReplyInput) (activities.SendResult, error) {
					calls = append(calls, "reply "+string(in.Kind))
					return activities.SendResult{Status: contract.LedgerSent}, nil
				})
			for i, sig := range tt.signals {
				env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalKeyword, sig) }, time.Duration(i+1)*time.Second)
			}
			var st contract.RecipientState
			env.RegisterDelayedCallback(func() {
				v, err := env.QueryWorkflow(contract.QueryConsent)
				if err == nil {
					err = v.Get(&st)
				}
				if err != nil {
					t.Errorf("consent query: %v", err)
				}
			}, time.Minute)
			env.ExecuteWorkflow(workflows.RecipientWorkflow, contract.RecipientState{RecipientKey: recipientKey})
			if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
				t.Fatalf("completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
			}
			if got := strings.Join(calls, "|"); got != tt.want {
				t.Errorf("calls %q, want %q", got, tt.want)
			}
			if fmt.Sprint(st.Scopes) != fmt.Sprint(tt.scopes) || len(st.Recent) != len(tt.signals) {
				t.Fatalf("scopes %v, %d recent events; want %v, %d", st.Scopes, len(st.Recent), tt.scopes, len(tt.signals))
			}
			for _, ev := range st.Recent {
				if ev.Source != "admin" || ev.Reply != "" {
					t.Errorf("event %+v: want source admin, no reply", ev)
				}
			}
		})
	}
}
