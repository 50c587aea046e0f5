package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/consent"
	"github.com/stopline/stopline/internal/metrics"
)

// KeywordSignal is an inbound keyword, delivered by the webhook bridge's
// re-driver after the message and its consent change were committed.
type KeywordSignal struct {
	InboundID       int64     `json:"inbound_id"` // unique: used to drop redeliveries
	Provider        string    `json:"provider"`
	MessageID       string    `json:"message_id"`
	Intent          string    `json:"intent"` // opt_out, opt_in, opt_in_pending, confirm, help, suggest_opt_out
	Keyword         string    `json:"keyword"`
	Language        string    `json:"language"`
	Scope           string    `json:"scope"`  // sender scope, or "*" (STOPALL)
	Phone           string    `json:"phone"`  // recipient, E.164, for the reply
	Sender          string    `json:"sender"` // the number the recipient wrote to
	ProviderHandled bool      `json:"provider_handled"`
	ReceivedAt      time.Time `json:"received_at"`
	// CommittedAt is when the intake committed the message (Postgres's
	// clock); zero in signals from before it was sent.
	CommittedAt time.Time `json:"committed_at,omitzero"`
}

// OptOutState is the OptOut workflow's state, carried across continue-as-new.
type OptOutState struct {
	RecipientKey  string            `json:"recipient_key"`
	LastInboundID int64             `json:"last_inbound_id"`
	Handled       []int64           `json:"handled,omitempty"` // inbound IDs, newest last, at most handledIDs
	Scopes        map[string]string `json:"scopes"`            // scope -> opted_out / opted_in, as signalled
	Recent        []KeywordEvent    `json:"recent"`            // newest last, at most recentEvents
}

// KeywordEvent is one handled keyword, for the consent query.
type KeywordEvent struct {
	At        time.Time `json:"at"`
	Intent    string    `json:"intent"`
	Keyword   string    `json:"keyword"`
	Scope     string    `json:"scope"`
	Cancelled int       `json:"cancelled_journeys,omitempty"`
	Confirmed int       `json:"confirmed_journeys,omitempty"` // journeys told of a double opt-in confirmation
	Reply     string    `json:"reply,omitempty"`              // sent, skipped reason, or "provider replied"
}

const (
	recentEvents = 20
	// handledIDs bounds the IDs kept to drop redeliveries. The re-driver
	// redelivers a signal only when it died between signalling and marking
	// it delivered, and then within seconds, so the last few suffice.
	handledIDs = 64
	// An idle OptOut workflow ends; the next keyword starts a new one. The
	// consent itself lives in Postgres.
	optOutIdle = 7 * 24 * time.Hour
	// continueAfter bounds history well below the per-run signal limit.
	continueAfter = 500
)

// OptOut is the per-recipient workflow (ID OptOutID(key)) that consumes
// keyword signals in arrival order. On an opt-out it cancels the pending
// sends of the recipient's running journeys in that scope, then sends the
// one allowed confirmation unless the provider already replied.
func OptOut(ctx workflow.Context, st OptOutState) error {
	if st.Scopes == nil {
		st.Scopes = map[string]string{}
	}
	if err := workflow.SetQueryHandler(ctx, QueryConsent, func() (OptOutState, error) { return st, nil }); err != nil {
		return err
	}
	ch := workflow.GetSignalChannel(ctx, SignalKeyword)
	handled := 0
	for {
		var sig KeywordSignal
		got := false
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		workflow.NewSelector(ctx).
			AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &sig); got = true }).
			AddFuture(workflow.NewTimer(timerCtx, optOutIdle), func(workflow.Future) {}).
			Select(ctx)
		cancelTimer()
		if !got {
			// Idle: handle anything that raced the timer, then end.
			for ch.ReceiveAsync(&sig) {
				handleKeyword(ctx, &st, sig)
			}
			return nil
		}
		handleKeyword(ctx, &st, sig)
		handled++
		if handled >= continueAfter || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			for ch.ReceiveAsync(&sig) {
				handleKeyword(ctx, &st, sig)
			}
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			return workflow.NewContinueAsNewError(ctx, OptOut, st)
		}
	}
}

func handleKeyword(ctx workflow.Context, st *OptOutState, sig KeywordSignal) {
	if handledBefore(ctx, st, sig.InboundID) {
		return // redelivered by the re-driver
	}
	ev := KeywordEvent{At: sig.ReceivedAt, Intent: sig.Intent, Keyword: sig.Keyword, Scope: sig.Scope}
	var a *activities.Activities
	replyKind := sig.Intent

	switch sig.Intent {
	case "opt_out":
		st.Scopes[sig.Scope] = string(consent.OptedOut)
		in := activities.CancelInput{RecipientKey: st.RecipientKey, Scope: sig.Scope, Sender: sig.Sender, Reason: activities.ReasonOptedOut, CommittedAt: sig.CommittedAt}
		actx := workflow.WithLocalActivityOptions(ctx, cancelOptions)
		if err := workflow.ExecuteLocalActivity(actx, a.CancelJourneys, in, SignalCancel).Get(ctx, &ev.Cancelled); err != nil {
			workflow.GetLogger(ctx).Error("cancel journeys", "error", err)
		}
		if sig.Scope == consent.AllScopes {
			replyKind = "opt_out_all"
		}
	case "opt_in":
		st.Scopes[sig.Scope] = string(consent.OptedIn)
	case "opt_in_pending":
		st.Scopes[sig.Scope] = string(consent.Pending)
	case "confirm":
		st.Scopes[sig.Scope] = string(consent.Confirmed)
		in := activities.CancelInput{RecipientKey: st.RecipientKey, Scope: sig.Scope, Sender: sig.Sender}
		actx := workflow.WithLocalActivityOptions(ctx, cancelOptions)
		if err := workflow.ExecuteLocalActivity(actx, a.ConfirmJourneys, in, SignalConfirmed).Get(ctx, &ev.Confirmed); err != nil {
			workflow.GetLogger(ctx).Error("confirm journeys", "error", err)
		}
	}

	switch {
	case providerReplied(sig):
		// The provider (Twilio Advanced Opt-Out) or the network (toll-free)
		// already replied; a second reply is the classic double reply.
		ev.Reply = "provider replied"
	default:
		reply := activities.ReplyInput{
			Key: sig.Provider + "/" + sig.MessageID, Kind: replyKind, Language: sig.Language,
			Provider: sig.Provider, To: sig.Phone, Sender: sig.Sender, RecipientKey: st.RecipientKey, ReceivedAt: sig.ReceivedAt,
		}
		var res activities.SendResult
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, replyOptions), a.SendReply, reply).Get(ctx, &res)
		switch {
		case err != nil:
			ev.Reply = "failed"
		case res.Status == consent.Sent:
			ev.Reply = "sent"
		default:
			ev.Reply = "skipped: " + res.Reason
		}
	}
	metrics.CountReply(ctx, replyKind, ev.Reply)
	st.Recent = append(st.Recent, ev)
	if len(st.Recent) > recentEvents {
		st.Recent = st.Recent[len(st.Recent)-recentEvents:]
	}
}

// handledBefore reports whether the message was handled already, and
// notes it as handled. IDs do not arrive in order: a STOP waiting for the
// recipient's lock (a send to them is in flight) commits after a HELP that
// came later, so the re-driver delivers the HELP's higher ID first. The
// first version dropped every ID at or below the highest seen, and with it
// such a STOP. Where the two rules disagree, a version marker per ID keeps
// histories recorded before the change replaying as they ran, while a run
// that started before it follows the new rule from then on.
func handledBefore(ctx workflow.Context, st *OptOutState, id int64) bool {
	if slices.Contains(st.Handled, id) {
		return true
	}
	if id <= st.LastInboundID &&
		workflow.GetVersion(ctx, fmt.Sprintf("handled-inbound-id-%d", id), workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return true
	}
	st.Handled = append(st.Handled, id)
	if len(st.Handled) > handledIDs {
		st.Handled = st.Handled[len(st.Handled)-handledIDs:]
	}
	st.LastInboundID = max(st.LastInboundID, id)
	return false
}

// providerReplied reports whether the provider or network answered the
// keyword itself. They answer their own keywords (STOP, START, YES, HELP),
// also when stopline reads them as a double opt-in step, but not a confirm
// word that is no keyword of theirs ("Y").
func providerReplied(sig KeywordSignal) bool {
	switch sig.Intent {
	case "opt_out", "opt_in", "opt_in_pending", "help":
		return sig.ProviderHandled
	case "confirm":
		return sig.ProviderHandled && sig.Keyword != ""
	}
	return false
}

// cancelOptions: a local activity, so the cancellation starts in the
// workflow task that received the STOP (no activity task round trip), and
// the reply is scheduled in that same task.
var cancelOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	// Keep trying: a journey left running after an opt-out would still be
	// stopped by its send-time consent check, but not as fast.
	ScheduleToCloseTimeout: time.Hour,
}

// replyOptions: a confirmation goes out within 5 minutes or not at all.
var replyOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    30 * time.Second,
	ScheduleToCloseTimeout: 5 * time.Minute,
	HeartbeatTimeout:       10 * time.Second,
}
