package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/consent"
	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/policy"
)

// JourneyInput starts one recipient's journey. From the starter, Phone is
// E.164 and RecipientKey is set. From the Temporal UI, a bare Phone (plus
// Region for national formats) is enough: the workflow resolves the key.
type JourneyInput struct {
	RunID        string             `json:"run_id"`
	Journey      journey.Definition `json:"journey"`
	Phone        string             `json:"phone"`
	Region       string             `json:"region,omitempty"`
	RecipientKey string             `json:"recipient_key,omitempty"`
	Attributes   map[string]string  `json:"attributes,omitempty"`
	// State is the US state the recipient lives in (USPS code, from the
	// audience file's state column), or "". Its rule applies on top of the
	// number's area-code state: the stricter wins.
	State string `json:"state,omitempty"`
}

// Journey states, also the JourneyState search attribute.
const (
	StateRunning   = "running"
	StateCompleted = "completed" // every step ran
	StateSkipped   = "skipped"   // a consent check said no before a send
	StateStopped   = "stopped"   // cancelled by an opt-out while running
)

// JourneyStatus answers the status query.
type JourneyStatus struct {
	Journey      string    `json:"journey"`
	State        string    `json:"state"`
	Step         int       `json:"step"` // index into the journey's steps
	Steps        int       `json:"steps"`
	Sent         int       `json:"sent"`
	Unknown      int       `json:"unknown,omitempty"` // sends whose outcome could not be resolved
	Reason       string    `json:"reason,omitempty"`
	WaitingUntil time.Time `json:"waiting_until,omitzero"`
	// DeferredUntil is when a marketing step held back by quiet hours or a
	// frequency cap may go; DeferredReason says which.
	DeferredUntil  time.Time `json:"deferred_until,omitzero"`
	DeferredReason string    `json:"deferred_reason,omitempty"`
	// ConfirmBy is, at an opt_in step, when the wait for the recipient's
	// YES ends.
	ConfirmBy time.Time `json:"confirm_by,omitzero"`
}

// JourneyResult is the journey's outcome; Summary reads like
// "sent 1, skipped at step 2: opted_out".
type JourneyResult struct {
	JourneyStatus
	Summary string `json:"summary"`
}

// Journey runs one recipient through a journey's steps. Before every SMS
// step it checks consent; an opt-out signalled while it runs cancels the
// pending wait or send at once.
func Journey(ctx workflow.Context, in JourneyInput) (JourneyResult, error) {
	def := in.Journey
	if err := def.Validate(); err != nil {
		return JourneyResult{}, temporal.NewNonRetryableApplicationError("journey: "+err.Error(), activities.ErrBadInput, nil)
	}
	bodies, err := def.Render(in.Attributes)
	if err != nil {
		return JourneyResult{}, temporal.NewNonRetryableApplicationError("journey: "+err.Error(), activities.ErrBadInput, nil)
	}
	var a *activities.Activities
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions)

	recipient := activities.Recipient{Phone: in.Phone, Key: in.RecipientKey}
	if recipient.Key == "" {
		err := workflow.ExecuteLocalActivity(lctx, a.ResolveRecipient, activities.RecipientInput{Phone: in.Phone, Region: in.Region}).Get(ctx, &recipient)
		if err != nil {
			return JourneyResult{}, err
		}
	}

	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	scope := def.Sender.Scope()
	status := JourneyStatus{Journey: def.Name, State: StateRunning, Steps: len(def.Steps)}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (JourneyStatus, error) { return status, nil }); err != nil {
		return JourneyResult{}, err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		SAJourneyName.ValueSet(def.Name), SAJourneyRunID.ValueSet(in.RunID),
		SARecipientKey.ValueSet(recipient.Key), SAJourneyState.ValueSet(StateRunning)); err != nil {
		return JourneyResult{}, err
	}

	// Register before the first step so an opt-out from now on finds us.
	reg := activities.Registration{WorkflowID: id, RecipientKey: recipient.Key, Phone: recipient.Phone, Scope: scope, Category: def.Category}
	if err := workflow.ExecuteLocalActivity(lctx, a.RegisterJourney, reg).Get(ctx, nil); err != nil {
		return JourneyResult{}, err
	}
	defer func() {
		// Runs on every exit path; a disconnected context survives cancellation.
		dctx, _ := workflow.NewDisconnectedContext(lctx)
		_ = workflow.ExecuteLocalActivity(dctx, a.DeregisterJourney, id).Get(dctx, nil)
	}()

	sendOpts, err := sendActivityOptions(ctx, scope)
	if err != nil {
		return JourneyResult{}, err
	}

	// The cancel signal cancels stepCtx: timers and activities started
	// under it stop at once.
	stepCtx, cancel := workflow.WithCancel(ctx)
	workflow.Go(ctx, func(gctx workflow.Context) {
		var req activities.CancelRequest
		workflow.GetSignalChannel(gctx, SignalCancel).Receive(gctx, &req)
		status.Reason = req.Reason
		if status.Reason == "" {
			status.Reason = activities.ReasonOptedOut
		}
		cancel()
	})

	finish := func(state string) (JourneyResult, error) {
		status.State = state
		status.WaitingUntil = time.Time{}
		_ = workflow.UpsertTypedSearchAttributes(ctx, SAJourneyState.ValueSet(state))
		return JourneyResult{JourneyStatus: status, Summary: summary(status)}, nil
	}

	// gate runs a consent activity (CheckConsent, RequestOptIn); ended says
	// the journey ends there, with result endResult: cancelled while it ran,
	// refused, or failed for good.
	var endResult JourneyResult
	gate := func(check any, q activities.ConsentQuery) (d consent.Decision, ended bool, err error) {
		err = workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(stepCtx, localOptions), check, q).Get(stepCtx, &d)
		switch {
		case temporal.IsCanceledError(err):
			endResult, err = finish(StateStopped)
		case err != nil:
			endResult = JourneyResult{}
		case !d.Allowed:
			status.Reason = reason(d)
			endResult, err = finish(StateSkipped)
		default:
			return d, false, nil
		}
		return d, true, err
	}

steps:
	for i, step := range def.Steps {
		status.Step = i
		if stepCtx.Err() != nil {
			return finish(StateStopped)
		}
		if step.IsWait() {
			status.WaitingUntil = workflow.Now(ctx).Add(step.WaitDuration())
			err := workflow.Sleep(stepCtx, step.WaitDuration())
			status.WaitingUntil = time.Time{}
			if err != nil {
				return finish(StateStopped) // only cancellation fails a timer
			}
			continue
		}

		// An opt_in step first makes the recipient pending (under the same
		// rules as a consent check), then sends its request.
		category, check := def.Category, a.CheckConsent
		if step.IsOptIn() {
			category, check = activities.CategoryOptInRequest, a.RequestOptIn
		}
		q := activities.ConsentQuery{RecipientKey: recipient.Key, Scope: scope, Category: category}
		marketing := def.Category == journey.CategoryMarketing
		var res activities.SendResult
		// Wait for the sending window, check consent, send. A marketing
		// send that could not reach the provider before the window closed
		// (hours of retries) comes back Deferred, and the step starts over.
		for {
			if marketing {
				if err := waitForWindow(stepCtx, &status, recipient.Phone, in.State, def.Sender.QuietHours); err != nil {
					return finish(StateStopped) // only cancellation fails a timer
				}
			}
			decision, ended, err := gate(check, q)
			if ended {
				return endResult, err
			}
			if step.IsOptIn() && decision.State == consent.Confirmed {
				continue steps // nothing to ask
			}

			send := activities.SendInput{
				WorkflowID: id, Step: i, RecipientKey: recipient.Key, Scope: scope, Category: category,
				Provider: def.Sender.Provider, To: recipient.Phone, From: def.Sender.From,
				MessagingServiceSID: def.Sender.MessagingServiceSID, Body: bodies[i],
			}
			if marketing && workflow.GetVersion(ctx, "send-window-bound", workflow.DefaultVersion, 1) == 1 {
				if send.NotAfter = windowCloses(ctx, recipient.Phone, in.State, def.Sender.QuietHours); send.NotAfter.IsZero() {
					continue // the consent check outlasted the window
				}
			}
			if marketing && workflow.GetVersion(ctx, "frequency-cap", workflow.DefaultVersion, 1) == 1 {
				send.FrequencyCap, send.State = true, in.State
			}
			err = workflow.ExecuteActivity(workflow.WithActivityOptions(stepCtx, sendOpts), a.SendSMS, send).Get(ctx, &res)
			var canceled *temporal.CanceledError
			switch {
			case errors.As(err, &canceled):
				return finish(StateStopped)
			case err != nil:
				status.State = "failed"
				status.Reason = "send failed"
				_ = workflow.UpsertTypedSearchAttributes(ctx, SAJourneyState.ValueSet("failed"))
				return JourneyResult{}, err
			}
			if res.Status != activities.Deferred {
				break
			}
			if !res.DeferredUntil.IsZero() {
				if err := waitOutCap(stepCtx, &status, res); err != nil {
					return finish(StateStopped) // only cancellation fails a timer
				}
				continue
			}
			// The worker's clock may run ahead of workflow time: do not
			// look for the next window before this one has closed here too.
			if d := send.NotAfter.Sub(workflow.Now(ctx)); d > 0 {
				if err := workflow.Sleep(stepCtx, d); err != nil {
					return finish(StateStopped) // only cancellation fails a timer
				}
			}
		}
		switch res.Status {
		case consent.Sent:
			status.Sent++
		case consent.Unresolved:
			status.Unknown++
		case consent.Skipped:
			status.Reason = res.Reason
			return finish(StateSkipped)
		}
		if stepCtx.Err() != nil {
			// Cancelled while the provider accepted this step: it was sent
			// before the opt-out committed; nothing more is.
			status.Step = i + 1
			if i+1 < len(def.Steps) {
				return finish(StateStopped)
			}
		}
		if step.IsOptIn() {
			confirmed, err := awaitConfirmation(stepCtx, &status)
			if err != nil {
				return finish(StateStopped) // only cancellation fails a timer
			}
			if !confirmed {
				// No signal in time; ask Postgres, which a lost signal
				// cannot fool, before giving up.
				q.Category = journey.CategoryMarketing
				if _, ended, err := gate(a.CheckConsent, q); ended {
					return endResult, err
				}
			}
		}
	}
	status.Step = len(def.Steps)
	return finish(StateCompleted)
}

// waitForWindow holds a marketing step until the recipient's local time is
// inside the sending window (the most restrictive of the recipient's zones:
// the number's and their state's).
// The consent check follows, so a STOP during the deferral still counts.
func waitForWindow(ctx workflow.Context, status *JourneyStatus, e164, state string, override *journey.QuietHours) error {
	for {
		now := workflow.Now(ctx)
		var next time.Time
		// Zone rules come from the worker's tz data, and state rules from
		// its build, both of which can differ between workers and change
		// with a deploy: record the answer in history, so a replay never
		// recomputes it and a running journey keeps the decision it made.
		err := workflow.SideEffect(ctx, func(workflow.Context) any {
			return policy.NextAllowed(now, policy.RecipientZones(e164, state), sendingWindow(e164, state, override))
		}).Get(&next)
		if err != nil {
			return err
		}
		if !next.After(now) {
			status.DeferredUntil, status.DeferredReason = time.Time{}, ""
			return nil
		}
		status.DeferredUntil, status.DeferredReason = next, deferredSendingWindow
		if err := workflow.Sleep(ctx, next.Sub(now)); err != nil {
			return err
		}
	}
}

// sendingWindow is the recipient's marketing window: the legal window of
// the number's region and states, narrowed by the sender's hours, or
// replaced by them with a legal_override.
func sendingWindow(e164, state string, override *journey.QuietHours) policy.Window {
	w := policy.LegalWindow(e164, state)
	if override != nil {
		w, _ = override.Apply(w) // validated with the journey
	}
	return w
}

// windowCloses returns when the recipient's current sending window closes,
// or the zero time if it is closed now. Recorded, as waitForWindow's answer.
func windowCloses(ctx workflow.Context, e164, state string, override *journey.QuietHours) time.Time {
	now := workflow.Now(ctx)
	var closes time.Time
	_ = workflow.SideEffect(ctx, func(workflow.Context) any {
		return policy.WindowCloses(now, policy.RecipientZones(e164, state), sendingWindow(e164, state, override))
	}).Get(&closes)
	return closes
}

// awaitConfirmation waits at an opt_in step for the recipient's YES, which
// the OptOut workflow signals, for at most consent.ConfirmWindow. The next
// marketing step's consent check still requires the confirmation, so a
// stray signal cannot send anything.
func awaitConfirmation(ctx workflow.Context, status *JourneyStatus) (confirmed bool, err error) {
	status.ConfirmBy = workflow.Now(ctx).Add(consent.ConfirmWindow)
	defer func() { status.ConfirmBy = time.Time{} }()
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	workflow.NewSelector(ctx).
		AddReceive(workflow.GetSignalChannel(ctx, SignalConfirmed), func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			confirmed = true
		}).
		AddFuture(workflow.NewTimer(timerCtx, consent.ConfirmWindow), func(f workflow.Future) { err = f.Get(ctx, nil) }).
		Select(ctx)
	return confirmed, err
}

// reason is why a consent decision refused; decisions recorded before
// reasons existed were opt-outs.
func reason(d consent.Decision) string {
	if d.Reason == "" {
		return activities.ReasonOptedOut
	}
	return d.Reason
}

func summary(s JourneyStatus) string {
	text := fmt.Sprintf("sent %d", s.Sent)
	if s.Unknown > 0 {
		text += fmt.Sprintf(", %d unknown", s.Unknown)
	}
	switch s.State {
	case StateSkipped:
		text += fmt.Sprintf(", skipped at step %d: %s", s.Step, s.Reason)
	case StateStopped:
		text += fmt.Sprintf(", stopped: %s at step %d", s.Reason, s.Step)
	}
	return text
}

// localOptions: database reads and writes. Unlimited retries: a consent
// check that fails is retried until it answers, never taken as consent.
var localOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout:    10 * time.Second,
	ScheduleToCloseTimeout: 365 * 24 * time.Hour, // else it defaults to StartToCloseTimeout

	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        200 * time.Millisecond,
		BackoffCoefficient:     2,
		MaximumInterval:        10 * time.Second,
		NonRetryableErrorTypes: []string{activities.ErrBadInput},
	},
}

// sendOptions: the heartbeat timeout detects a dead worker quickly (the
// activity heartbeats during the provider call), and WaitForCancellation
// lets the workflow learn whether a cancelled send was accepted.
var sendOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    time.Minute,
	ScheduleToCloseTimeout: 24 * time.Hour,
	HeartbeatTimeout:       10 * time.Second,
	WaitForCancellation:    true,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrBadInput, activities.ErrProviderPermanent, activities.ErrNoSender},
	},
}
