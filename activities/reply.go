package activities

import (
	"context"
	"time"

	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/workflows/contract"
)

// ReplyInput asks for the reply to one inbound keyword.
type ReplyInput struct {
	Key          string            // provider/message ID of the inbound message: one reply per inbound message
	Kind         senders.ReplyKind // after the inbound intent; confirm asks for confirmed
	Language     string            // language of the keyword, "" if unknown
	Provider     string            // replies leave through the provider the message came in on
	To           string            // the recipient, E.164
	Sender       string            // the number the recipient wrote to
	RecipientKey string
	ReceivedAt   time.Time
}

// ConfirmationWindow: a confirmation later than this is not sent at all.
const ConfirmationWindow = 5 * time.Minute

// Reasons a reply was not sent.
const (
	ReasonReplyDisabled = "reply_disabled"
	ReasonWindowPassed  = "confirmation_window_passed"
	// ReasonRecipientErased: the sender was forgotten before the keyword's
	// signal went out, or the sender's data key could not be unwrapped, so
	// there is no number to reply to (the Recipient workflow decides it; no
	// SendReply runs).
	ReasonRecipientErased = "recipient_erased"
)

// SendReply sends the compliance reply to an inbound keyword, at most once
// per inbound message. The replies to STOP and HELP are exempt from
// stopline's suppression: the confirmation of an opt-out goes to a recipient
// who just opted out. The replies to an opt-in (START, YES) are not: when a
// STOP came after the START, "you are subscribed" must not follow it. Nor
// is the clarification asking an unclear reply to text STOP: after a STOP,
// the recipient gets its one confirmation and nothing else.
func (a *Activities) SendReply(ctx context.Context, in ReplyInput) (SendResult, error) {
	if !in.ReceivedAt.IsZero() && time.Since(in.ReceivedAt) > ConfirmationWindow {
		return SendResult{Status: contract.LedgerSkipped, Reason: ReasonWindowPassed}, nil
	}
	sender := a.Registry.Lookup(in.Sender, "")
	body, ok, err := sender.Reply(replyKind(in.Kind, sender), in.Language)
	if err != nil {
		return SendResult{}, err
	}
	if !ok {
		return SendResult{Status: contract.LedgerSkipped, Reason: ReasonReplyDisabled}, nil
	}
	msg := SendInput{
		LedgerKey: "reply/" + in.Key, Step: 0, RecipientKey: in.RecipientKey, Scope: sender.Scope(),
		Provider: contract.Provider(in.Provider), To: in.To, Body: body,
	}
	if sender.MessagingServiceSID != "" {
		msg.MessagingServiceSID = sender.MessagingServiceSID
	} else {
		msg.From = in.Sender
	}
	switch in.Kind {
	case senders.ReplyOptIn, senders.ReplyOptInPending, confirmIntent, senders.ReplySuggestOptOut:
		msg.Category = contract.CategoryOptInRequest // blocked by an opt-out only
		return a.deliver(ctx, msg, false)
	}
	return a.deliver(ctx, msg, true)
}

// confirmIntent is the Kind the Recipient workflow asks for after a YES (the
// intent's name); its template is ReplyConfirmed.
const confirmIntent senders.ReplyKind = senders.ReplyKind(contract.IntentConfirm)

// replyKind picks the reply template for a requested kind.
func replyKind(kind senders.ReplyKind, s senders.Sender) senders.ReplyKind {
	switch {
	case kind == senders.ReplyOptOut && s.MarketingOnlyStop():
		return senders.ReplyOptOutMarketing
	case kind == confirmIntent:
		return senders.ReplyConfirmed
	}
	return kind
}
