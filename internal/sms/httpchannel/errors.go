package httpchannel

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
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
		e.Message = sms.Redact(e.Message, to)
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
	e.Message = sms.Redact(strings.ToValidUTF8(e.Message, "?"), to)
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
