// Package contract is stopline's shared vocabulary, and what its workflows
// agree on with everyone who talks to them: each signal and query name
// beside its payload, the reasons a journey stops, the intents of inbound
// keywords, the error types retry policies name (contract.go); consent
// states, rules, decisions and changes, and the ledger's send states
// (consent.go); provider names (provider.go); message categories and sender
// types (message.go). It imports nothing of stopline, so the workflows, the
// activities, the webhook bridge and the store all speak it.
//
// Names, string values and JSON field names are part of the replay
// contract: histories of running workflows and Postgres rows hold them.
package contract

import "time"

// SignalCancel stops a journey's pending and future sends.
const SignalCancel = "cancel"

// CancelRequest is the payload of SignalCancel.
type CancelRequest struct {
	Reason string // "" reads as ReasonOptedOut
}

// SignalRun tells a journey that its run was paused or resumed. A stopped
// run's journeys get SignalCancel with ReasonRunStopped instead, which
// journeys of every version understand.
const SignalRun = "run"

// RunSignal is the payload of SignalRun: the run's state as committed, and
// its sequence number there. Signals can arrive out of order (two fan-outs,
// or a send's answer racing one): a journey keeps the highest Seq.
type RunSignal struct {
	State RunState `json:"state"`
	Seq   int64    `json:"seq"`
}

// RunState is the state of a journey run, set by starter pause, resume and
// stop (or the admin API) and kept in Postgres.
type RunState string

// Run states. Stopped is final.
const (
	RunRunning RunState = "running"
	RunPaused  RunState = "paused"
	RunStopped RunState = "stopped"
)

// SignalConfirmed tells a journey waiting at its opt_in step that the
// recipient confirmed the double opt-in. It has no payload.
const SignalConfirmed = "confirmed"

// SignalKeyword delivers a consent change to a recipient's Recipient
// workflow: an inbound keyword, from the webhook bridge's re-driver after the
// message and its consent change were committed, or a change staff made.
const SignalKeyword = "keyword"

// Inbound is one inbound message along its whole path, and the payload of
// SignalKeyword: the webhook handler parses it, the intake classifies it and
// commits it (a row of inbound_messages), and the re-driver signals that
// row. A change staff made travels as an Inbound too, with Source set and no
// ID. Only the fields with a JSON name travel in the signal; the body, the
// recipient key and the provider's parse details stay in Postgres.
type Inbound struct {
	ID        int64  `json:"inbound_id"` // unique: used to drop redeliveries; 0 until committed, and for a staff change
	Provider  string `json:"provider"`   // a Provider
	MessageID string `json:"message_id"` // provider's message ID (Twilio MessageSid, Sinch id, generic id); required
	// From is the recipient as the provider gave it (not validated by the
	// webhook); E.164 once the intake read a keyword: the reply goes there.
	From string `json:"phone"`
	To   string `json:"sender"` // the number the recipient wrote to
	Body string `json:"-"`
	// NumMedia counts media attachments (Twilio NumMedia; Sinch
	// mo_media/mo_binary -> 1).
	NumMedia int `json:"-"`

	// Read from the callback by the webhook, for the intake only.
	Type                string `json:"-"` // Sinch type ("mo_text", "mo_binary", "mo_media"); "" otherwise
	OptOutType          string `json:"-"` // Twilio Advanced Opt-Out: "STOP" | "START" | "HELP" | ""
	MessagingServiceSID string `json:"-"` // Twilio's MessagingServiceSid, if any

	// Set by the intake.
	RecipientKey    string `json:"-"`     // "" when From is not a phone number
	Scope           string `json:"scope"` // consent scope the intent applies to, or "*" (STOPALL)
	Intent          Intent `json:"intent"`
	Keyword         string `json:"keyword"`
	Language        string `json:"language"`
	Rule            string `json:"-"`                // why: keywords.Intent.Explanation ("courtesy", "exact+signature_stripped")
	ProviderHandled bool   `json:"provider_handled"` // the provider already replied (Twilio Advanced Opt-Out, toll-free)
	// ReceivedAt is the provider's timestamp if given (Sinch received_at,
	// generic received_at), else when the webhook read it.
	ReceivedAt time.Time `json:"received_at"`
	// Source is "admin" for a change staff made (no inbound message, no
	// reply); "" for a keyword.
	Source string `json:"source,omitempty"`
	// CommittedAt is when the intake committed the message (Postgres's
	// clock), as the re-driver reads it back; zero in signals from before
	// it was sent and in staff changes.
	CommittedAt time.Time `json:"committed_at,omitzero"`
	// BodyPurged: read back by the store, the body was older than
	// INBOUND_RETENTION and is gone. Never signalled.
	BodyPurged bool `json:"-"`
	// Erased: read back by the store, the sender was forgotten (their data
	// key is destroyed); From and Body read "erased", a word a message may
	// also hold, so this tells them apart. Never signalled: the re-driver
	// signals an erased sender as From "".
	Erased bool `json:"-"`
}

// Intent is what an inbound message asks for, as stored with it and
// signalled to the recipient's workflow.
type Intent string

// Intents. The first five are the keyword classes (keywords.Kind).
const (
	IntentNone          Intent = "none" // asks for nothing: no signal
	IntentOptOut        Intent = "opt_out"
	IntentOptIn         Intent = "opt_in"
	IntentHelp          Intent = "help"
	IntentSuggestOptOut Intent = "suggest_opt_out" // unclear reply: ask to text STOP
	IntentOptInPending  Intent = "opt_in_pending"  // opt-in to a double opt-in program: awaiting YES
	IntentConfirm       Intent = "confirm"         // the YES that confirmed a pending double opt-in
)

// QueryStatus answers a journey's JourneyStatus.
const QueryStatus = "status"

// JourneyStatus is the answer to QueryStatus.
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
	// Deferrals counts how often the journey was held back (quiet hours,
	// frequency caps).
	Deferrals int `json:"deferrals,omitempty"`
	// ConfirmBy is, at an opt_in step, when the wait for the recipient's
	// YES ends.
	ConfirmBy time.Time `json:"confirm_by,omitzero"`
}

// QueryConsent answers an Recipient workflow's RecipientState.
const QueryConsent = "consent"

// RecipientState is the answer to QueryConsent, and the Recipient workflow's
// state carried across continue-as-new.
type RecipientState struct {
	RecipientKey  string            `json:"recipient_key"`
	LastInboundID int64             `json:"last_inbound_id"`
	Handled       []int64           `json:"handled,omitempty"` // inbound IDs, newest last
	Scopes        map[string]string `json:"scopes"`            // scope -> opted_out / opted_in, as signalled
	Recent        []KeywordEvent    `json:"recent"`            // newest last
}

// KeywordEvent is one handled keyword or staff change, for QueryConsent.
type KeywordEvent struct {
	At        time.Time `json:"at"`
	Intent    Intent    `json:"intent"`
	Keyword   string    `json:"keyword"`
	Scope     string    `json:"scope"`
	Cancelled int       `json:"cancelled_journeys,omitempty"`
	Confirmed int       `json:"confirmed_journeys,omitempty"` // journeys told of a double opt-in confirmation
	Reply     string    `json:"reply,omitempty"`              // sent, skipped reason, or "provider replied"
	Source    string    `json:"source,omitempty"`             // "admin" for a staff change
}

// ReasonOptedOut is why a journey stopped or skipped a step after an
// opt-out (JourneyStatus.Reason, CancelRequest.Reason), and why a
// Decision refuses a send after one (Decision.Reason).
const ReasonOptedOut = "opted_out"

// ReasonRunStopped is why a journey of a stopped run stopped, or why a
// send of it was refused (JourneyStatus.Reason, CancelRequest.Reason).
const ReasonRunStopped = "run_stopped"

// Application error types that workflows and retry policies refer to.
const (
	ErrBadInput          = "BadInput"          // not retryable: the input can never succeed
	ErrProviderPermanent = "ProviderPermanent" // not retryable: the provider refuses for good
	ErrNoSender          = "NoSender"          // not retryable: provider not configured
)
