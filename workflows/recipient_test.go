package workflows_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// TestOptOutWorkflow feeds keyword signals to the per-recipient workflow and
// checks what it does: which journeys it signals and which replies it asks
// for. Replies to keywords the provider already answered are never sent.
func TestOptOutWorkflow(t *testing.T) {
	const program = "program:club"
	sig := func(id int64, intent, keyword, scope string, providerHandled bool) contract.Inbound {
		return contract.Inbound{
			ID: id, Provider: "twilio", MessageID: fmt.Sprintf("SM%d", id), Intent: contract.Intent(intent), Keyword: keyword,
			Scope: scope, From: recipient, To: sender, ProviderHandled: providerHandled, ReceivedAt: daytime,
		}
	}
	// erased is a keyword whose sender was forgotten before the re-driver
	// signalled it: it signals no number.
	erased := func(s contract.Inbound) contract.Inbound { s.From = ""; return s }
	tests := []struct {
		name    string
		signals []contract.Inbound
		want    []string // calls in order
		scopes  map[string]string
		replies []string // if set: the replies the consent query lists
	}{
		{"STOP cancels, then confirms once", []contract.Inbound{sig(1, "opt_out", "STOP", program, false)},
			[]string{"cancel program:club", "reply opt_out SM1"}, map[string]string{program: "opted_out"}, nil},
		{"STOPALL confirms for all programs", []contract.Inbound{sig(1, "opt_out", "STOPALL", contract.AllScopes, false)},
			[]string{"cancel *", "reply opt_out_all SM1"}, map[string]string{"*": "opted_out"}, nil},
		{"provider-handled STOP: no second reply", []contract.Inbound{sig(1, "opt_out", "STOP", program, true)},
			[]string{"cancel program:club"}, map[string]string{program: "opted_out"}, nil},
		{"a redelivered signal is dropped, an earlier message committed later is not",
			[]contract.Inbound{sig(2, "help", "HELP", program, false), sig(2, "help", "HELP", program, false), sig(1, "opt_out", "STOP", program, false), sig(1, "opt_out", "STOP", program, false)},
			[]string{"reply help SM2", "cancel program:club", "reply opt_out SM1"}, map[string]string{program: "opted_out"}, nil},
		{"double opt-in: START asks, YES confirms and frees waiting journeys",
			[]contract.Inbound{sig(1, "opt_in_pending", "START", program, false), sig(2, "confirm", "YES", program, false)},
			[]string{"reply opt_in_pending SM1", "confirm program:club", "reply confirm SM2"}, map[string]string{program: "confirmed"}, nil},
		{"provider answered START and YES itself",
			[]contract.Inbound{sig(1, "opt_in_pending", "START", program, true), sig(2, "confirm", "YES", program, true)},
			[]string{"confirm program:club"}, map[string]string{program: "confirmed"}, nil},
		{"a confirm word that is no provider keyword gets stopline's reply",
			[]contract.Inbound{sig(1, "confirm", "", program, true)},
			[]string{"confirm program:club", "reply confirm SM1"}, map[string]string{program: "confirmed"}, nil},
		{"a forgotten sender's HELP and STOP: the STOP still cancels, no reply goes out",
			[]contract.Inbound{erased(sig(1, "help", "HELP", program, false)), erased(sig(2, "opt_out", "STOP", program, false))},
			[]string{"cancel program:club"}, map[string]string{program: "opted_out"},
			[]string{"skipped: recipient_erased", "skipped: recipient_erased"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
			env := s.NewTestWorkflowEnvironment()
			env.SetStartTime(daytime)
			workflows.Register(env)
			env.RegisterActivity(&activities.Activities{})
			var (
				mu    sync.Mutex
				calls []string
			)
			record := func(c string) {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, c)
			}
			env.OnActivity(a.CancelJourneys, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.JourneysInput) (int, error) {
					if in.RecipientKey != recipientKey || in.Reason != contract.ReasonOptedOut {
						t.Errorf("CancelJourneys(%+v)", in)
					}
					record("cancel " + in.Scope)
					return 1, nil
				})
			env.OnActivity(a.ConfirmJourneys, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.JourneysInput) (int, error) {
					if in.RecipientKey != recipientKey {
						t.Errorf("ConfirmJourneys(%+v)", in)
					}
					record("confirm " + in.Scope)
					return 1, nil
				})
			env.OnActivity(a.SendReply, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.ReplyInput) (activities.SendResult, error) {
					if in.To != recipient || in.Sender != sender || !strings.HasPrefix(in.Key, "twilio/") {
						t.Errorf("SendReply(%+v)", in)
					}
					record("reply " + string(in.Kind) + " " + strings.TrimPrefix(in.Key, "twilio/"))
					return activities.SendResult{Status: contract.LedgerSent}, nil
				})
			for i, s := range tt.signals {
				env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalKeyword, s) }, time.Duration(i+1)*time.Second)
			}
			env.RegisterDelayedCallback(func() {
				v, err := env.QueryWorkflow(contract.QueryConsent)
				var st contract.RecipientState
				if err == nil {
					err = v.Get(&st)
				}
				if err != nil {
					t.Errorf("consent query: %v", err)
				}
				if fmt.Sprint(st.Scopes) != fmt.Sprint(tt.scopes) {
					t.Errorf("scopes %v, want %v", st.Scopes, tt.scopes)
				}
				if tt.replies != nil {
					var replies []string
					for _, ev := range st.Recent {
						replies = append(replies, ev.Reply)
					}
					if fmt.Sprint(replies) != fmt.Sprint(tt.replies) {
						t.Errorf("replies %q, want %q", replies, tt.replies)
					}
				}
			}, time.Minute)

			env.ExecuteWorkflow(workflows.RecipientWorkflow, contract.RecipientState{RecipientKey: recipientKey})
			if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
				t.Fatalf("completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
			}
			if strings.Join(calls, "|") != strings.Join(tt.want, "|") {
				t.Errorf("calls\n got  %q\n want %q", calls, tt.want)
			}
		})
	}
}
