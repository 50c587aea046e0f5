package activities

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/sms"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

// SendInput is one SMS step of one journey.
type SendInput struct {
	// LedgerKey, with Step, keys the send ledger: the journey's workflow
	// ID, or reply/<provider>/<message ID> for a reply. Its JSON name is
	// from when only journeys sent.
	LedgerKey           string `json:"WorkflowID"`
	Step                int
	RecipientKey        string
	Scope               string            // the sender's address (its consent scope comes from the senders file)
	Category            contract.Category // journey category or contract.CategoryOptInRequest; "" is marketing
	Provider            contract.Provider
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
	// Test marks a test send's (starter test) ledger row; TestNow, one
	// sent outside the sending window.
	Test    bool `json:",omitempty"`
	TestNow bool `json:",omitempty"`
	// RunID, if set, is the journey's run: a send of a paused run holds,
	// one of a stopped run is skipped (runs.go).
	RunID string `json:",omitempty"`
}

// Deferred is a SendResult status, never stored: the sending window closed,
// or a frequency cap was full (DeferredUntil), before the provider was
// called.
const Deferred contract.SendStatus = "deferred"

// Reasons a step was not sent.
const (
	ReasonNotConfirmed       = contract.ReasonNotConfirmed // double opt-in not confirmed
	ReasonOptedOutAtProvider = "opted_out_at_provider"     // provider answered 21610 / 257
	ReasonInvalidNumber      = "invalid_number"
	ReasonUnresolved         = "earlier_attempt_unresolved"
	ReasonWindowClosed       = "sending_window_closed"
	ReasonCancelled          = "cancelled" // the journey stopped before the provider took it (closeCancelled, SettleSend)
)

// SendResult is the ledger's verdict on a step.
type SendResult struct {
	Status    contract.SendStatus // sent, skipped or unknown
	MessageID string
	Reason    string
	// DeferredUntil is when a send held back by a frequency cap may go.
	DeferredUntil time.Time `json:",omitzero"`
	// RunSeq is the run's sequence number when a paused or stopped run
	// held the send back (contract.RunSignal.Seq).
	RunSeq int64 `json:",omitempty"`
}

// SendSMS sends one journey step at most once.
//
// The send ledger row for (workflow, step) is written before the provider
// call, so a retry after a crash knows a call may have happened. Such an
// ambiguous attempt is resolved by asking the provider (sms.Finder); a
// provider that cannot be asked gets no second call and the step is marked
// "unknown".
//
// The provider call runs inside the fence (store.Store.Fenced): under the recipient's
// lock and after a consent check made under it, so it cannot interleave with
// an opt-out's commit.
func (a *Activities) SendSMS(ctx context.Context, in SendInput) (SendResult, error) {
	return a.deliver(ctx, in, false)
}

// deliver sends in at most once per (LedgerKey, Step): it claims the
// ledger row, settles an earlier attempt whose outcome is unknown, and
// calls the provider inside the fence, recording the outcome there. exempt
// lifts the fence's consent check, for the compliance replies only
// (confirmations, HELP).
func (a *Activities) deliver(ctx context.Context, in SendInput, exempt bool) (SendResult, error) {
	d, err := a.newDelivery(in, exempt)
	if err != nil {
		return SendResult{}, err
	}
	if res, done, err := d.claim(ctx); done || err != nil {
		return res, err
	}
	// Learn about a cancellation (the recipient opted out) before calling.
	activity.RecordHeartbeat(ctx)
	if err := ctx.Err(); err != nil {
		if cancelRequested(ctx) {
			d.closeCancelled(ctx)
		}
		return SendResult{}, err
	}
	// The call is not tied to the activity's cancellation: once it starts,
	// its outcome must be recorded, or a retry could not tell it happened.
	// The verdict is recorded with it (record).
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.timeout+5*time.Second)
	defer cancel()
	stopBeat := heartbeatEvery(ctx, 2*time.Second)
	defer stopBeat()
	var att attempt
	decision, err := d.fence(callCtx, func(tx pgx.Tx) (err error) {
		att, err = d.call(callCtx, tx)
		return err
	})
	if err != nil {
		return SendResult{}, err
	}
	return d.record(callCtx, decision, att)
}

// cancelRequested reports whether ctx, an activity's, ended because the
// workflow cancelled the activity, not because the worker is stopping or
// the attempt timed out: those are retried, and the step with them.
func cancelRequested(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled) && temporal.IsCanceledError(context.Cause(ctx))
}

// closeCancelled records the claimed step skipped, cancelled: the workflow
// cancelled the send before this attempt called the provider, and an
// earlier attempt's message, if any, was looked for by the claim. The
// journey stops there, so no attempt will close the row; a row left open
// costs the journey a settle (SettleSend). An attempt that recorded a
// verdict meanwhile keeps it.
func (d *delivery) closeCancelled(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	cancelled := func(store.LedgerEntry) (contract.SendStatus, string, string, error) {
		return contract.LedgerSkipped, "", ReasonCancelled, nil
	}
	if _, err := d.Store.SettleAttempt(ctx, d.in.LedgerKey, d.in.Step, d.in.RecipientKey, string(d.in.Provider), cancelled); err != nil {
		d.logger().Warn("record a send cancelled before its call", "workflow", d.in.LedgerKey, "step", d.in.Step, "err", err)
	}
}

// SettleSend settles a step whose send was cancelled and lost an attempt
// (its worker died) that no retry will settle: the server does not retry a
// send whose cancellation was requested, and a cancel drops a waiting
// retry. Under the
// ledger row's lock, so no attempt can call the provider meanwhile, it
// asks the provider whether the attempt's message was accepted, as a retry
// would, so the ledger agrees with the provider; unlike a retry it never
// calls the provider: a message nobody sent is recorded skipped,
// cancelled. A row that is not open (final, or failed: nothing went out)
// stands.
func (a *Activities) SettleSend(ctx context.Context, in SendInput) (SendResult, error) {
	d, err := a.newDelivery(in, false)
	if err != nil {
		return SendResult{}, err
	}
	e, err := d.Store.SettleAttempt(ctx, in.LedgerKey, in.Step, in.RecipientKey, string(in.Provider),
		func(e store.LedgerEntry) (contract.SendStatus, string, string, error) {
			id, found, asked, err := d.find(ctx, e)
			switch {
			case err != nil:
				return "", "", "", err
			case !asked:
				return contract.LedgerUnresolved, "", ReasonUnresolved, nil
			case found:
				return contract.LedgerSent, id, "", nil
			}
			return contract.LedgerSkipped, "", ReasonCancelled, nil
		})
	if err == nil && in.Test {
		err = d.Store.MarkTest(ctx, in.LedgerKey, in.Step, in.TestNow) // as claim marks it
	}
	if err != nil {
		return SendResult{}, err
	}
	return SendResult{Status: e.Status, MessageID: e.ProviderMessageID, Reason: e.Reason}, nil
}

// SendOpen reports whether in's cancelled step has an open attempt, which
// SettleSend must settle: an attempt claimed the ledger row and died
// before recording an outcome (one cancelled before its call closes the
// row itself). A local activity: it reads the ledger only.
func (a *Activities) SendOpen(ctx context.Context, in SendInput) (bool, error) {
	return a.Store.AttemptOpen(ctx, in.LedgerKey, in.Step)
}

// delivery is one message on its way to the provider.
type delivery struct {
	*Activities
	in      SendInput
	sender  sms.Sender
	msg     sms.Message
	exempt  bool
	timeout time.Duration // of the provider call
}

// attempt is what one provider call did: a verdict for the ledger, or
// none (Status "") when the outcome stays open, and the provider's error.
type attempt struct {
	result  SendResult
	sendErr error
}

func (a *Activities) newDelivery(in SendInput, exempt bool) (*delivery, error) {
	sender, ok := a.Providers[in.Provider]
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("no SMS sender configured for provider %q", in.Provider), contract.ErrNoSender, nil)
	}
	if err := a.checkKey(in.To, in.RecipientKey); err != nil {
		return nil, err
	}
	return &delivery{
		Activities: a, in: in, sender: sender, exempt: exempt, timeout: cmp.Or(a.SendTimeout, 15*time.Second),
		msg: sms.Message{To: in.To, From: in.From, MessagingServiceSID: in.MessagingServiceSID, Body: in.Body},
	}, nil
}

// claim writes the ledger row before any provider call. done says the step
// is settled: it was before (a retry), or an earlier attempt that may have
// reached the provider was found there, or cannot be asked about.
func (d *delivery) claim(ctx context.Context) (res SendResult, done bool, err error) {
	entry, fresh, err := d.Store.BeginAttempt(ctx, d.in.LedgerKey, d.in.Step, d.in.RecipientKey, string(d.in.Provider))
	if err == nil && d.in.Test {
		// Before any provider call, and again on a retry: marking is
		// idempotent.
		err = d.Store.MarkTest(ctx, d.in.LedgerKey, d.in.Step, d.in.TestNow)
	}
	switch {
	case err != nil:
		return SendResult{}, true, err
	case entry.Status.Final():
		if entry.Reason == ReasonOptedOutAtProvider {
			// The attempt that saw the refusal may have died before
			// recording it; Record is idempotent.
			if err := d.recordProviderOptOut(ctx, ""); err != nil {
				return SendResult{}, true, err
			}
		}
		return SendResult{Status: entry.Status, MessageID: entry.ProviderMessageID, Reason: entry.Reason}, true, nil
	case entry.Status == contract.LedgerAttempting && !fresh:
		return d.resolve(ctx, entry)
	}
	return SendResult{}, false, nil
}

// resolve settles an attempt whose outcome is unknown. done is true when the
// step must not be sent again.
func (d *delivery) resolve(ctx context.Context, e store.LedgerEntry) (SendResult, bool, error) {
	id, found, asked, err := d.find(ctx, e)
	switch {
	case err != nil:
		return SendResult{}, false, err
	case !asked:
		d.logger().Warn("send outcome unknown; not resending", "workflow", e.WorkflowID, "step", e.Step)
		res := SendResult{Status: contract.LedgerUnresolved, Reason: ReasonUnresolved}
		return res, true, d.Store.FinishAttempt(ctx, nil, e.WorkflowID, e.Step, res.Status, "", res.Reason)
	case !found:
		return SendResult{}, false, nil // never accepted: send it now
	}
	d.logger().Info("earlier send attempt found at the provider; not resending", "workflow", e.WorkflowID, "step", e.Step)
	// Another step's lookup may take the message first: then this attempt
	// fails, and its retry looks again.
	res := SendResult{Status: contract.LedgerSent, MessageID: id}
	return res, true, d.Store.AdoptMessage(ctx, nil, e.WorkflowID, e.Step, string(d.in.Provider), id)
}

// find asks the provider whether attempt e's message was accepted, and
// its ID if so; asked is false when the provider cannot be asked.
func (d *delivery) find(ctx context.Context, e store.LedgerEntry) (id string, found, asked bool, err error) {
	finder, ok := d.sender.(sms.Finder)
	if !ok {
		return "", false, false, nil
	}
	// Allow for clock skew between this host and the provider. A message the
	// ledger holds for another step (the same text to the same number, from
	// another journey or run) is not this step's.
	claimed := func(id string) (bool, error) { return d.Store.MessageRecorded(ctx, string(d.in.Provider), id) }
	m, found, err := finder.Find(ctx, d.msg, e.AttemptedAt.Add(-2*time.Minute), claimed)
	return m.MessageID, found, true, err
}

// fence runs call only while the recipient may get the message: in a
// transaction holding the recipient's lock in shared mode, after a consent
// check made under it (store.Store.Fenced), so no opt-out commits in
// between. Every check a send must pass under the lock belongs here.
// Compliance replies are exempt: stopline's own suppression must not block
// them.
func (d *delivery) fence(ctx context.Context, call func(pgx.Tx) error) (contract.Decision, error) {
	if d.exempt {
		return contract.Decision{Allowed: true}, d.Store.Exempt(ctx, call)
	}
	scope := d.Registry.ConsentScope(d.in.Scope)
	return d.Store.Fenced(ctx, d.in.RecipientKey, scope, d.rule(scope, d.in.Category), call)
}

// call hands the message to the provider, unless a concurrent attempt
// finished while this one waited for the row, the sending window has
// closed, the run is paused or stopped, or a frequency cap is full, and
// writes the verdict to the ledger row in tx.
func (d *delivery) call(ctx context.Context, tx pgx.Tx) (attempt, error) {
	wf, step := d.in.LedgerKey, d.in.Step
	status, id, reason, err := d.Store.LockAttempt(ctx, tx, wf, step)
	switch {
	case err != nil:
		return attempt{}, err
	case status.Final():
		return attempt{result: SendResult{Status: status, MessageID: id, Reason: reason}}, nil
	case !d.in.NotAfter.IsZero() && time.Now().After(d.in.NotAfter):
		// Not sent, so "failed": the next attempt calls afresh.
		return attempt{result: SendResult{Status: Deferred, Reason: ReasonWindowClosed}},
			d.Store.FinishAttempt(ctx, tx, wf, step, contract.LedgerFailed, "", ReasonWindowClosed)
	}
	if res, held, err := d.holdForRun(ctx, tx, d.in); held || err != nil {
		return attempt{result: res}, err
	}
	if res, held, err := d.holdForCap(ctx, tx, d.in, d.Registry.ConsentScope(d.in.Scope)); held || err != nil {
		return attempt{result: res}, err
	}
	providerCtx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	res, err := d.sender.Send(providerCtx, d.msg)
	if err == nil {
		return attempt{result: SendResult{Status: contract.LedgerSent, MessageID: res.MessageID}},
			d.Store.FinishAttempt(ctx, tx, wf, step, contract.LedgerSent, res.MessageID, "")
	}
	att := attempt{sendErr: err}
	switch kind := sms.KindOf(err); kind {
	case sms.OptedOut:
		att.result = SendResult{Status: contract.LedgerSkipped, Reason: ReasonOptedOutAtProvider}
	case sms.InvalidNumber:
		att.result = SendResult{Status: contract.LedgerSkipped, Reason: ReasonInvalidNumber}
	default:
		var se *sms.Error
		if !errors.As(err, &se) || se.HTTPStatus == 0 && !se.NotSent || ambiguous(se.HTTPStatus, d.sender) {
			// No answer (timeout, connection reset), or one that may follow
			// the provider taking it: leave the row "attempting".
			return att, nil
		}
		// The provider answered with an error (it did not accept it), or
		// the request never left.
		return att, d.Store.FinishAttempt(ctx, tx, wf, step, contract.LedgerFailed, "", kind.String())
	}
	return att, d.Store.FinishAttempt(ctx, tx, wf, step, att.result.Status, "", att.result.Reason)
}

// record turns the fence's decision and the attempt into the activity's
// answer: a refusal is written to the ledger, a provider's opt-out to
// consent, and a call without a verdict becomes an error to retry (or not).
func (d *delivery) record(ctx context.Context, decision contract.Decision, att attempt) (SendResult, error) {
	if !decision.Allowed {
		res := SendResult{Status: contract.LedgerSkipped, Reason: decision.Reason}
		return res, d.Store.FinishAttempt(ctx, nil, d.in.LedgerKey, d.in.Step, res.Status, "", res.Reason)
	}
	if att.result.Reason == ReasonOptedOutAtProvider && att.sendErr != nil {
		// The provider knows the recipient opted out (e.g. a STOP it
		// handled itself): make stopline's own record agree.
		if err := d.recordProviderOptOut(ctx, att.sendErr.Error()); err != nil {
			return SendResult{}, err
		}
		d.logger().Info("provider reports recipient opted out", "to", phone.Mask(d.in.To), "workflow", d.in.LedgerKey)
	}
	if att.result.Status != "" {
		return att.result, nil
	}
	var se *sms.Error
	if errors.As(att.sendErr, &se) && !se.Retryable() {
		return SendResult{}, temporal.NewNonRetryableApplicationError(se.Error(), contract.ErrProviderPermanent, nil)
	}
	return SendResult{}, att.sendErr
}

// recordProviderOptOut records the opt-out the provider reported (21610,
// 257) as stopline's own; note is the provider's error.
func (d *delivery) recordProviderOptOut(ctx context.Context, note string) error {
	_, err := d.Store.Record(ctx, contract.ConsentChange{
		RecipientKey: d.in.RecipientKey, Scope: d.Registry.ConsentScope(d.in.Scope), To: contract.OptedOut,
		Source: contract.SourceProvider, Provider: string(d.in.Provider), Sender: d.in.From + d.in.MessagingServiceSID, Note: note,
	})
	return err
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
