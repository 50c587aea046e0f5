package workflows_test

import (
	"testing"
	"time"

	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// optInInput asks for a double opt-in, then sends the welcome.
func optInInput() workflows.JourneyInput {
	def := welcome()
	def.Steps = []journey.Step{{OptIn: "Reply YES for Acme deals."}, {SMS: "Welcome to Acme deals!"}}
	return workflows.JourneyInput{RunID: "run1", Journey: def, Phone: recipient, RecipientKey: recipientKey}
}

func TestJourneyOptInStep(t *testing.T) {
	notConfirmed := contract.Decision{Reason: contract.ReasonNotConfirmed, State: contract.OptInPending}
	tests := []struct {
		name     string
		optIn    contract.Decision                      // RequestOptIn's answer
		signal   string                                 // sent 2h into the wait, if set
		final    func(n int) (contract.Decision, error) // consent checks; default allowed
		want     workflows.JourneyResult
		events   []string
		category []contract.Category // of each send
	}{
		{
			name: "YES arrives: the welcome goes out", optIn: contract.Decision{Allowed: true}, signal: contract.SignalConfirmed,
			want:     result(workflows.StateCompleted, 2, 2, "", "sent 2"),
			events:   []string{"register", "request opt-in", "send 0", "check", "send 1", "deregister " + workflowID},
			category: []contract.Category{contract.CategoryOptInRequest, contract.CategoryMarketing},
		},
		{
			name: "no answer in 24 hours: skipped", optIn: contract.Decision{Allowed: true},
			final:    func(int) (contract.Decision, error) { return notConfirmed, nil },
			want:     result(workflows.StateSkipped, 0, 1, contract.ReasonNotConfirmed, "sent 1, skipped at step 0: not_confirmed"),
			events:   []string{"register", "request opt-in", "send 0", "check", "deregister " + workflowID},
			category: []contract.Category{contract.CategoryOptInRequest},
		},
		{
			name: "signal lost but Postgres says confirmed: goes on", optIn: contract.Decision{Allowed: true},
			want:     result(workflows.StateCompleted, 2, 2, "", "sent 2"),
			events:   []string{"register", "request opt-in", "send 0", "check", "check", "send 1", "deregister " + workflowID},
			category: []contract.Category{contract.CategoryOptInRequest, contract.CategoryMarketing},
		},
		{
			name: "already confirmed: nothing to ask", optIn: contract.Decision{Allowed: true, State: contract.OptInConfirmed},
			want:     result(workflows.StateCompleted, 2, 1, "", "sent 1"),
			events:   []string{"register", "request opt-in", "check", "send 1", "deregister " + workflowID},
			category: []contract.Category{contract.CategoryMarketing},
		},
		{
			name: "opted out: no request", optIn: contract.Decision{Reason: contract.ReasonOptedOut, State: contract.OptedOut},
			want:   result(workflows.StateSkipped, 0, 0, contract.ReasonOptedOut, "sent 0, skipped at step 0: opted_out"),
			events: []string{"register", "request opt-in", "deregister " + workflowID},
		},
		{
			name: "STOP while waiting: stopped", optIn: contract.Decision{Allowed: true}, signal: contract.SignalCancel,
			want:     result(workflows.StateStopped, 0, 1, contract.ReasonOptedOut, "sent 1, stopped: opted_out at step 0"),
			events:   []string{"register", "request opt-in", "send 0", "deregister " + workflowID},
			category: []contract.Category{contract.CategoryOptInRequest},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.optIn = func() (contract.Decision, error) { return tt.optIn, nil }
			w.consent = tt.final
			var timers []time.Duration
			w.env.SetOnTimerScheduledListener(func(_ string, d time.Duration) { timers = append(timers, d) })
			var confirmBy time.Time
			w.env.RegisterDelayedCallback(func() {
				v, err := w.env.QueryWorkflow(contract.QueryStatus)
				var st contract.JourneyStatus
				if err == nil {
					err = v.Get(&st)
				}
				if err != nil {
					t.Errorf("status query: %v", err)
				}
				confirmBy = st.ConfirmBy
				switch tt.signal {
				case contract.SignalConfirmed:
					w.env.SignalWorkflow(contract.SignalConfirmed, nil)
				case contract.SignalCancel:
					w.env.SignalWorkflow(contract.SignalCancel, contract.CancelRequest{Reason: contract.ReasonOptedOut})
				}
			}, 2*time.Hour)

			res, err := w.run(optInInput())
			if err != nil {
				t.Fatalf("journey failed: %v", err)
			}
			if res != tt.want {
				t.Errorf("result = %+v, want %+v", res, tt.want)
			}
			w.wantEvents(tt.events...)
			var cats []contract.Category
			for _, s := range w.sends {
				cats = append(cats, s.Category)
			}
			if len(cats) != len(tt.category) || len(cats) > 0 && cats[0] != tt.category[0] || len(cats) > 1 && cats[1] != tt.category[1] {
				t.Errorf("send categories %q, want %q", cats, tt.category)
			}
			waited := len(tt.category) > 0 && tt.category[0] == contract.CategoryOptInRequest
			if waited {
				if want := daytime.Add(contract.ConfirmWindow); !confirmBy.Equal(want) {
					t.Errorf("status confirm_by during the wait = %v, want %v", confirmBy, want)
				}
				if len(timers) != 1 || timers[0] != contract.ConfirmWindow {
					t.Errorf("timers %v, want one of %v", timers, contract.ConfirmWindow)
				}
			}
		})
	}
}

func result(state string, step, sent int, reason, summary string) workflows.JourneyResult {
	return workflows.JourneyResult{
		JourneyStatus: contract.JourneyStatus{Journey: "welcome", State: state, Step: step, Steps: 2, Sent: sent, Reason: reason},
		Summary:       summary,
	}
}
