package httpchannel

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stopline/stopline/internal/sms"
)

// Error codes a channel may answer with in ErrorBody.Code.
const (
	CodeOptedOut      = "opted_out"      // the recipient opted out at the channel
	CodeInvalidNumber = "invalid_number" // the recipient number cannot receive SMS
	CodeRateLimited   = "rate_limited"   // slow down and retry
	CodeTemporary     = "temporary"      // retry later
	CodePermanent     = "permanent"      // do not retry
)

var codeKinds = map[string]sms.Kind{
	CodeOptedOut:      sms.OptedOut,
	CodeInvalidNumber: sms.InvalidNumber,
	CodeRateLimited:   sms.RateLimited,
	CodeTemporary:     sms.Temporary,
	CodePermanent:     sms.Permanent,
}

// ErrorBody is the JSON a channel answers a failed send with.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// classify turns an error response into an *sms.Error whose message never
// holds the recipient number. A known code decides the kind; an unknown
// code or a body that is not ErrorBody JSON leaves it to the status.
func classify(status int, body []byte, to string) *sms.Error {
	e := &sms.Error{Provider: provider, HTTPStatus: status, Kind: sms.KindForHTTPStatus(status)}
	var eb ErrorBody
	if err := json.Unmarshal(body, &eb); err != nil || (eb.Code == "" && eb.Message == "") {
		e.Message = statusText(status)
		if s := snippet(body); s != "" {
			e.Message += ": " + s
		}
		e.Message = redact(e.Message, to)
		return e
	}
	if k, ok := codeKinds[strings.ToLower(strings.TrimSpace(eb.Code))]; ok {
		e.Kind = k
	}
	switch {
	case eb.Code == "":
		e.Message = eb.Message
	case eb.Message == "":
		e.Message = eb.Code
	default:
		e.Message = eb.Code + ": " + eb.Message
	}
	e.Message = redact(strings.ToValidUTF8(e.Message, "?"), to)
	return e
}

func statusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return strings.ToLower(t)
	}
	return "http status " + strconv.Itoa(status)
}

// transportMessage describes a failure that produced no response, without
// *url.Error's URL.
func transportMessage(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "request timed out"
	case errors.Is(err, context.Canceled):
		return "request canceled"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " request failed: " + ue.Err.Error()
	}
	return err.Error()
}

// snippet is a short one-line excerpt of an error body, for diagnosis.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	const max = 160
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "..."
	}
	return s
}

// phoneLike matches runs of at least 7 digits, optionally after a '+' and
// with short separators, as phone numbers are commonly written
// ("+1 (500) 555-0006").
var phoneLike = regexp.MustCompile(`\+?\d(?:[ .()-]{0,2}\d){6,}`)

// redact removes the recipient number from provider text (Temporal failure
// messages are not encrypted): the number as sent, with and without '+',
// then anything else that looks like a phone number. What remains of a
// number is its last 4 digits, as in the logs.
func redact(s, to string) string {
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
