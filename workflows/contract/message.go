package contract

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
	SenderLongCode     SenderType = "long_code"
	SenderTollFree     SenderType = "toll_free"
	SenderShortCode    SenderType = "short_code"
	SenderAlphanumeric SenderType = "alphanumeric"
)
