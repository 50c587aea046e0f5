package workflows

import (
	"context"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/metrics"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/workflows/contract"
)

const (
	recentEvents = 20
	// handledIDs bounds the IDs kept to drop redeliveries. The re-driver
	// redelivers a signal only when it died between signalling and marking
	// it delivered, and then within seconds, so the last few suffice.
	handledIDs = 64
	// An idle Recipient workflow ends; the next keyword starts a new one. The
	// consent itself lives in Postgres.
	optOutIdle = 7 * 24 * time.Hour
	// continueAfter bounds history well below the per-run signal limit.
	continueAfter = 500
)

// RecipientWorkflow is the name Recipient is registered under, which
// running workflows and recorded histories hold: it was first written for
// STOP alone.
const RecipientWorkflow = "OptOut"

// Recipient is the per-recipient workflow (ID RecipientID(key), registered
// as RecipientWorkflow) that consumes consent changes in arrival order:
// keywords (STOP, START, HELP, YES) and changes staff made. On an opt-out it
// cancels the pending sends of the recipient's running journeys in that
// scope, then, for a keyword, sends the one allowed reply unless the
// provider already replied.
func Recipient(ctx workflow.Context, st contract.RecipientState) error {
	if st.Scopes == nil {
		st.Scopes = map[string]string{}
	}
	if err := workflow.SetQueryHandler(ctx, contract.QueryConsent, func() (contract.RecipientState, error) { return st, nil }); err != nil {
		return err
	}
	ch := workflow.GetSignalChannel(ctx, contract.SignalKeyword)
	handled := 0
	for {
		var sig contract.Inbound
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
			return workflow.NewContinueAsNewError(ctx, RecipientWorkflow, st)
		}
	}
}

// handleKeyword applies one consent change, a keyword or (Source set) a
// change staff made, and notes it for the consent query.
func handleKeyword(ctx workflow.Context, st *contract.RecipientState, sig contract.Inbound) {
	staff := sig.Source != "" // no inbound message: nothing to redeliver or answer
	if !staff && handledBefore(ctx, st, sig.ID) {
		return // redelivered by the re-driver
	}
	ev := contract.KeywordEvent{At: sig.ReceivedAt, Intent: sig.Intent, Keyword: sig.Keyword, Scope: sig.Scope, Source: sig.Source}
	tellJourneys(ctx, st, sig, &ev)
	if !staff {
		ev.Reply = reply(ctx, st, sig)
		metrics.CountReply(ctx, string(sig.Intent), ev.Reply)
	}
	st.Recent = append(st.Recent, ev)
	if len(st.Recent) > recentEvents {
		st.Recent = st.Recent[len(st.Recent)-recentEvents:]
	}
}

// tellJourneys records the new state and cancels the recipient's running
// journeys in scope after an opt-out, or frees those waiting for a double
// opt-in after a confirmation.
func tellJourneys(ctx workflow.Context, st *contract.RecipientState, sig contract.Inbound, ev *contract.KeywordEvent) {
	actx := workflow.WithLocalActivityOptions(ctx, cancelOptions)
	in := activities.JourneysInput{RecipientKey: st.RecipientKey, Scope: sig.Scope, Sender: sig.To, CommittedAt: sig.CommittedAt}
	switch sig.Intent {
	case contract.IntentOptOut:
		st.Scopes[sig.Scope] = string(contract.OptedOut)
		in.Reason = contract.ReasonOptedOut
		if err := workflow.ExecuteLocalActivity(actx, acts.CancelJourneys, in).Get(ctx, &ev.Cancelled); err != nil {
			workflow.GetLogger(ctx).Error("cancel journeys", "error", err)
		}
	case contract.IntentOptIn:
		st.Scopes[sig.Scope] = string(contract.OptedIn)
	case contract.IntentOptInPending:
		st.Scopes[sig.Scope] = string(contract.OptInPending)
	case contract.IntentConfirm:
		st.Scopes[sig.Scope] = string(contract.OptInConfirmed)
		if err := workflow.ExecuteLocalActivity(actx, acts.ConfirmJourneys, in).Get(ctx, &ev.Confirmed); err != nil {
			workflow.GetLogger(ctx).Error("confirm journeys", "error", err)
		}
	}
}

// erasedSenderVersion marks histories where a keyword from a forgotten
// sender schedules no reply.
const erasedSenderVersion = "reply-erased-sender"

// reply sends the compliance reply to a keyword, unless the provider (Twilio
// Advanced Opt-Out) or the network (toll-free) already replied: a second
// reply is the classic double reply. It returns what happened, for the
// consent query.
func reply(ctx workflow.Context, st *contract.RecipientState, sig contract.Inbound) string {
	if providerReplied(sig) {
		return "provider replied"
	}
	if sig.From == "" && workflow.GetVersion(ctx, erasedSenderVersion, workflow.DefaultVersion, 1) == 1 {
		// Forgotten between the keyword and its signal (the re-driver
		// signals no number): nothing to reply to. Before this version
		// SendReply was scheduled and refused the empty number.
		return "skipped: " + activities.ReasonRecipientErased
	}
	kind := senders.ReplyKind(sig.Intent) // the intents name their replies, but for:
	if sig.Intent == contract.IntentOptOut && sig.Scope == contract.AllScopes {
		kind = senders.ReplyOptOutAll
	}
	in := activities.ReplyInput{
		Key: sig.Provider + "/" + sig.MessageID, Kind: kind, Language: sig.Language,
		Provider: sig.Provider, To: sig.From, Sender: sig.To, RecipientKey: st.RecipientKey, ReceivedAt: sig.ReceivedAt,
	}
	var res activities.SendResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, replyActivityOptions(ctx, sig.Provider)), acts.SendReply, in).Get(ctx, &res)
	switch {
	case err != nil:
		return "failed"
	case res.Status == contract.LedgerSent:
		return "sent"
	}
	return "skipped: " + res.Reason
}

// handledBefore reports whether the message was handled already, and
// notes it as handled. IDs do not arrive in order: a STOP waiting for the
// recipient's lock (a send to them is in flight) commits after a HELP that
// came later, so the re-driver delivers the HELP's higher ID first; only an
// ID seen before is a redelivery. Histories recorded while an ID at or
// below the highest seen counted as handled carry no version marker for
// it, and replay that rule.
func handledBefore(ctx workflow.Context, st *contract.RecipientState, id int64) bool {
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
func providerReplied(sig contract.Inbound) bool {
	switch sig.Intent {
	case contract.IntentOptOut, contract.IntentOptIn, contract.IntentOptInPending, contract.IntentHelp:
		return sig.ProviderHandled
	case contract.IntentConfirm:
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

// SignalRecipient delivers m to the Recipient workflow of m.RecipientKey,
// starting it if none runs. Every consent change reaches running journeys
// this way: keywords through the webhook bridge's re-driver, staff changes
// through TellRecipient.
func SignalRecipient(ctx context.Context, c client.Client, taskQueue string, m contract.Inbound) error {
	_, err := c.SignalWithStartWorkflow(ctx, RecipientID(m.RecipientKey), contract.SignalKeyword, m,
		client.StartWorkflowOptions{
			TaskQueue:                taskQueue,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		},
		RecipientWorkflow, contract.RecipientState{RecipientKey: m.RecipientKey})
	return err
}

// TellRecipient hands a consent change staff committed (admin API, starter
// consent) to the recipient's Recipient workflow, which cancels or frees their
// running journeys as it does for a keyword, sends no reply, and lists the
// change in its consent query. It is best effort: without it, journeys still
// send nothing after an opt-out, because every send re-checks consent under
// the recipient's lock.
func TellRecipient(ctx context.Context, c client.Client, taskQueue string, change contract.ConsentChange) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return SignalRecipient(ctx, c, taskQueue, contract.Inbound{
		RecipientKey: change.RecipientKey, Intent: staffIntents[change.To], Scope: change.Scope,
		Source: string(change.Source), ReceivedAt: time.Now().UTC(),
	})
}

// staffIntents maps the states staff can set to what they mean to journeys.
var staffIntents = map[contract.ConsentState]contract.Intent{
	contract.OptedOut:       contract.IntentOptOut,
	contract.OptedIn:        contract.IntentOptIn,
	contract.OptInConfirmed: contract.IntentConfirm,
	contract.OptInPending:   contract.IntentOptInPending,
}
