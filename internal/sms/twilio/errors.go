package twilio

import (
	"errors"

	"github.com/twilio/twilio-go/client"

	"github.com/stopline/stopline/internal/sms"
)

// CodeUnsubscribed is Twilio's "attempt to send to unsubscribed recipient",
// in a send's error or a status callback's ErrorCode: the recipient opted
// out at Twilio.
const CodeUnsubscribed = 21610

// codeKinds maps the Twilio error codes whose meaning differs from what
// their HTTP status alone would say. Every other code is classified by
// status (429 rate limited, 5xx temporary, other 4xx permanent).
//
// 21408 (no permission to send to the To number's region) and 21608 (trial
// account, unverified To) are deliberately absent: they are account
// configuration problems an operator must fix, so they stay Permanent rather
// than quietly skipping recipients as InvalidNumber would.
var codeKinds = map[int]sms.Kind{
	CodeUnsubscribed: sms.OptedOut,
	21211:            sms.InvalidNumber, // invalid 'To' phone number
	21612:            sms.InvalidNumber, // 'To' number not reachable via SMS
	21614:            sms.InvalidNumber, // 'To' number is not a valid mobile number
	21635:            sms.InvalidNumber, // 'To' number cannot be a landline
	20429:            sms.RateLimited,   // too many requests
	21611:            sms.RateLimited,   // 'From' number has too many queued messages
	20003:            sms.Permanent,     // authentication failed
}

func kindFor(code, status int) sms.Kind {
	if k, ok := codeKinds[code]; ok {
		return k
	}
	return sms.KindForHTTPStatus(status)
}

// classify turns a twilio-go failure into an *sms.Error. ct tells whether a
// response arrived and with which status; to is masked out of the message
// because Temporal failure messages are stored unencrypted.
func classify(err error, ct *callTransport, to string) *sms.Error {
	e := &sms.Error{Provider: provider, HTTPStatus: ct.status}
	var rest *client.TwilioRestError
	switch {
	case errors.As(err, &rest):
		// A JSON error body. The status we saw on the wire wins over the
		// body's copy of it.
		if e.HTTPStatus == 0 {
			e.HTTPStatus = rest.Status
		}
		e.Code = rest.Code
		e.Kind = kindFor(rest.Code, e.HTTPStatus)
		e.Message = rest.Message
		if e.Message == "" {
			e.Message = sms.StatusText(e.HTTPStatus)
		}
	case ct.status >= 300:
		// A non-JSON error body (a proxy's HTML page, say): twilio-go only
		// says it could not decode it, so the status decides.
		e.Kind = sms.KindForHTTPStatus(ct.status)
		e.Message = sms.StatusMessage(ct.status, ct.body)
	case ct.status != 0:
		// 2xx with an unreadable body. Only Find gets here (Send treats it
		// as accepted); the answer is worth asking for again.
		e.Kind = sms.Temporary
		e.Message = "unreadable response: " + sms.TransportMessage(err)
	default:
		// No response: connection failure, timeout or cancellation.
		e.Kind = sms.Temporary
		e.Message = sms.TransportMessage(err)
		e.NotSent = sms.NotSent(err)
	}
	e.Message = sms.Redact(e.Message, to)
	return e
}
