package sms

import (
	"regexp"
	"strings"
)

// phoneLike matches runs of at least 7 digits, optionally after a '+' and
// with short separators, as phone numbers are commonly written
// ("+1 (500) 555-0006").
var phoneLike = regexp.MustCompile(`\+?\d(?:[ .()-]{0,2}\d){6,}`)

// Redact removes the recipient number from provider text (Temporal failure
// messages are not encrypted): the number as sent, with and without '+',
// then anything else that looks like a phone number, in case the provider
// reformatted it. What remains of a number is its last 4 digits, as in the
// logs. Every provider uses it for its error messages.
func Redact(s, to string) string {
	if to != "" {
		s = strings.ReplaceAll(s, to, mask(to))
		if bare := strings.TrimPrefix(to, "+"); bare != to && bare != "" {
			s = strings.ReplaceAll(s, bare, mask(bare))
		}
	}
	return phoneLike.ReplaceAllStringFunc(s, mask)
}

// mask keeps the last 4 digits of a number, or none when the number is so
// short that 4 digits would give most of it away.
func mask(number string) string {
	var digits []byte
	for i := 0; i < len(number); i++ {
		if c := number[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	if len(digits) < 7 {
		return "***"
	}
	return "***" + string(digits[len(digits)-4:])
}
