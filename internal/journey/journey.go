// Package journey defines a journey: the JSON file a journey designer writes,
// listing the sender and the SMS and wait steps each recipient goes through.
//
// A Definition is also the input of the Journey workflow, so it holds only
// plain, JSON-friendly fields: it must survive a JSON round trip unchanged,
// and everything it offers (Validate, Attributes, Render) is deterministic
// and safe to call from workflow code.
package journey

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stopline/stopline/workflows/contract"
)

// Definition is a parsed journey file.
type Definition struct {
	// Name identifies the journey; it goes into workflow IDs.
	Name string `json:"name"`
	// Category is contract.CategoryMarketing or contract.CategoryTransactional.
	Category contract.Category `json:"category"`
	Sender   Sender            `json:"sender"`
	Steps    []Step            `json:"steps"`
}

// Sender says who sends the journey's messages.
type Sender struct {
	Provider contract.Provider `json:"provider"`
	// From is the sending number, short code or alphanumeric ID. Exactly one
	// of From and MessagingServiceSID is set.
	From string `json:"from,omitempty"`
	// MessagingServiceSID is a Twilio Messaging Service ("MG…") that picks
	// the number itself.
	MessagingServiceSID string `json:"messaging_service_sid,omitempty"`
	// Type is one of the policy.Type* constants; it decides how From is checked and
	// whether recipients can answer with keywords.
	Type contract.SenderType `json:"type"`
	// Language of the opt-out footer added to marketing messages (en, fr,
	// es, pt, de); default en. Footer replaces the default footer text.
	Language string `json:"language,omitempty"`
	Footer   string `json:"footer,omitempty"`
	// AltInstruction is how recipients of a sender that cannot take
	// keyword replies opt out ("Call 0800 123 456 to opt out"); required
	// for marketing from alphanumeric senders and from short codes without
	// ShortCodeKeywords.
	AltInstruction    string `json:"alt_instruction,omitempty"`
	ShortCodeKeywords bool   `json:"short_code_keywords,omitempty"`
	// QuietHours narrows the recipient's legal sending window for
	// marketing steps (or, with LegalOverride, replaces it).
	QuietHours *QuietHours `json:"quiet_hours,omitempty"`
}

// QuietHours is a daily sending window, local to the recipient, "HH:MM".
// Without LegalOverride it only narrows the legal window (the region's and
// the recipient's state's): sending needs both. "00:00"-"24:00" with a
// LegalOverride allows any time.
type QuietHours struct {
	Start string `json:"start"`
	End   string `json:"end"`
	// AllowRestDays lifts the legal window's ban on Sundays and public
	// holidays (France, Alabama, Louisiana). It widens the window, so it
	// needs LegalOverride.
	AllowRestDays bool `json:"allow_rest_days,omitempty"`
	// LegalOverride says why this sender may send outside the legal
	// window ("recipients are our employees", "test numbers"). With it,
	// Start, End and AllowRestDays replace the legal window instead of
	// narrowing it. It travels in the journey, which is the workflow's
	// input, so every journey's history records it.
	LegalOverride string `json:"legal_override,omitempty"`
}

// Scope returns the consent scope of the sender: an opt-out received by this
// sender suppresses messages from it. It is From or, for a Twilio Messaging
// Service, its SID, which is also what an inbound message names. Validate
// requires From to be in canonical E.164 form for phone numbers, so that the
// scope written by a journey and the one derived from an inbound STOP match.
func (s Sender) Scope() string {
	if s.From != "" {
		return s.From
	}
	return s.MessagingServiceSID
}

// Step is one step of a journey: exactly one of SMS, Wait and OptIn is set.
type Step struct {
	// SMS is the message body, a text/template over the recipient's
	// attributes, such as "Hi {{.first_name}}".
	SMS string `json:"sms,omitempty"`
	// Wait is a pause before the next step: a Go duration ("90s", "1h30m")
	// or whole days ("7d").
	Wait string `json:"wait,omitempty"`
	// OptIn is a double opt-in request, a body template like SMS ("Reply
	// YES for Acme deals"): the recipient becomes pending, and the journey
	// waits up to 24 hours for their YES before its next step. Only for
	// marketing journeys whose sender has double opt-in in the senders file.
	OptIn string `json:"opt_in,omitempty"`
}

// IsWait reports whether the step is a wait rather than a message.
func (s Step) IsWait() bool { return s.Wait != "" }

// IsOptIn reports whether the step is a double opt-in request.
func (s Step) IsOptIn() bool { return s.OptIn != "" }

// Body is the template of a message step: SMS or OptIn.
func (s Step) Body() string {
	if s.IsOptIn() {
		return s.OptIn
	}
	return s.SMS
}

// field names the step's body field in errors.
func (s Step) field() string {
	if s.IsOptIn() {
		return "opt_in"
	}
	return "sms"
}

// WaitDuration returns the length of a wait step. It is meaningful only for
// a Definition that passed Validate; otherwise it returns 0.
func (s Step) WaitDuration() time.Duration {
	d, _ := parseWait(s.Wait)
	return d
}

// Parse reads a journey definition from JSON and validates it. The JSON is
// read strictly: unknown or duplicate fields, fields in the wrong case, wrong
// types and trailing data are errors that name where they are.
func Parse(data []byte) (*Definition, error) {
	var d Definition
	if err := decodeStrict(data, &d); err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	// Checked here, for new files, and not in Validate, which the workflow
	// also runs: journeys started before legal_override existed must still
	// replay. Without the override such a journey keeps the legal rest days.
	if q := d.Sender.QuietHours; q != nil && q.AllowRestDays && strings.TrimSpace(q.LegalOverride) == "" {
		return nil, errors.New(`sender.quiet_hours.allow_rest_days: widens the legal window; set "legal_override" to say why`)
	}
	return &d, nil
}

// Load reads and parses the journey file at path. Every error line starts
// with the path, like a compiler's.
func Load(path string) (*Definition, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // already names the path
	}
	d, err := Parse(data)
	if err != nil {
		return nil, prefixErrors(path, err)
	}
	return d, nil
}

// prefixErrors prefixes err, or each error joined in it, with prefix, so a
// multi-problem report reads one "file: field: reason" per line.
func prefixErrors(prefix string, err error) error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	errs := joined.Unwrap()
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = fmt.Errorf("%s: %w", prefix, e)
	}
	return errors.Join(out...)
}
