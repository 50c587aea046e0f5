package httpchannel

import (
	"encoding/json"
	"strings"

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
		e.Message = sms.Redact(sms.StatusMessage(status, body), to)
		return e
	}
	if k, ok := codeKinds[strings.ToLower(strings.TrimSpace(eb.Code))]; ok {
		e.Kind = k
	}
	e.Message = sms.CodeMessage(eb.Code, eb.Message, to)
	return e
}
