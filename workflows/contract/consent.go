package contract

import "time"

// Consent: a recipient's state in a scope, the rule a send needs, the
// decision a consent check gives, a change to record, and the state of a
// send step in the ledger. internal/store persists them.

// AllScopes is the scope of a change that applies to every sender (STOPALL).
const AllScopes = "*"

// ConsentState is a recipient's consent in one scope.
type ConsentState string

const (
	OptedIn  ConsentState = "opted_in"
	OptedOut ConsentState = "opted_out"
	// OptInPending is an opt-in to a double opt-in program that the recipient
	// has not confirmed yet.
	OptInPending ConsentState = "pending"
	// OptInConfirmed is a double opt-in the recipient confirmed (YES within
	// ConfirmWindow), or that staff or an import recorded.
	OptInConfirmed ConsentState = "confirmed"
	// ConsentUnknown means no change was ever recorded: the recipient was imported
	// by the journey designer and is presumed to have consented.
	ConsentUnknown ConsentState = ""
)

// ConfirmWindow is how long a pending double opt-in can be confirmed.
const ConfirmWindow = 24 * time.Hour

// ConsentRule is what a send needs from consent; the sender's program and the
// message's category decide it.
type ConsentRule struct {
	// NeedConfirmed: only a confirmed double opt-in allows the send
	// (marketing from a double opt-in program).
	NeedConfirmed bool
	// OptOutAllows: an opt-out does not block the send (transactional
	// messages of a program whose STOP blocks marketing only).
	OptOutAllows bool
}

// ReasonNotConfirmed is why a Decision refuses a send that needs a
// confirmed double opt-in; ReasonOptedOut, why it refuses after an opt-out.
const ReasonNotConfirmed = "not_confirmed"

// Decide sets d.Allowed, or d.Reason, for the state d holds.
func (r ConsentRule) Decide(d *Decision) {
	switch {
	case d.State == OptedOut && !r.OptOutAllows:
		d.Reason = ReasonOptedOut
	case r.NeedConfirmed && d.State != OptInConfirmed:
		d.Reason = ReasonNotConfirmed
	default:
		d.Allowed = true
	}
}

// ConsentSource says where a consent change came from.
type ConsentSource string

const (
	SourceKeyword  ConsentSource = "keyword"  // the recipient texted a keyword
	SourceProvider ConsentSource = "provider" // the provider refused a send (21610, 257)
	SourceAdmin    ConsentSource = "admin"    // support staff
	SourceImport   ConsentSource = "import"   // imported suppression list
	SourceJourney  ConsentSource = "journey"  // a journey's opt_in step asked for a double opt-in
)

// Decision is the answer of a consent check.
type Decision struct {
	Allowed bool
	State   ConsentState // state of the deciding row; ConsentUnknown when none exists
	Scope   string       // scope of the deciding row (the sender's scope or AllScopes)
	Reason  string       // why not allowed: ReasonOptedOut, ReasonNotConfirmed
}

// ConsentChange is one consent change to record.
type ConsentChange struct {
	RecipientKey string
	Scope        string // sender scope or AllScopes
	To           ConsentState
	Source       ConsentSource
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

// SendStatus is the state of one (journey workflow, step) in the send ledger.
type SendStatus string

const (
	// LedgerAttempting: a provider call may be under way or may have happened; a
	// retry must resolve it before calling the provider again.
	LedgerAttempting SendStatus = "attempting"
	// LedgerSent: the provider accepted the message (ProviderMessageID is set).
	LedgerSent SendStatus = "sent"
	// LedgerFailed: the provider answered with an error, so it did not accept the
	// message; a retry may call it again.
	LedgerFailed SendStatus = "failed"
	// LedgerSkipped: the step will not be sent (opted out, invalid number, ...).
	LedgerSkipped SendStatus = "skipped"
	// LedgerUnresolved ("unknown"): the outcome of a call could not be resolved; stopline does not
	// resend, because a duplicate is worse than a missing marketing SMS.
	LedgerUnresolved SendStatus = "unknown"
)

// Final reports whether no further provider call may be made for the step.
func (s SendStatus) Final() bool {
	return s == LedgerSent || s == LedgerSkipped || s == LedgerUnresolved
}
