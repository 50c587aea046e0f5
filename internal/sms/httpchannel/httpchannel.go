// Package httpchannel sends SMS through a custom HTTP endpoint, for
// providers or in-house gateways that stopline has no client for.
//
// The protocol, which both sides implement:
//
//	POST {URL}
//	Content-Type: application/json
//	X-Stopline-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed by the secret>
//	{"to": "+15551234567", "from": "+15557654321", "body": "..."}
//
// Any 2xx accepts the message; the answer should be {"id": "..."} (and may
// carry "status"). A failure answers 4xx or 5xx, ideally with
// {"code": "...", "message": "..."} where code is one of opted_out,
// invalid_number, rate_limited, temporary or permanent. A known code decides
// the sms.Kind; otherwise the status does (429 rate limited, 5xx and 408
// temporary, anything else permanent).
//
// The receiver checks the signature with Verify before trusting the body.
package httpchannel

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/stopline/stopline/internal/sms"
	"github.com/stopline/stopline/workflows/contract"
)

const (
	// SignatureHeader carries Sign's result.
	SignatureHeader = "X-Stopline-Signature"
	// DefaultTimeout bounds one Send when Config.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// StatusAccepted is Result.Status when the channel names no status.
	StatusAccepted = "accepted"

	provider = contract.ProviderHTTP
)

// Config configures a Sender.
type Config struct {
	URL    string // required: absolute http(s) URL messages are POSTed to
	Secret string // required: HMAC key shared with the receiver
	// Timeout bounds one Send, whatever the caller's context allows.
	// Default DefaultTimeout.
	Timeout time.Duration
}

// Sender sends messages through the channel. It is safe for concurrent use.
type Sender struct {
	post   *sms.JSONPoster
	secret string
}

var _ sms.Sender = (*Sender)(nil)

// New validates cfg and returns a Sender. Errors never echo the secret.
func New(cfg Config) (*Sender, error) {
	if cfg.URL == "" {
		return nil, errors.New("httpchannel: URL is required")
	}
	u, err := url.Parse(cfg.URL)
	switch {
	case err != nil:
		return nil, fmt.Errorf("httpchannel: URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return nil, fmt.Errorf("httpchannel: URL %q must be an absolute http or https URL", cfg.URL)
	}
	if cfg.Secret == "" {
		return nil, errors.New("httpchannel: Secret is required")
	}
	timeout, err := sms.SendTimeout("httpchannel", cfg.Timeout, DefaultTimeout)
	if err != nil {
		return nil, err
	}
	return &Sender{post: sms.NewJSONPoster(provider, "the HTTP channel", u.String(), timeout), secret: cfg.Secret}, nil
}

// Sign returns the X-Stopline-Signature value for body:
// "sha256=" followed by the hex HMAC-SHA256 of body keyed by secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature is Sign(secret, body), in constant time.
// An empty secret verifies nothing.
func Verify(secret string, body []byte, signature string) bool {
	if secret == "" {
		return false
	}
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
}

// Request is the JSON body of a send.
type Request struct {
	To   string `json:"to"`
	From string `json:"from"`
	Body string `json:"body"`
}

// Response is the JSON a channel answers an accepted send with.
type Response struct {
	ID     string `json:"id"`
	Status string `json:"status,omitempty"`
}

// Send POSTs m to the channel. Failures are *sms.Error with Provider "http".
//
// A Temporary error after the request was written (a timeout, a dropped
// connection) leaves the outcome unknown.
func (s *Sender) Send(ctx context.Context, m sms.Message) (sms.Result, error) {
	a, err := s.post.Post(ctx, m, Request{To: m.To, From: m.From, Body: m.Body}, func(h http.Header, body []byte) {
		h.Set(SignatureHeader, Sign(s.secret, body))
	})
	if err != nil {
		return sms.Result{}, err
	}
	if !a.OK() {
		return sms.Result{}, classify(a.Status, a.Body, m.To)
	}
	// Accepted, even if the answer was cut off: a failure here would invite
	// a duplicate send, so an unreadable body only costs the ID.
	var ok Response
	if a.ReadErr == nil {
		_ = json.Unmarshal(a.Body, &ok)
	}
	if ok.Status == "" {
		ok.Status = StatusAccepted
	}
	return sms.Result{MessageID: ok.ID, Status: ok.Status}, nil
}
