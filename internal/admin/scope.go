package admin

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stopline/stopline/internal/phone"
)

// maxScopeLen bounds a scope: sender numbers, short codes, alphanumeric IDs,
// messaging service SIDs and program names are all far shorter.
const maxScopeLen = 100

var (
	shortCodeRE = regexp.MustCompile(`^[0-9]{3,8}$`)
	phoneLikeRE = regexp.MustCompile(`^[+0-9 ()./-]+$`)
	// Twilio writes SIDs in lowercase hex, and the SID is a scope key, so
	// "MGAB…" would be a scope no inbound message names.
	serviceSIDRE   = regexp.MustCompile(`^MG[0-9a-f]{32}$`)
	serviceSIDLike = regexp.MustCompile(`(?i)^MG[0-9a-f]{32}$`)
	// A name is an alphanumeric sender ID ("ACME Deals") or a program name
	// ("acme"). Starting with a letter or digit keeps it from being read as
	// a formula when an export is opened in a spreadsheet.
	nameRE = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} _.-]*$`)
)

// programPrefix marks a program's scope, as the senders file records it.
const programPrefix = "program:"

// checkScope checks a scope given by a person and returns it as journeys
// name it. A scope is one of:
//   - "*", every sender;
//   - a sender number with its country code, returned in E.164
//     ("+1 415 555 0100" becomes "+14155550100"): journeys and inbound
//     messages name numbers so, and an opt-out under a spelling no journey
//     checks would block nothing;
//   - a short code, 3-8 digits;
//   - a Twilio messaging service SID, "MG" and 32 lowercase hex digits;
//   - a name: an alphanumeric sender ID or a program name, letters and
//     digits first, then also spaces, '_', '.' and '-';
//   - "program:" followed by such a name.
//
// Anything else is refused, which includes every value a spreadsheet would
// run as a formula (=, @, +, -, tab, CR first) other than an E.164 number.
func checkScope(scope string) (string, error) {
	switch {
	case scope == "":
		return "", errors.New(`no scope: fill the scope column or give a default scope ("*" for every sender)`)
	case utf8.RuneCountInString(scope) > maxScopeLen:
		return "", fmt.Errorf("scope longer than %d characters", maxScopeLen)
	case strings.ContainsFunc(scope, unicode.IsControl):
		return "", fmt.Errorf("scope %q contains control characters", scope)
	case scope == "*", shortCodeRE.MatchString(scope), serviceSIDRE.MatchString(scope):
		return scope, nil
	case serviceSIDLike.MatchString(scope):
		return "", fmt.Errorf("scope %q: a messaging service SID is MG followed by 32 lowercase hex characters", scope)
	case phoneLikeRE.MatchString(scope):
		e164, err := phone.NormalizeSender(scope)
		if err != nil {
			return "", fmt.Errorf(`scope %q: a sender number must have its country code, in E.164 such as "+14155550100" (a short code is 3-8 digits)`, scope)
		}
		return e164, nil
	}
	if nameRE.MatchString(strings.TrimPrefix(scope, programPrefix)) {
		return scope, nil
	}
	return "", fmt.Errorf(`scope %q: want a sender (E.164 number, short code, alphanumeric sender ID, messaging service SID), `+
		`a program name (letters and digits, then also spaces, '_', '.', '-'), "program:" and a program name, or "*"`, scope)
}
