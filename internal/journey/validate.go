package journey

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/policy"
	"github.com/stopline/stopline/workflows/contract"
)

// MaxWait is the longest wait step. Anything longer is almost surely a typo,
// and would keep a workflow open for more than a year.
const MaxWait = 365 * 24 * time.Hour

var (
	// Names go into workflow IDs, so keep them to characters that need no
	// escaping anywhere.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	// Twilio SIDs are lowercase hex. Upper case is refused rather than
	// accepted, because the SID is a consent scope key: "MGAB…" and "MGab…"
	// would be two scopes, and an inbound STOP names the lowercase one.
	messagingServiceSIDRE = regexp.MustCompile(`^MG[0-9a-f]{32}$`)
	shortCodeRE           = regexp.MustCompile(`^[0-9]{3,8}$`)
	alphanumericRE        = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
	hasLetterRE           = regexp.MustCompile(`[A-Za-z]`)
	daysRE                = regexp.MustCompile(`^([0-9]+)d$`)
)

// Validate checks the definition and returns every problem found, joined
// with errors.Join, one "field: reason" per problem; nil if there are none.
// Reporting all problems at once saves the designer an edit-run cycle per
// mistake.
func (d *Definition) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{path}, args...)...))
	}

	switch {
	case d.Name == "":
		add("name", "required")
	case !nameRE.MatchString(d.Name):
		add("name", "must be 1-64 characters of letters, digits, '-', '_'")
	}
	if !slices.Contains(categories, d.Category) {
		add("category", "must be %q or %q, got %q", contract.CategoryMarketing, contract.CategoryTransactional, d.Category)
	}
	senderErrs := d.Sender.validate()
	errs = append(errs, senderErrs...)
	if err := policy.CheckSender(d.Sender.Type, d.Sender.ShortCodeKeywords, d.Category, d.Sender.AltInstruction); err != nil && len(senderErrs) == 0 {
		// Named on the first marketing SMS step, where it would bite.
		for i, st := range d.Steps {
			if !st.IsWait() {
				add(fmt.Sprintf("steps[%d]", i), "sender %q: %v", d.Sender.Scope(), err)
				break
			}
		}
	}
	if q := d.Sender.QuietHours; q != nil {
		for _, err := range q.validate() {
			add("sender.quiet_hours", "%v", err)
		}
	}
	if l := d.Sender.Language; l != "" && !slices.Contains(languages, l) {
		add("sender.language", "must be one of %s, got %q", strings.Join(languages, ", "), l)
	}

	smsSteps, optIns := 0, 0
	for i, s := range d.Steps {
		path := fmt.Sprintf("steps[%d]", i)
		switch {
		case countSet(s.SMS, s.Wait, s.OptIn) != 1:
			add(path, `set exactly one of "sms", "wait" or "opt_in"`)
		case s.IsWait():
			if _, err := parseWait(s.Wait); err != nil {
				add(path+".wait", "%v", err)
			}
		default:
			if s.IsOptIn() {
				optIns++
				switch {
				case d.Category != contract.CategoryMarketing:
					add(path+".opt_in", "only marketing journeys ask for a double opt-in")
				case optIns > 1:
					add(path+".opt_in", "a journey asks for a double opt-in at most once")
				}
			} else {
				smsSteps++
			}
			if strings.TrimSpace(s.Body()) == "" {
				add(path+"."+s.field(), "empty body")
			} else if _, err := parseBody(s.Body()); err != nil {
				add(path+"."+s.field(), "%v", err)
			}
		}
	}
	if smsSteps+optIns == 0 {
		add("steps", "at least one sms step required")
	}
	return errors.Join(errs...)
}

func countSet(fields ...string) int {
	n := 0
	for _, f := range fields {
		if f != "" {
			n++
		}
	}
	return n
}

// The values a field may take; Validate and the JSON Schema read them here.
var (
	categories  = []contract.Category{contract.CategoryMarketing, contract.CategoryTransactional}
	senderTypes = []contract.SenderType{contract.SenderLongCode, contract.SenderTollFree, contract.SenderShortCode, contract.SenderAlphanumeric}
	languages   = []string{"en", "fr", "es", "pt", "de"}
)

// strs turns typed values into the strings they are on the wire.
func strs[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

func (s Sender) validate() []error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{path}, args...)...))
	}

	if !slices.Contains(contract.Providers, s.Provider) {
		add("sender.provider", "must be one of %s, got %q", strings.Join(strs(contract.Providers), ", "), s.Provider)
	}
	validType := slices.Contains(senderTypes, s.Type)
	if !validType {
		add("sender.type", "must be one of %s, got %q", strings.Join(strs(senderTypes), ", "), s.Type)
	}

	switch {
	case (s.From == "") == (s.MessagingServiceSID == ""):
		add("sender", `set exactly one of "from" or "messaging_service_sid"`)
	case s.MessagingServiceSID != "":
		// Only Twilio has Messaging Services; an unknown provider is
		// reported above, not twice.
		if s.Provider != contract.ProviderTwilio && slices.Contains(contract.Providers, s.Provider) {
			add("sender.messaging_service_sid", "only valid with provider twilio")
		}
		if !messagingServiceSIDRE.MatchString(s.MessagingServiceSID) {
			add("sender.messaging_service_sid", "invalid %q (want MG followed by 32 lowercase hex characters)", s.MessagingServiceSID)
		}
	case validType:
		if err := checkFrom(s.Type, s.From); err != nil {
			add("sender.from", "%v", err)
		}
	}
	return errs
}

// checkFrom checks a sender's From for its type.
func checkFrom(typ contract.SenderType, from string) error {
	switch typ {
	case contract.SenderShortCode:
		if !shortCodeRE.MatchString(from) {
			return fmt.Errorf("invalid short code %q (want 3-8 digits)", from)
		}
	case contract.SenderAlphanumeric:
		if !alphanumericRE.MatchString(from) || !hasLetterRE.MatchString(from) {
			return fmt.Errorf("invalid alphanumeric sender ID %q (want 1-11 letters, digits or spaces, with at least one letter)", from)
		}
	default: // long code, toll-free: a phone number
		return checkE164(from)
	}
	return nil
}

// checkE164 accepts a sending number (see phone.NormalizeSender: possible,
// not necessarily valid) in canonical E.164 form. The exact form matters,
// because From is the consent scope key and inbound messages name the
// number in E.164.
func checkE164(from string) error {
	e164, err := phone.NormalizeSender(from)
	if err != nil {
		return fmt.Errorf("invalid phone number %q", from)
	}
	if e164 != from {
		return fmt.Errorf("%q is not in E.164 form, want %q", from, e164)
	}
	return nil
}

// parseWait parses a wait step: a Go duration or whole days ("7d"), which
// Go durations lack.
func parseWait(s string) (time.Duration, error) {
	var d time.Duration
	if m := daysRE.FindStringSubmatch(s); m != nil {
		days, err := strconv.Atoi(m[1])
		if err != nil || days > int(MaxWait/(24*time.Hour)) {
			return 0, fmt.Errorf("duration %q out of range (want more than 0 and at most 365d)", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
	}
	if d <= 0 || d > MaxWait {
		return 0, fmt.Errorf("duration %q out of range (want more than 0 and at most 365d)", s)
	}
	return d, nil
}
