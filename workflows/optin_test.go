package workflows_test

import (
	"testing"
	"time"

	"github.com/stopline/stopline/internal/consent"
	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/policy"
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
	notConfirmed := consent.Decision{Reason: consent.ReasonNotConfirmed, State: consent.Pending}
	tests := []struct {
		name     string
		optIn    consent.Decision                      // RequestOptIn's answer
		signal   string                                // sent 2h into the wait, if set
		final    func(n int) (consent.Decision, error) // consent checks; default allowed
		want     workflows.JourneyResult
		events   []string
		category []policy.Category // of each send
	}{
		{
			name: "YES arrives: the welcome goes out", optIn: consent.Decision{Allowed: true}, signal: contract.SignalConfirmed,
			want:     result(workflows.StateCompleted, 2, 2, "", "sent 2"),
			events:   []string{"register", "request opt-in", "send 0", "check", "send 1", "deregister " + workflowID},
			category: []policy.Category{policy.CategoryOptInRequest, policy.CategoryMarketing},
		},
		{
			name: "no answer in 24 hours: skipped", optIn: consent.Decision{Allowed: true},
			final:    func(int) (consent.Decision, error) { return notConfirmed, nil },
			want:     result(workflows.StateSkipped, 0, 1, consent.ReasonNotConfirmed, "sent 1, skipped at step 0: not_confirmed"),
			events:   []string{"register", "request opt-in", "send 0", "check", "deregister " + workflowID},
			category: []policy.Category{policy.CategoryOptInRequest},
		},
		{
			name: "signal lost but Postgres says confirmed: goes on", optIn: consent.Decision{Allowed: true},
			want:     result(workflows.StateCompleted, 2, 2, "", "sent 2"),
			events:   []string{"register", "request opt-in", "send 0", "check", "check", "send 1", "deregister " + workflowID},
			category: []policy.Category{policy.CategoryOptInRequest, policy.CategoryMarketing},
		},
		{
			name: "already confirmed: nothing to ask", optIn: consent.Decision{Allowed: true, State: consent.Confirmed},
			want:     result(workflows.StateCompleted, 2, 1, "", "sent 1"),
			events:   []string{"register", "request opt-in", "check", "send 1", "deregister " + workflowID},
			category: []policy.Category{policy.CategoryMarketing},
		},
		{
			name: "opted out: no request", optIn: consent.Decision{Reason: consent.ReasonOptedOut, State: consent.OptedOut},
			want:   result(workflows.StateSkipped, 0, 0, consent.ReasonOptedOut, "sent 0, skipped at step 0: opted_out"),
			events: []string{"register", "request opt-in", "deregister " + workflowID},
		},
		{
			name: "STOP while waiting: stopped", optIn: consent.Decision{Allowed: true}, signal: contract.SignalCancel,
			want:     result(workflows.StateStopped, 0, 1, contract.ReasonOptedOut, "sent 1, stopped: opted_out at step 0"),
			events:   []string{"register", "request opt-in", "send 0", "deregister " + workflowID},
			category: []policy.Category{policy.CategoryOptInRequest},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.optIn = func() (consent.Decision, error) { return tt.optIn, nil }
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
			var cats []policy.Category
			for _, s := range w.sends {
				cats = append(cats, s.Category)
			}
			if len(cats) != len(tt.category) || len(cats) > 0 && cats[0] != tt.category[0] || len(cats) > 1 && cats[1] != tt.category[1] {
				t.Errorf("send categories %q, want %q", cats, tt.category)
			}
			waited := len(tt.category) > 0 && tt.category[0] == policy.CategoryOptInRequest
			if waited {
				if want := daytime.Add(consent.ConfirmWindow); !confirmBy.Equal(want) {
					t.Errorf("status confirm_by during the wait = %v, want %v", confirmBy, want)
				}
				if len(timers) != 1 || timers[0] != consent.ConfirmWindow {
					t.Errorf("timers %v, want one of %v", timers, consent.ConfirmWindow)
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
