// Package policy holds stopline's compliance rules for outgoing marketing
// SMS: opt-out instructions in every message (EnsureOptOutInstructions),
// which sender types can carry marketing (CheckSender), segment counting
// (Segments) and quiet hours in the recipient's local time (Zones,
// NextAllowed).
//
// Everything here is pure and deterministic: no clock, no randomness, no
// map iteration reaches an output, so the Journey workflow may call it. The
// one outside input is the time zone database (see NextAllowed).
package policy

// Category is a message category, as in journey definitions.
type Category string

// Message categories.
const (
	CategoryMarketing     Category = "marketing"
	CategoryTransactional Category = "transactional"
	// CategoryOptInRequest is a journey's opt_in step: the double opt-in
	// request itself, which needs no confirmation but respects opt-outs.
	CategoryOptInRequest Category = "opt_in_request"
)

// SenderType is a kind of sending address, as in journey definitions and
// the senders file.
type SenderType string

// Sender types.
const (
	TypeLongCode     SenderType = "long_code"
	TypeTollFree     SenderType = "toll_free"
	TypeShortCode    SenderType = "short_code"
	TypeAlphanumeric SenderType = "alphanumeric"
)
