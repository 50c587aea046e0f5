// Package sms defines how stopline hands a message to an SMS provider and how
// provider failures are classified. Each provider lives in a subpackage.
package sms

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/stopline/stopline/workflows/contract"
)

// Message is one outbound SMS. To is E.164. Exactly one of From and
// MessagingServiceSID is set (the latter only for Twilio).
type Message struct {
	To                  string
	From                string
	MessagingServiceSID string
	Body                string
}

// Result is what the provider said when it accepted a message.
type Result struct {
	MessageID string // provider's ID (Twilio SID, Sinch batch ID, ...)
	Status    string // provider's status word, e.g. "queued"
}

// Sender hands one message to a provider. It must honour ctx (deadline and
// cancellation) and return a *Error for every failure it can classify.
type Sender interface {
	Send(ctx context.Context, m Message) (Result, error)
}

// Finder is implemented by senders that can look up a message they may have
// accepted earlier. stopline uses it to resolve a send whose outcome is
// unknown (a crash or timeout between the provider call and the ledger write)
// instead of sending it a second time.
type Finder interface {
	// Find returns the message to m.To from m.From with m.Body created at or
	// after since, if the provider has one. A message claimed reports as
	// another send's (an identical text to the same number) is passed over.
	Find(ctx context.Context, m Message, since time.Time, claimed func(messageID string) (bool, error)) (Result, bool, error)
}

// Kind says what a failure means for the send.
type Kind int

const (
	// Temporary failures (5xx, timeouts, connection errors) are retried.
	Temporary Kind = iota
	// RateLimited (HTTP 429, Twilio 20429) is retried with backoff.
	RateLimited
	// OptedOut means the provider refuses because the recipient opted out at
	// the provider (Twilio 21610, Sinch 257). It is recorded as an opt-out.
	OptedOut
	// InvalidNumber (Twilio 21211, 21614, ...) skips the step with a reason.
	InvalidNumber
	// Permanent failures (bad credentials, bad request) are not retried.
	Permanent
)

func (k Kind) String() string {
	switch k {
	case Temporary:
		return "temporary"
	case RateLimited:
		return "rate_limited"
	case OptedOut:
		return "opted_out"
	case InvalidNumber:
		return "invalid_number"
	case Permanent:
		return "permanent"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a classified provider failure.
type Error struct {
	Provider   contract.Provider
	Kind       Kind
	Code       int    // provider error code, 0 when the body had none
	HTTPStatus int    // 0 when no response was received
	Message    string // provider's message; never contains the recipient number
	// NotSent: no response, and the request never left (the connection
	// could not be made), so sending again cannot duplicate it.
	NotSent bool
}

// NotSent reports whether err, from an HTTP call, failed before a connection
// to the provider existed: refused, unreachable, or the name did not
// resolve. Anything later (a reset, a timeout) may follow the provider
// taking the message.
func NotSent(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) && op.Op == "dial" || errors.As(err, &dns)
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s (http %d, code %d): %s", e.Provider, e.Kind, e.HTTPStatus, e.Code, e.Message)
}

// Retryable reports whether sending again later may succeed.
func (e *Error) Retryable() bool { return e.Kind == Temporary || e.Kind == RateLimited }

// KindOf returns the Kind of err, treating unclassified errors as Temporary so
// that an unknown failure is retried rather than dropped.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Temporary
}

// KindForHTTPStatus classifies a failure by HTTP status alone, for error
// bodies that carry no provider code.
func KindForHTTPStatus(status int) Kind {
	switch {
	case status == 429:
		return RateLimited
	case status >= 500 || status == 408:
		return Temporary
	default:
		return Permanent
	}
}

// CheckBaseURL refuses a provider base URL over which credentials would
// travel in clear text: it must be https, or http to a loopback host (a
// local gateway or a test fake).
func CheckBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("%q: credentials would travel in clear text: use https (http only to a loopback host)", raw)
	}
	return fmt.Errorf("%q: scheme must be https", raw)
}
