package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/stopline/stopline/internal/consent"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/sms"
)

// SendInput is one SMS step of one journey.
type SendInput struct {
	WorkflowID          string // ledger key, with Step
	Step                int
	RecipientKey        string
	Scope               string // the sender's address (its consent scope comes from the senders file)
	Category            string // journey category or CategoryOptInRequest; "" is marketing
	Provider            string // twilio, sinch, http, sandbox
	To                  string // E.164
	From                string
	MessagingServiceSID string
	Body                string
	// NotAfter, if set, is when the recipient's sending window closes: an
	// attempt (a retry after hours of 429s, say) that would call the
	// provider later answers Deferred instead, and the journey waits for
	// the next window.
	NotAfter time.Time `json:",omitempty"`
	// FrequencyCap: the send counts against the recipient's frequency caps
	// (caps.go), and waits while one is full. State is the recipient's
	// residence, as in JourneyInput, for the state's cap.
	FrequencyCap bool   `json:",omitempty"`
	State        string `json:",omitempty"`
}

// Deferred is a SendResult status, never stored: the sending window closed,
// or a frequency cap was full (DeferredUntil), before the provider was
// called.
const Deferred consent.SendStatus = "deferred"

// Reasons a step was not sent.
const (
	ReasonOptedOut           = consent.ReasonOptedOut     // stopline's consent says no
	ReasonNotConfirmed       = consent.ReasonNotConfirmed // double opt-in not confirmed
	ReasonOptedOutAtProvider = "opted_out_at_provider"    // provider answered 21610 / 257
	ReasonInvalidNumber      = "invalid_number"
	ReasonUnresolved         = "earlier_attempt_unresolved"
	ReasonWindowClosed       = "sending_window_closed"
)

// SendResult is the ledger's verdict on a step.
type SendResult struct {
	Status    consent.SendStatus // sent, skipped or unknown
	MessageID string
	Reason    string
	// DeferredUntil is when a send held back by a frequency cap may go.
	DeferredUntil time.Time `json:",omitzero"`
}

// SendSMS sends one journey step at most once.
//
// The send ledger row for (workflow, step) is written before the provider
// call, so a retry after a crash knows a call may have happened. Such an
// ambiguous attempt is resolved by asking the provider (sms.Finder); a
// provider that cannot be asked gets no second call and the step is marked
// "unknown".
//
// The provider call runs inside consent.Store.Fenced: under the recipient's
// lock and after a consent check made under it, so it cannot interleave with
// an opt-out's commit.
func (a *Activities) SendSMS(ctx context.Context, in SendInput) (SendResult, error) {
	return a.deliver(ctx, in, true)
}

// deliver sends in at most once per (WorkflowID, Step). fenced makes the
// provider call conditional on consent under the recipient's lock; only
// the compliance replies (confirmations, HELP) are sent unfenced.
func (a *Activities) deliver(ctx context.Context, in SendInput, fenced bool) (SendResult, error) {
	sender, ok := a.Senders[in.Provider]
	if !ok {
		return SendResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("no SMS sender configured for provider %q", in.Provider), ErrNoSender, nil)
	}
	if err := a.checkKey(in.To, in.RecipientKey); err != nil {
		return SendResult{}, err
	}
	msg := sms.Message{To: in.To, From: in.From, MessagingServiceSID: in.MessagingServiceSID, Body: in.Body}

	entry, fresh, err := a.Store.BeginAttempt(ctx, in.WorkflowID, in.Step, in.RecipientKey, in.Provider)
	if err != nil {
		return SendResult{}, err
	}
	if entry.Status.Final() {
		if entry.Reason == ReasonOptedOutAtProvider {
			// The attempt that saw the refusal may have died before
			// recording it; Record is idempotent.
			if _, err := a.Store.Record(ctx, consent.Change{
				RecipientKey: in.RecipientKey, Scope: a.Registry.ConsentScope(in.Scope), To: consent.OptedOut,
				Source: consent.SourceProvider, Provider: in.Provider, Sender: in.From + in.MessagingServiceSID,
			}); err != nil {
				return SendResult{}, err
			}
		}
		return SendResult{Status: entry.Status, MessageID: entry.ProviderMessageID, Reason: entry.Reason}, nil
	}
	if entry.Status == consent.Attempting && !fresh {
		if res, done, err := a.resolve(ctx, sender, msg, entry); done || err != nil {
			return res, err
		}
	}

	// Learn about a cancellation (the recipient opted out) before calling.
	activity.RecordHeartbeat(ctx)
	if err := ctx.Err(); err != nil {
		return SendResult{}, err
	}

	// The call is not tied to the activity's cancellation: once it starts,
	// its outcome must be recorded, or a retry could not tell it happened.
	timeout := a.SendTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout+5*time.Second)
	defer cancel()

	var (
		result  SendResult
		sendErr error
	)
	stopBeat := heartbeatEvery(ctx, 2*time.Second)
	defer stopBeat()
	guard := a.Store.Fenced
	if !fenced {
		guard = a.Store.Exempt
	}
	scope := a.Registry.ConsentScope(in.Scope)
	decision, err := guard(callCtx, in.RecipientKey, scope, a.rule(scope, in.Category), func(tx pgx.Tx) error {
		status, id, reason, err := a.Store.LockAttempt(callCtx, tx, in.WorkflowID, in.Step)
		if err != nil {
			return err
		}
		if status.Final() {
			// A concurrent attempt finished while this one waited.
			result = SendResult{Status: status, MessageID: id, Reason: reason}
			return nil
		}
		if !in.NotAfter.IsZero() && time.Now().After(in.NotAfter) {
			// Not sent, so "failed": the next attempt calls afresh.
			result = SendResult{Status: Deferred, Reason: ReasonWindowClosed}
			return a.Store.FinishAttempt(callCtx, tx, in.WorkflowID, in.Step, consent.Failed, "", ReasonWindowClosed)
		}
		if res, held, err := a.holdForCap(callCtx, tx, in, scope); held || err != nil {
			result = res
			return err
		}
		providerCtx, cancel := context.WithTimeout(callCtx, timeout)
		defer cancel()
		res, err := sender.Send(providerCtx, msg)
		if err == nil {
			result = SendResult{Status: consent.Sent, MessageID: res.MessageID}
			return a.Store.FinishAttempt(callCtx, tx, in.WorkflowID, in.Step, consent.Sent, res.MessageID, "")
		}
		sendErr = err
		switch kind := sms.KindOf(err); kind {
		case sms.OptedOut:
			result = SendResult{Status: consent.Skipped, Reason: ReasonOptedOutAtProvider}
		case sms.InvalidNumber:
			result = SendResult{Status: consent.Skipped, Reason: ReasonInvalidNumber}
		default:
			var se *sms.Error
			if !errors.As(err, &se) || se.HTTPStatus == 0 && !se.NotSent {
				// No answer (timeout, connection reset): the provider may
				// have accepted it. Leave the row "attempting".
				return nil
			}
			if ambiguous(se.HTTPStatus, sender) {
				return nil
			}
			// The provider answered with an error (it did not accept it),
			// or the request never left.
			return a.Store.FinishAttempt(callCtx, tx, in.WorkflowID, in.Step, consent.Failed, "", kind.String())
		}
		return a.Store.FinishAttempt(callCtx, tx, in.WorkflowID, in.Step, result.Status, "", result.Reason)
	})
	if err != nil {
		return SendResult{}, err
	}
	if !decision.Allowed {
		result = SendResult{Status: consent.Skipped, Reason: decision.Reason}
		return result, a.Store.FinishAttempt(ctx, nil, in.WorkflowID, in.Step, result.Status, "", result.Reason)
	}
	if result.Reason == ReasonOptedOutAtProvider && sendErr != nil {
		// The provider knows the recipient opted out (e.g. a STOP it
		// handled itself): make stopline's own record agree.
		if _, err := a.Store.Record(ctx, consent.Change{
			RecipientKey: in.RecipientKey, Scope: a.Registry.ConsentScope(in.Scope), To: consent.OptedOut,
			Source: consent.SourceProvider, Provider: in.Provider, Sender: in.From + in.MessagingServiceSID,
			Note: sendErr.Error(),
		}); err != nil {
			return SendResult{}, err
		}
		a.logger().Info("provider reports recipient opted out", "to", phone.Mask(in.To), "workflow", in.WorkflowID)
	}
	if result.Status != "" {
		return result, nil
	}
	var se *sms.Error
	if errors.As(sendErr, &se) && !se.Retryable() {
		return SendResult{}, temporal.NewNonRetryableApplicationError(se.Error(), ErrProviderPermanent, nil)
	}
	return SendResult{}, sendErr
}

// ambiguous reports whether an error status may have followed the provider
// taking the message, so the attempt must stay "attempting" and a retry
// must look it up, or, with a provider that cannot be asked, not resend.
// 502 and 504 come from a gateway that gave up on the provider, which may
// have taken the message. With a lookup any 5xx is checked, as it is cheap;
// without one, the provider's own 500 and 503 count as refusals, as they
// nearly always are, since an "unknown" step is a message never sent.
func ambiguous(status int, sender sms.Sender) bool {
	if _, canLook := sender.(sms.Finder); canLook {
		return status >= 500
	}
	return status == http.StatusBadGateway || status == http.StatusGatewayTimeout
}

// resolve settles an attempt whose outcome is unknown. done is true when the
// step must not be sent again.
func (a *Activities) resolve(ctx context.Context, sender sms.Sender, msg sms.Message, e consent.LedgerEntry) (SendResult, bool, error) {
	finder, ok := sender.(sms.Finder)
	if !ok {
		a.logger().Warn("send outcome unknown; not resending", "workflow", e.WorkflowID, "step", e.Step)
		res := SendResult{Status: consent.Unresolved, Reason: ReasonUnresolved}
		return res, true, a.Store.FinishAttempt(ctx, nil, e.WorkflowID, e.Step, res.Status, "", res.Reason)
	}
	// Allow for clock skew between this host and the provider.
	found, ok, err := finder.Find(ctx, msg, e.AttemptedAt.Add(-2*time.Minute))
	if err != nil {
		return SendResult{}, false, err
	}
	if !ok {
		return SendResult{}, false, nil // never accepted: send it now
	}
	a.logger().Info("earlier send attempt found at the provider; not resending", "workflow", e.WorkflowID, "step", e.Step)
	res := SendResult{Status: consent.Sent, MessageID: found.MessageID}
	return res, true, a.Store.FinishAttempt(ctx, nil, e.WorkflowID, e.Step, res.Status, res.MessageID, "")
}

// heartbeatEvery heartbeats until stopped, so a long provider call is not
// mistaken for a dead worker (which would start a concurrent retry).
func heartbeatEvery(ctx context.Context, d time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}
