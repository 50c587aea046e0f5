package metrics

import (
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/stopline/stopline/workflows/contract"
)

// Workflow code counts through workflow.GetMetricsHandler, which records
// nothing while a workflow replays its history: a fact is counted when the
// workflow first learns it, and never again. These functions issue no
// commands, so adding or moving them changes no history.

type journeyKey struct{}

type journeyLabels struct{ provider, category string }

// ForJourney returns ctx carrying the journey's provider and category, the
// labels CountSMS adds to an outcome.
func ForJourney(ctx workflow.Context, provider contract.Provider, category string) workflow.Context {
	return workflow.WithValue(ctx, journeyKey{}, journeyLabels{string(provider), category})
}

// CountSMS counts one outcome of an SMS step of the journey in ctx (see
// ForJourney).
func CountSMS(ctx workflow.Context, outcome string) {
	l, _ := ctx.Value(journeyKey{}).(journeyLabels)
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{
		"provider": l.provider, "category": l.category, "outcome": outcome,
	}).Counter(NameSMS).Inc(1)
}

// SendOutcome names the outcome of a send or consent check from its
// status (sent, skipped, unknown) and reason.
func SendOutcome(status, reason string) string {
	switch status {
	case "sent":
		return SMSSent
	case "unknown":
		return SMSUnknown
	}
	switch reason {
	case "", "opted_out", "opted_out_at_provider":
		return SMSSkippedOptedOut
	case "not_confirmed":
		return SMSSkippedNotConfirmed
	case "invalid_number":
		return SMSSkippedInvalidNumber
	case "earlier_attempt_unresolved":
		return SMSUnknown
	case "run_stopped":
		return SMSRunStopped
	}
	return Other
}

// CountReply counts the reply to an inbound keyword of intent, from what
// the Recipient workflow recorded of it: "sent", "failed", "provider
// replied" or "skipped: <reason>".
func CountReply(ctx workflow.Context, intent, reply string) {
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{
		"kind": replyKind(intent), "outcome": replyOutcome(reply),
	}).Counter(NameReplies).Inc(1)
}

func replyKind(intent string) string {
	switch intent {
	case "opt_out", "opt_out_all":
		return "confirmation"
	case "help":
		return "help"
	case "opt_in", "opt_in_pending", "confirm":
		return "opt_in"
	case "suggest_opt_out":
		return "clarification"
	}
	return Other
}

func replyOutcome(reply string) string {
	switch reply {
	case "sent", "failed":
		return reply
	case "provider replied":
		return "provider_replied"
	}
	switch strings.TrimPrefix(reply, "skipped: ") {
	case "opted_out":
		return "skipped_opted_out"
	case "confirmation_window_passed":
		return "skipped_window_passed"
	case "reply_disabled":
		return "skipped_disabled"
	case "recipient_erased":
		return "skipped_erased"
	case "earlier_attempt_unresolved":
		return "unknown"
	}
	return Other
}
