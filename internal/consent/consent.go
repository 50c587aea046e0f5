// Package consent is stopline's consent vocabulary: a recipient's state in a
// scope, the rule a send needs, the decision a consent check gives, a change
// to record, and the outcome of a send step. internal/store persists it.
package consent

import (
	"errors"
	"time"
)

// AllScopes is the scope of a change that applies to every sender (STOPALL).
const AllScopes = "*"

// State is a recipient's consent in one scope.
type State string

const (
	OptedIn  State = "opted_in"
	OptedOut State = "opted_out"
	// Pending is an opt-in to a double opt-in program that the recipient
	// has not confirmed yet.
	Pending State = "pending"
	// Confirmed is a double opt-in the recipient confirmed (YES within
	// ConfirmWindow), or that staff or an import recorded.
	Confirmed State = "confirmed"
	// Unknown means no change was ever recorded: the recipient was imported
	// by the journey designer and is presumed to have consented.
	Unknown State = ""
)

// ConfirmWindow is how long a pending double opt-in can be confirmed.
const ConfirmWindow = 24 * time.Hour

// Rule is what a send needs from consent; the sender's program and the
// message's category decide it.
type Rule struct {
	// NeedConfirmed: only a confirmed double opt-in allows the send
	// (marketing from a double opt-in program).
	NeedConfirmed bool
	// OptOutAllows: an opt-out does not block the send (transactional
	// messages of a program whose STOP blocks marketing only).
	OptOutAllows bool
}

// Reasons a Decision refuses.
const (
	ReasonOptedOut     = "opted_out"
	ReasonNotConfirmed = "not_confirmed"
)

// Decide sets d.Allowed, or d.Reason, for the state d holds.
func (r Rule) Decide(d *Decision) {
	switch {
	case d.State == OptedOut && !r.OptOutAllows:
		d.Reason = ReasonOptedOut
	case r.NeedConfirmed && d.State != Confirmed:
		d.Reason = ReasonNotConfirmed
	default:
		d.Allowed = true
	}
}

// Source says where a consent change came from.
type Source string

const (
	SourceKeyword  Source = "keyword"  // the recipient texted a keyword
	SourceProvider Source = "provider" // the provider refused a send (21610, 257)
	SourceAdmin    Source = "admin"    // support staff
	SourceImport   Source = "import"   // imported suppression list
	SourceJourney  Source = "journey"  // a journey's opt_in step asked for a double opt-in
)

// Decision is the answer of a consent check.
type Decision struct {
	Allowed bool
	State   State  // state of the deciding row; Unknown when none exists
	Scope   string // scope of the deciding row (the sender's scope or AllScopes)
	Reason  string // why not allowed: ReasonOptedOut, ReasonNotConfirmed
}

// Change is one consent change to record.
type Change struct {
	RecipientKey string
	Scope        string // sender scope or AllScopes
	To           State
	Source       Source
	// RawText is the message text. Deprecated for new events: the text
	// belongs in inbound_messages, where erasure and retention reach it
	// (consent_events is append-only); intake leaves it empty.
	RawText           string
	Provider          string
	ProviderMessageID string
	Sender            string
	Note              string
	// Rule and Keyword explain a keyword change: the rule that matched
	// (keywords.Intent.Explanation) and the canonical keyword.
	Rule    string
	Keyword string
}

// ErrOptedOut is the store's refusal of an imported confirmation for a
// recipient who is opted out in that scope (or everywhere): only the
// recipient's own opt-in, or staff, may lift an opt-out.
var ErrOptedOut = errors.New("the recipient is opted out")

// SendStatus is the state of one (journey workflow, step) in the send ledger.
type SendStatus string

const (
	// Attempting: a provider call may be under way or may have happened; a
	// retry must resolve it before calling the provider again.
	Attempting SendStatus = "attempting"
	// Sent: the provider accepted the message (ProviderMessageID is set).
	Sent SendStatus = "sent"
	// Failed: the provider answered with an error, so it did not accept the
	// message; a retry may call it again.
	Failed SendStatus = "failed"
	// Skipped: the step will not be sent (opted out, invalid number, ...).
	Skipped SendStatus = "skipped"
	// Unresolved ("unknown"): the outcome of a call could not be resolved; stopline does not
	// resend, because a duplicate is worse than a missing marketing SMS.
	Unresolved SendStatus = "unknown"
)

// Final reports whether no further provider call may be made for the step.
func (s SendStatus) Final() bool { return s == Sent || s == Skipped || s == Unresolved }
