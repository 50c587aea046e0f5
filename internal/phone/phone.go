// Package phone normalises phone numbers to E.164, masks them for logs and
// derives the keyed recipient hash that stands in for a number wherever
// Temporal would store it unencrypted (workflow IDs, search attributes,
// failure messages).
package phone

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Normalize parses raw and returns it in E.164 form, e.g. "+14155550123".
//
// A number without a leading "+" is read in defaultRegion (an ISO 3166 code
// such as "US"). An international call prefix is only understood if it is the
// default region's own: "0033 1 23 45 67 89" works with "FR" or "GB" (prefix
// 00), not with "US" (prefix 011).
//
// The number must pass phonenumbers.IsValidNumber, not merely have a possible
// length: recipients come from CSV files, and a number that no carrier
// plan contains is a data error we want to report per line rather than a
// send that fails later. Note what that means for the fictional 555 range
// (phonenumbers v1.8.1):
//   - +1 NPA 555-01xx with a real area code, e.g. +14155550123, IS valid:
//     the metadata has no special case for the 555-0100..0199 range that
//     North America reserves for fiction. Use these in examples and tests.
//   - +1 555 xxx xxxx, e.g. +15550001111, is NOT valid: 555 is not an area
//     code. It is only a "possible" number (right length), which is why the
//     journey package, validating sender numbers, checks possibility instead.
//
// Letters are rejected rather than read as a keypad vanity number
// ("1-800-FLOWERS"): in a recipient list they are almost always a shifted
// column or a typo. Extensions are rejected too, as SMS cannot reach one.
//
// Error messages quote raw so that the person fixing the input can find it;
// callers must not put them where numbers must not go (workflow failures).
func Normalize(raw, defaultRegion string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errors.New("empty phone number")
	}
	if strings.ContainsFunc(s, unicode.IsLetter) {
		return "", fmt.Errorf("invalid phone number %q", raw)
	}
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		if errors.Is(err, phonenumbers.ErrInvalidCountryCode) && !strings.HasPrefix(s, "+") && region == "" {
			return "", fmt.Errorf("invalid phone number %q: no country code (start with \"+\" or set a default region)", raw)
		}
		return "", fmt.Errorf("invalid phone number %q", raw)
	}
	if num.GetExtension() != "" {
		return "", fmt.Errorf("invalid phone number %q: has an extension, which SMS cannot reach", raw)
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", fmt.Errorf("%q is not a valid number", raw)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// NormalizeSender returns a sending number, written with its country code
// ("+1 555 000 1111"), in E.164 form. It asks only that the number be
// possible, not valid: senders in examples and tests are fictional
// (+1 555 ...), and the provider is the authority on which numbers an
// account may send from.
func NormalizeSender(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if !strings.HasPrefix(s, "+") {
		return "", fmt.Errorf("invalid phone number %q: no country code", raw)
	}
	num, err := phonenumbers.Parse(s, "")
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return "", fmt.Errorf("invalid phone number %q", raw)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// minMaskKeep is the shortest input of which Mask reveals the last 4
// characters. Below it, 4 characters would give away most of the value.
const minMaskKeep = 8

// Mask hides a phone number for logs, keeping a leading "+" and the last 4
// characters: "+14155550123" becomes "+*******0123". Inputs with fewer than
// 8 characters after the "+" are masked entirely. Mask works on any string, so
// logging a value that was never normalised does not leak it either.
func Mask(e164 string) string {
	prefix := ""
	rest := e164
	if strings.HasPrefix(rest, "+") {
		prefix, rest = "+", rest[1:]
	}
	runes := []rune(rest)
	keep := 0
	if len(runes) >= minMaskKeep {
		keep = 4
	}
	hidden := len(runes) - keep
	return prefix + strings.Repeat("*", hidden) + string(runes[hidden:])
}

// DevSecret is the Keyer secret for local development and tests. Keys made
// with it are trivially reversible (the number space is small), so a
// production deployment must set its own secret.
const DevSecret = "stopline-development-secret-do-not-use-in-production"

// minSecretLen is the shortest secret NewKeyer accepts. 16 bytes (128 bits)
// keeps brute force over the key infeasible even though the hashed values,
// phone numbers, are easy to enumerate.
const minSecretLen = 16

// Keyer derives recipient keys: a keyed hash of an E.164 number, used instead
// of the number in workflow IDs and search attributes, which Temporal stores
// unencrypted. A plain hash would not do: all phone numbers can be hashed in
// hours, so without the secret anyone could reverse the keys.
//
// The zero Keyer has no secret and panics when used; make one with NewKeyer.
type Keyer struct {
	secret []byte
}

// NewKeyer returns a Keyer for secret, which must be at least 16 bytes long.
// Every process that derives keys (worker, webhook bridge, starter) must use
// the same secret, and changing it changes every key, so running journeys
// would no longer be found by recipient.
func NewKeyer(secret []byte) (Keyer, error) {
	if len(secret) < minSecretLen {
		return Keyer{}, fmt.Errorf("recipient key secret is %d bytes, want at least %d", len(secret), minSecretLen)
	}
	// Copy so that a caller reusing its buffer cannot change our keys.
	return Keyer{secret: append([]byte(nil), secret...)}, nil
}

// Key returns the recipient key of e164: "r" followed by the first 32 hex
// characters (128 bits) of HMAC-SHA256(secret, e164), 33 characters in all.
// The "r" keeps keys from starting with a digit and marks them as recipient
// keys in IDs. The result is stable for a given secret and input, so it must
// be given the normalised E.164 form: "+1 415..." and "+1415..." differ.
func (k Keyer) Key(e164 string) string {
	if len(k.secret) == 0 {
		panic("phone: Key called on a zero Keyer; use NewKeyer")
	}
	mac := hmac.New(sha256.New, k.secret)
	mac.Write([]byte(e164)) // hash.Hash writes never fail
	return "r" + hex.EncodeToString(mac.Sum(nil))[:32]
}

// String keeps the secret out of logs and error messages.
func (k Keyer) String() string { return "phone.Keyer{secret: redacted}" }

// GoString keeps the secret out of %#v output.
func (k Keyer) GoString() string { return k.String() }

// Region returns the ISO 3166 region code of an E.164 number, such as "US"
// or "GB", or "" if the number is not E.164, not valid, or not tied to one
// region (global services such as +800).
func Region(e164 string) string {
	if !strings.HasPrefix(e164, "+") {
		return ""
	}
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	switch r := phonenumbers.GetRegionCodeForNumber(num); r {
	case phonenumbers.UNKNOWN_REGION, phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
		return ""
	default:
		return r
	}
}
