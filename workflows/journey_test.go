package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

const (
	sender       = "+14155550100"
	recipient    = "+14155550123"
	recipientKey = "rkey0000000000000000000000000001"
	workflowID   = "journey/run1/" + recipientKey
)

// a is only used to name activities; every method it names is mocked.
var a *activities.Activities

// welcome is SMS, wait 24h, SMS.
func welcome() journey.Definition {
	return journey.Definition{
		Name:     "welcome",
		Category: contract.CategoryMarketing,
		Sender:   journey.Sender{Provider: contract.ProviderTwilio, From: sender, Type: contract.SenderLongCode},
		Steps: []journey.Step{
			{SMS: "Hi {{.first_name}}, your code is {{.code}}. Reply STOP to opt out."},
			{Wait: "24h"},
			{SMS: "Last chance, {{.first_name}}!"},
		},
	}
}

func input() workflows.JourneyInput {
	return workflows.JourneyInput{
		RunID: "run1", Journey: welcome(), Phone: recipient, RecipientKey: recipientKey,
		Attributes: map[string]string{"first_name": "Ada", "code": "X42"},
	}
}

// world is a mocked set of activities that records what the journey did.
type world struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu     sync.Mutex
	log    []string               // "register", "check", "send 0", "deregister", ...
	sends  []activities.SendInput // in call order
	sentAt []time.Time            // workflow clock at each send
	regs   []activities.Registration
	ended  []activities.Outcome // FinishJourney's inputs

	// consent answers the n-th consent check (0-based); default allowed.
	consent func(n int) (contract.Decision, error)
	checks  int
	// send answers a send; default sent.
	send func(ctx context.Context, in activities.SendInput) (activities.SendResult, error)
	// optIn answers RequestOptIn; default allowed, state unknown.
	optIn func() (contract.Decision, error)
	// registered is RegisterJourney's answer, the run's state; default
	// running.
	registered contract.RunSignal
}

var daytime = time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC)

func newWorld(t *testing.T) *world {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	// 11:00 in New York: inside the US marketing window, so quiet hours
	// only matter in the tests about them.
	env.SetStartTime(daytime)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflowID})
	env.RegisterWorkflow(workflows.Journey)
	env.RegisterActivity(&activities.Activities{})
	w := &world{t: t, env: env}

	env.OnActivity(a.RegisterJourney, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r activities.Registration) (contract.RunSignal, error) {
			w.record("register")
			w.mu.Lock()
			w.regs = append(w.regs, r)
			w.mu.Unlock()
			return w.registered, nil
		})
	env.OnActivity(a.FinishJourney, mock.Anything, mock.Anything).Return(
		func(_ context.Context, o activities.Outcome) error {
			w.record("deregister " + o.WorkflowID)
			w.mu.Lock()
			w.ended = append(w.ended, o)
			w.mu.Unlock()
			return nil
		})
	env.OnActivity(a.CheckConsent, mock.Anything, mock.Anything).Return(
		func(_ context.Context, q activities.ConsentQuery) (contract.Decision, error) {
			w.mu.Lock()
			n := w.checks
			w.checks++
			w.mu.Unlock()
			if q.RecipientKey == "" || q.Scope != sender {
				return contract.Decision{}, temporal.NewNonRetryableApplicationError("bad consent query", "test", nil)
			}
			var (
				d   = contract.Decision{Allowed: true}
				err error
			)
			if w.consent != nil {
				d, err = w.consent(n)
			}
			if err != nil {
				w.record("check error")
			} else {
				w.record("check")
			}
			return d, err
		})
	env.OnActivity(a.RequestOptIn, mock.Anything, mock.Anything).Return(
		func(_ context.Context, q activities.ConsentQuery) (contract.Decision, error) {
			w.record("request opt-in")
			if q.Category != contract.CategoryOptInRequest || q.Scope != sender {
				return contract.Decision{}, temporal.NewNonRetryableApplicationError("bad opt-in query", "test", nil)
			}
			if w.optIn != nil {
				return w.optIn()
			}
			return contract.Decision{Allowed: true}, nil
		})
	env.OnActivity(a.SendSMS, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.SendInput) (activities.SendResult, error) {
			w.record(fmt.Sprintf("send %d", in.Step))
			w.mu.Lock()
			w.sends = append(w.sends, in)
			w.sentAt = append(w.sentAt, env.Now())
			w.mu.Unlock()
			if w.send != nil {
				return w.send(ctx, in)
			}
			return activities.SendResult{Status: contract.LedgerSent, MessageID: fmt.Sprintf("SM%d", in.Step)}, nil
		})
	return w
}

func (w *world) record(event string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, event)
}

func (w *world) events() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.log...)
}

// run executes the journey and returns its result or error.
func (w *world) run(in workflows.JourneyInput) (workflows.JourneyResult, error) {
	w.t.Helper()
	w.env.ExecuteWorkflow(workflows.Journey, in)
	if !w.env.IsWorkflowCompleted() {
		w.t.Fatal("workflow did not complete")
	}
	var res workflows.JourneyResult
	if err := w.env.GetWorkflowError(); err != nil {
		if len(w.ended) > 0 && w.ended[0].State != workflows.StateFailed {
			w.t.Errorf("failed journey recorded outcome %+v, want state failed", w.ended[0])
		}
		return res, err
	}
	if err := w.env.GetWorkflowResult(&res); err != nil {
		w.t.Fatal(err)
	}
	w.wantOutcome(in, res.JourneyStatus)
	return res, nil
}

// wantOutcome checks the outcome the journey recorded at its end against
// its result: the run report reads the one, the caller sees the other.
func (w *world) wantOutcome(in workflows.JourneyInput, s contract.JourneyStatus) {
	w.t.Helper()
	key := in.RecipientKey
	if len(w.regs) > 0 {
		key = w.regs[0].RecipientKey // resolved by the journey
	}
	want := activities.Outcome{
		WorkflowID: workflowID, RunID: in.RunID, Journey: in.Journey.Name, RecipientKey: key,
		State: s.State, Reason: s.Reason, Step: s.Step, Sent: s.Sent, Unknown: s.Unknown, Deferrals: s.Deferrals,
	}
	if len(w.ended) != 1 || w.ended[0] != want {
		w.t.Errorf("recorded outcomes %+v, want [%+v]", w.ended, want)
	}
}

func (w *world) wantEvents(want ...string) {
	w.t.Helper()
	got := w.events()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		w.t.Errorf("activity calls:\n got  %q\n want %q", got, want)
	}
}

func TestJourneyRunsStepsInOrder(t *testing.T) {
	w := newWorld(t)
	var timers []time.Duration
	w.env.SetOnTimerScheduledListener(func(_ string, d time.Duration) { timers = append(timers, d) })
	start := w.env.Now()
	wall := time.Now()

	res, err := w.run(input())
	if err != nil {
		t.Fatalf("journey failed: %v", err)
	}
	want := workflows.JourneyResult{
		JourneyStatus: contract.JourneyStatus{Journey: "welcome", State: workflows.StateCompleted, Step: 3, Steps: 3, Sent: 2},
		Summary:       "sent 2",
	}
	if res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	w.wantEvents("register", "check", "send 0", "check", "send 2", "deregister "+workflowID)

	bodies := []string{"Hi Ada, your code is X42. Reply STOP to opt out.", "Last chance, Ada!\nReply STOP to opt out."}
	// Marketing sends are bounded by the end of the recipient's window:
	// 21:00 in San Francisco is 04:00 UTC the next day.
	notAfter := []time.Time{time.Date(2026, 6, 2, 4, 0, 0, 0, time.UTC), time.Date(2026, 6, 3, 4, 0, 0, 0, time.UTC)}
	for i, s := range w.sends {
		wantIn := activities.SendInput{
			LedgerKey: workflowID, Step: []int{0, 2}[i], RecipientKey: recipientKey, Scope: sender, Category: "marketing",
			Provider: "twilio", To: recipient, From: sender, Body: bodies[i], NotAfter: notAfter[i], FrequencyCap: true, RunID: "run1",
		}
		if s != wantIn {
			t.Errorf("send %d = %+v, want %+v", i, s, wantIn)
		}
	}
	if len(w.regs) != 1 || w.regs[0] != (activities.Registration{WorkflowID: workflowID, RecipientKey: recipientKey, Phone: recipient, Scope: sender, Category: "marketing", RunID: "run1"}) {
		t.Errorf("registrations = %+v", w.regs)
	}

	// The wait is a durable 24h timer: the second SMS goes out 24h of
	// workflow time after the first, and the test skipped that time.
	if len(timers) != 1 || timers[0] != 24*time.Hour {
		t.Errorf("timers = %v, want one of 24h", timers)
	}
	if len(w.sentAt) == 2 {
		if gap := w.sentAt[1].Sub(w.sentAt[0]); gap < 24*time.Hour {
			t.Errorf("second SMS %v after the first, want at least 24h", gap)
		}
	}
	if elapsed := w.env.Now().Sub(start); elapsed < 24*time.Hour {
		t.Errorf("workflow clock advanced %v, want at least 24h", elapsed)
	}
	if wallElapsed := time.Since(wall); wallElapsed > time.Minute {
		t.Errorf("took %v of wall time; the test environment should skip the wait", wallElapsed)
	}
}

func TestJourneyStatusQueryDuringWait(t *testing.T) {
	w := newWorld(t)
	start := w.env.Now()
	var (
		status   contract.JourneyStatus
		queryErr error
	)
	w.env.RegisterDelayedCallback(func() {
		v, err := w.env.QueryWorkflow(contract.QueryStatus)
		if err == nil {
			err = v.Get(&status)
		}
		queryErr = err
	}, 12*time.Hour)

	if _, err := w.run(input()); err != nil {
		t.Fatal(err)
	}
	if queryErr != nil {
		t.Fatalf("status query: %v", queryErr)
	}
	if status.State != workflows.StateRunning || status.Step != 1 || status.Steps != 3 || status.Sent != 1 || status.Journey != "welcome" {
		t.Errorf("status during the wait = %+v, want running at step 1 with 1 sent", status)
	}
	// The wait began right after the first send, at the start of the run.
	if d := status.WaitingUntil.Sub(start); d < 24*time.Hour || d > 24*time.Hour+time.Minute {
		t.Errorf("WaitingUntil = %v, %v after start; want about 24h", status.WaitingUntil, d)
	}
}

func TestJourneyConsentDecisions(t *testing.T) {
	tests := []struct {
		name    string
		consent func(n int) (contract.Decision, error)
		want    workflows.JourneyResult
		events  []string
	}{
		{
			name: "opted out before the first step",
			consent: func(int) (contract.Decision, error) {
				return contract.Decision{Allowed: false, State: contract.OptedOut, Scope: sender}, nil
			},
			want: workflows.JourneyResult{
				JourneyStatus: contract.JourneyStatus{Journey: "welcome", State: workflows.StateSkipped, Step: 0, Steps: 3, Reason: contract.ReasonOptedOut},
				Summary:       "sent 0, skipped at step 0: opted_out",
			},
			events: []string{"register", "check", "deregister " + workflowID},
		},
		{
			name: "opted out during the wait",
			consent: func(n int) (contract.Decision, error) {
				return contract.Decision{Allowed: n == 0, State: []contract.ConsentState{contract.ConsentUnknown, contract.OptedOut}[min(n, 1)]}, nil
			},
			want: workflows.JourneyResult{
				JourneyStatus: contract.JourneyStatus{Journey: "welcome", State: workflows.StateSkipped, Step: 2, Steps: 3, Sent: 1, Reason: contract.ReasonOptedOut},
				Summary:       "sent 1, skipped at step 2: opted_out",
			},
			events: []string{"register", "check", "send 0", "check", "deregister " + workflowID},
		},
		{
			// Fail closed: an error is retried, never taken as consent.
			name: "consent check errors are retried",
			consent: func(n int) (contract.Decision, error) {
				if n < 2 {
					return contract.Decision{}, errors.New("consent check: connection refused")
				}
				return contract.Decision{Allowed: true}, nil
			},
			want: workflows.JourneyResult{
				JourneyStatus: contract.JourneyStatus{Journey: "welcome", State: workflows.StateCompleted, Step: 3, Steps: 3, Sent: 2},
				Summary:       "sent 2",
			},
			events: []string{"register", "check error", "check error", "check", "send 0", "check", "send 2", "deregister " + workflowID},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.consent = tc.consent
			res, err := w.run(input())
			if err != nil {
				t.Fatalf("journey failed: %v", err)
			}
			if res != tc.want {
				t.Errorf("result = %+v\nwant     %+v", res, tc.want)
			}
			w.wantEvents(tc.events...)
		})
	}
}

// Guarantee 5: "If consent cannot be read, nothing is sent. The step
// retries." An outage longer than the local activity's 10s budget must not
// fail the journey.
func TestJourneyConsentOutageOutlastingLocalActivityTimeout(t *testing.T) {
	w := newWorld(t)
	const failures = 8 // about 50s of backoff at 200ms doubling
	w.consent = func(n int) (contract.Decision, error) {
		if n < failures {
			return contract.Decision{}, errors.New("consent check: connection refused")
		}
		return contract.Decision{Allowed: true}, nil
	}
	in := input()
	in.Journey.Steps = in.Journey.Steps[:1]
	start := w.env.Now()
	res, err := w.run(in)
	if err != nil {
		errs := 0
		for _, e := range w.events() {
			if e == "check error" {
				errs++
			}
		}
		t.Fatalf("journey failed after %d consent-check errors (%v of workflow time): %v (localOptions has no "+
			"ScheduleToCloseTimeout, so the SDK caps all retries at StartToCloseTimeout = 10s)", errs, w.env.Now().Sub(start), err)
	}
	if res.State != workflows.StateCompleted || res.Sent != 1 {
		t.Errorf("result = %+v, want completed with 1 sent", res)
	}
	if len(w.sends) != 1 {
		t.Errorf("%d sends, want 1", len(w.sends))
	}
}

func TestJourneySendOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		result activities.SendResult
		want   workflows.JourneyResult
		sends  int
	}{
		{
			name:   "invalid number skips the rest",
			result: activities.SendResult{Status: contract.LedgerSkipped, Reason: activities.ReasonInvalidNumber},
			want: workflows.JourneyResult{
				JourneyStatus: contract.JourneyStatus{Journey: "welcome", State: workflows.StateSkipped, Step: 0, Steps: 3, Reason: activities.ReasonInvalidNumber},
				Summary:       "sent 0, skipped at step 0: invalid_number",
			},
			sends: 1,
		},
		{
			name:   "unresolved sends are counted, not resent",
			result: activities.SendResult{Status: contract.LedgerUnresolved, Reason: activities.ReasonUnresolved},
			want: workflows.JourneyResult{
				JourneyStatus: contract.JourneyStatus{Journey: "welcome", State: workflows.StateCompleted, Step: 3, Steps: 3, Unknown: 2},
				Summary:       "sent 0, 2 unknown",
			},
			sends: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.send = func(context.Context, activities.SendInput) (activities.SendResult, error) { return tc.result, nil }
			res, err := w.run(input())
			if err != nil {
				t.Fatal(err)
			}
			if res != tc.want {
				t.Errorf("result = %+v\nwant     %+v", res, tc.want)
			}
			if len(w.sends) != tc.sends {
				t.Errorf("%d sends, want %d", len(w.sends), tc.sends)
			}
		})
	}
}

func TestJourneyCancelSignalDuringWait(t *testing.T) {
	w := newWorld(t)
	var canceledTimers int
	w.env.SetOnTimerCanceledListener(func(string) { canceledTimers++ })
	w.env.RegisterDelayedCallback(func() {
		w.env.SignalWorkflow(contract.SignalCancel, contract.CancelRequest{Reason: "opted_out"})
	}, time.Hour)
	start := w.env.Now()

	res, err := w.run(input())
	if err != nil {
		t.Fatalf("journey failed: %v", err)
	}
	want := workflows.JourneyResult{
		JourneyStatus: contract.JourneyStatus{Journey: "welcome", State: workflows.StateStopped, Step: 1, Steps: 3, Sent: 1, Reason: "opted_out"},
		Summary:       "sent 1, stopped: opted_out at step 1",
	}
	if res != want {
		t.Errorf("result = %+v\nwant     %+v", res, want)
	}
	w.wantEvents("register", "check", "send 0", "deregister "+workflowID)
	if canceledTimers != 1 {
		t.Errorf("%d timers cancelled, want the wait's", canceledTimers)
	}
	// Stopped at the signal, not at the end of the wait.
	if d := w.env.Now().Sub(start); d >= 24*time.Hour {
		t.Errorf("journey ended %v after start; the cancel at 1h should end it at once", d)
	}
}

// A send cancelled by an opt-out while an attempt's outcome is open in the
// ledger (a worker died mid-call, and the cancel dropped the retry) is
// settled, and the settle's verdict counted; with no open attempt nothing
// more runs.
func TestJourneyCancelledSendSettlesOpenAttempt(t *testing.T) {
	tests := []struct {
		name    string
		open    bool
		settled activities.SendResult
		want    contract.JourneyStatus
		events  []string
	}{
		{"no open attempt", false, activities.SendResult{},
			contract.JourneyStatus{Step: 0},
			[]string{"register", "check", "send 0", "open? 0", "deregister " + workflowID}},
		{"open, the provider had the message", true, activities.SendResult{Status: contract.LedgerSent, MessageID: "SM0"},
			contract.JourneyStatus{Step: 1, Sent: 1},
			[]string{"register", "check", "send 0", "open? 0", "settle 0", "deregister " + workflowID}},
		{"open, the provider did not", true, activities.SendResult{Status: contract.LedgerSkipped, Reason: activities.ReasonCancelled},
			contract.JourneyStatus{Step: 0},
			[]string{"register", "check", "send 0", "open? 0", "settle 0", "deregister " + workflowID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.send = func(ctx context.Context, _ activities.SendInput) (activities.SendResult, error) {
				w.env.SignalWorkflow(contract.SignalCancel, contract.CancelRequest{Reason: contract.ReasonOptedOut})
				<-ctx.Done()
				return activities.SendResult{}, ctx.Err()
			}
			w.env.OnActivity(a.SendOpen, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.SendInput) (bool, error) {
					w.record(fmt.Sprintf("open? %d", in.Step))
					return tc.open, nil
				})
			w.env.OnActivity(a.SettleSend, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.SendInput) (activities.SendResult, error) {
					w.record(fmt.Sprintf("settle %d", in.Step))
					return tc.settled, nil
				})
			res, err := w.run(input())
			if err != nil {
				t.Fatalf("journey failed: %v", err)
			}
			want := tc.want
			want.Journey, want.State, want.Steps, want.Reason = "welcome", workflows.StateStopped, 3, contract.ReasonOptedOut
			if res.JourneyStatus != want {
				t.Errorf("result = %+v\nwant     %+v", res.JourneyStatus, want)
			}
			w.wantEvents(tc.events...)
		})
	}
}

// A send that fails for good fails the journey, which still deregisters.
func TestJourneySendFailsPermanently(t *testing.T) {
	w := newWorld(t)
	w.send = func(context.Context, activities.SendInput) (activities.SendResult, error) {
		return activities.SendResult{}, temporal.NewNonRetryableApplicationError("twilio: permanent (http 401)", contract.ErrProviderPermanent, nil)
	}
	_, err := w.run(input())
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != contract.ErrProviderPermanent {
		t.Fatalf("err = %v, want the send's %s error", err, contract.ErrProviderPermanent)
	}
	// Non-retryable: one call, no retries.
	w.wantEvents("register", "check", "send 0", "deregister "+workflowID)
}

func TestJourneyCancelSignalWithoutReason(t *testing.T) {
	w := newWorld(t)
	w.env.RegisterDelayedCallback(func() {
		w.env.SignalWorkflow(contract.SignalCancel, contract.CancelRequest{})
	}, time.Hour)
	res, err := w.run(input())
	if err != nil {
		t.Fatal(err)
	}
	if res.State != workflows.StateStopped || res.Reason != contract.ReasonOptedOut {
		t.Errorf("result = %+v, want stopped with the default reason %q", res, contract.ReasonOptedOut)
	}
}

func TestJourneyBadInput(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*workflows.JourneyInput)
		wantMsg string
	}{
		{"no name", func(in *workflows.JourneyInput) { in.Journey.Name = "" }, "name: required"},
		{"no steps", func(in *workflows.JourneyInput) { in.Journey.Steps = nil }, "at least one sms step"},
		{"bad wait", func(in *workflows.JourneyInput) { in.Journey.Steps[1].Wait = "soon" }, `steps[1].wait`},
		{"missing attribute", func(in *workflows.JourneyInput) { delete(in.Attributes, "code") }, `missing attribute "code"`},
		{"no attributes", func(in *workflows.JourneyInput) { in.Attributes = nil }, "missing attribute"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			in := input()
			tc.edit(&in)
			_, err := w.run(in)
			var ae *temporal.ApplicationError
			if !errors.As(err, &ae) || ae.Type() != contract.ErrBadInput || !ae.NonRetryable() {
				t.Fatalf("err = %v, want a non-retryable %s application error", err, contract.ErrBadInput)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %v, want it to mention %q", err, tc.wantMsg)
			}
			// Nothing ran: not even a registration.
			w.wantEvents()
		})
	}
}

func TestJourneyResolvesRecipient(t *testing.T) {
	w := newWorld(t)
	var got []activities.RecipientInput
	w.env.OnActivity(a.ResolveRecipient, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecipientInput) (activities.Recipient, error) {
			got = append(got, in)
			return activities.Recipient{Phone: recipient, Key: "rresolved"}, nil
		})
	in := input()
	in.RecipientKey = ""
	in.Phone = "(415) 555-0123"
	in.Region = "US"

	if _, err := w.run(in); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != (activities.RecipientInput{Phone: "(415) 555-0123", Region: "US"}) {
		t.Errorf("ResolveRecipient calls = %+v", got)
	}
	if len(w.regs) != 1 || w.regs[0].RecipientKey != "rresolved" {
		t.Errorf("registrations = %+v, want the resolved key", w.regs)
	}
	for _, s := range w.sends {
		if s.RecipientKey != "rresolved" || s.To != recipient {
			t.Errorf("send %+v, want the resolved key and E.164 number", s)
		}
	}
}

func TestJourneyResolveRecipientBadNumber(t *testing.T) {
	w := newWorld(t)
	w.env.OnActivity(a.ResolveRecipient, mock.Anything, mock.Anything).Return(
		activities.Recipient{}, temporal.NewNonRetryableApplicationError("phone: not a valid phone number", contract.ErrBadInput, nil))
	in := input()
	in.RecipientKey = ""
	in.Phone = "12"
	_, err := w.run(in)
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != contract.ErrBadInput {
		t.Fatalf("err = %v, want %s", err, contract.ErrBadInput)
	}
	w.wantEvents()
}

// A key from the starter is used as is: the number was normalised there.
func TestJourneyKnownKeySkipsResolve(t *testing.T) {
	w := newWorld(t)
	resolved := false
	w.env.OnActivity(a.ResolveRecipient, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.RecipientInput) (activities.Recipient, error) {
			resolved = true
			return activities.Recipient{}, nil
		})
	if _, err := w.run(input()); err != nil {
		t.Fatal(err)
	}
	if resolved {
		t.Error("ResolveRecipient called although the starter gave a key")
	}
}

// A marketing send that could not reach the provider before the window
// closed (it retried for hours) comes back Deferred: the journey waits for
// the next window, checks consent again and sends then.
func TestJourneyDeferredSendWaitsForNextWindow(t *testing.T) {
	w := newWorld(t)
	in := input()
	in.Journey.Steps = in.Journey.Steps[:1]
	deferred := false
	w.send = func(_ context.Context, s activities.SendInput) (activities.SendResult, error) {
		if !deferred {
			deferred = true
			return activities.SendResult{Status: activities.Deferred, Reason: activities.ReasonWindowClosed}, nil
		}
		return activities.SendResult{Status: contract.LedgerSent, MessageID: "SM1"}, nil
	}
	// The first send is deferred at once; the test clock then stands at
	// 08:00 San Francisco (15:00 UTC) only on the next day, if the journey
	// waits for the window to close and open again.
	w.env.SetStartTime(time.Date(2026, 6, 2, 3, 59, 0, 0, time.UTC)) // 20:59 PDT
	res, err := w.run(in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary != "sent 1" {
		t.Errorf("result %+v", res)
	}
	w.wantEvents("register", "check", "send 0", "check", "send 0", "deregister "+workflowID)
	if len(w.sentAt) != 2 || !w.sentAt[1].Equal(time.Date(2026, 6, 2, 15, 0, 0, 0, time.UTC)) {
		t.Errorf("sends at %v, want the second at 2026-06-02 15:00 UTC (08:00 PDT)", w.sentAt)
	}
	if len(w.sends) == 2 && !w.sends[1].NotAfter.Equal(time.Date(2026, 6, 3, 4, 0, 0, 0, time.UTC)) {
		t.Errorf("second send NotAfter %v, want the next evening's 21:00", w.sends[1].NotAfter)
	}
}

// Quiet hours: a marketing step due at night in the recipient's zone waits
// (a durable timer, visible in the status query) until the window opens,
// then checks consent and sends.
func TestJourneyQuietHours(t *testing.T) {
	tests := []struct {
		name     string
		start    time.Time // the test clock's start
		category contract.Category
		firstAt  time.Time // when the first send happens
		phone    string    // default: the San Francisco number
		hours    *journey.QuietHours
	}{
		// +14155550123 is in San Francisco; 07:00 UTC is midnight there.
		{"night defers to 08:00 local", time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC), "marketing", time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC), "", nil},
		{"late evening defers to the next morning", time.Date(2026, 6, 2, 5, 30, 0, 0, time.UTC), "marketing", time.Date(2026, 6, 2, 15, 0, 0, 0, time.UTC), "", nil},
		// Los Angeles is on PST after 2026-11-01: 08:00 is 16:00 UTC.
		{"after the DST change", time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), "marketing", time.Date(2026, 11, 2, 16, 0, 0, 0, time.UTC), "", nil},
		{"daytime sends at once", daytime, "marketing", daytime, "", nil},
		{"transactional is exempt", time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC), "transactional", time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC), "", nil},
		// Paris is UTC+2 in June. Sunday 2026-06-07 12:00 there.
		{"France: Sunday defers to Monday 08:00", time.Date(2026, 6, 7, 10, 0, 0, 0, time.UTC), "marketing", time.Date(2026, 6, 8, 6, 0, 0, 0, time.UTC), "+33123456789", nil},
		{"France: other hours keep the Sunday ban", time.Date(2026, 6, 7, 10, 0, 0, 0, time.UTC), "marketing", time.Date(2026, 6, 8, 7, 0, 0, 0, time.UTC), "+33123456789",
			&journey.QuietHours{Start: "09:00", End: "20:00"}},
		{"France: allow_rest_days with a legal_override lifts it", time.Date(2026, 6, 7, 10, 0, 0, 0, time.UTC), "marketing", time.Date(2026, 6, 7, 10, 0, 0, 0, time.UTC), "+33123456789",
			&journey.QuietHours{Start: "09:00", End: "20:00", AllowRestDays: true, LegalOverride: "staff"}},
		// Journeys started before legal_override existed: rest days stay.
		{"France: allow_rest_days alone keeps it", time.Date(2026, 6, 7, 10, 0, 0, 0, time.UTC), "marketing", time.Date(2026, 6, 8, 7, 0, 0, 0, time.UTC), "+33123456789",
			&journey.QuietHours{Start: "09:00", End: "20:00", AllowRestDays: true}},
		// France: Easter Monday 2027 (03-29) is a holiday; Tuesday 08:00 is 06:00 UTC.
		{"France: Easter Monday defers to Tuesday", time.Date(2027, 3, 29, 10, 0, 0, 0, time.UTC), "marketing", time.Date(2027, 3, 30, 6, 0, 0, 0, time.UTC), "+33123456789", nil},
		// Miami (EDT, UTC-4): 20:30 on 2026-06-01 is 00:30 UTC; Florida's window opens at 08:00.
		{"Florida: 20:30 defers to 08:00", time.Date(2026, 6, 2, 0, 30, 0, 0, time.UTC), "marketing", time.Date(2026, 6, 2, 12, 0, 0, 0, time.UTC), "+13055550123", nil},
		{"Florida: wider hours do not widen", time.Date(2026, 6, 2, 0, 30, 0, 0, time.UTC), "marketing", time.Date(2026, 6, 2, 12, 0, 0, 0, time.UTC), "+13055550123",
			&journey.QuietHours{Start: "00:00", End: "24:00"}},
		{"Florida: a legal_override widens", time.Date(2026, 6, 2, 0, 30, 0, 0, time.UTC), "marketing", time.Date(2026, 6, 2, 0, 30, 0, 0, time.UTC), "+13055550123",
			&journey.QuietHours{Start: "00:00", End: "24:00", LegalOverride: "test numbers"}},
		// Dallas (CDT, UTC-5): Sunday 2026-06-07 10:00 is 15:00 UTC; Texas opens Sundays at noon.
		{"Texas: Sunday 10:00 defers to 12:00", time.Date(2026, 6, 7, 15, 0, 0, 0, time.UTC), "marketing", time.Date(2026, 6, 7, 17, 0, 0, 0, time.UTC), "+12145550123", nil},
		// New York has no stricter law: 20:30 EDT is inside the TCPA's window.
		{"New York: 20:30 sends", time.Date(2026, 6, 2, 0, 30, 0, 0, time.UTC), "marketing", time.Date(2026, 6, 2, 0, 30, 0, 0, time.UTC), "+12125550123", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.env.SetStartTime(tt.start)
			var deferred time.Time
			w.env.RegisterDelayedCallback(func() {
				if v, err := w.env.QueryWorkflow(contract.QueryStatus); err == nil {
					var st contract.JourneyStatus
					if v.Get(&st) == nil {
						deferred = st.DeferredUntil
					}
				}
			}, time.Minute)
			in := input()
			in.Journey.Category = tt.category
			if tt.phone != "" {
				in.Phone = tt.phone
			}
			if tt.hours != nil {
				in.Journey.Sender.QuietHours = tt.hours
			}
			if _, err := w.run(in); err != nil {
				t.Fatal(err)
			}
			if len(w.sentAt) == 0 {
				t.Fatal("nothing sent")
			}
			if !w.sentAt[0].Equal(tt.firstAt) {
				t.Errorf("first send at %v, want %v", w.sentAt[0].UTC(), tt.firstAt)
			}
			if tt.firstAt.After(tt.start) && !deferred.Equal(tt.firstAt) {
				t.Errorf("status DeferredUntil = %v, want %v", deferred.UTC(), tt.firstAt)
			}
		})
	}
}

// The audience's state column: a New York number whose owner lives in
// Florida gets Florida's window, the stricter one, open in all of
// Florida's zones (the panhandle keeps Central time).
func TestJourneyResidenceState(t *testing.T) {
	w := newWorld(t)
	start := time.Date(2026, 6, 2, 0, 30, 0, 0, time.UTC) // 20:30 EDT
	w.env.SetStartTime(start)
	in := input()
	in.Phone, in.State = "+12125550123", "FL"
	if _, err := w.run(in); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 6, 2, 13, 0, 0, 0, time.UTC); len(w.sentAt) == 0 || !w.sentAt[0].Equal(want) {
		t.Errorf("first send at %v, want %v (08:00 CDT)", w.sentAt, want)
	}
	if got, want := w.sends[0].NotAfter, time.Date(2026, 6, 3, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("NotAfter = %v, want %v (Florida's 20:00 EDT)", got.UTC(), want)
	}
}

// A journey whose start set its search attributes does not set them again;
// one started without them (from the Temporal UI) publishes them itself.
func TestJourneyPublishesSearchAttributesOnce(t *testing.T) {
	in := input()
	all := workflows.StartSearchAttributes(in) // as the starter sets them
	for _, tc := range []struct {
		name    string
		onStart temporal.SearchAttributes
		want    []string // the JourneyState each upsert set, in order
	}{
		{"set at start", all, []string{workflows.StateCompleted}},
		{"none at start", temporal.NewSearchAttributes(), []string{workflows.StateRunning, workflows.StateCompleted}},
		{"another run at start", temporal.NewSearchAttributes(
			workflows.SAJourneyName.ValueSet(in.Journey.Name), workflows.SAJourneyRunID.ValueSet("run0"),
			workflows.SARecipientKey.ValueSet(in.RecipientKey), workflows.SAJourneyState.ValueSet(workflows.StateRunning)),
			[]string{workflows.StateRunning, workflows.StateCompleted}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			if err := w.env.SetTypedSearchAttributesOnStart(tc.onStart); err != nil {
				t.Fatal(err)
			}
			var got []string
			w.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
				if v, ok := args.Get(0).(temporal.SearchAttributes).GetKeyword(workflows.SAJourneyState); ok {
					got = append(got, v)
				}
			}).Return(nil)
			if _, err := w.run(in); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("JourneyState upserts = %q, want %q", got, tc.want)
			}
		})
	}
}
