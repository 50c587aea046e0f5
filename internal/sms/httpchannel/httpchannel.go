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
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/stopline/stopline/internal/sms"
)

const (
	// SignatureHeader carries Sign's result.
	SignatureHeader = "X-Stopline-Signature"
	// DefaultTimeout bounds one Send when Config.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// StatusAccepted is Result.Status when the channel names no status.
	StatusAccepted = "accepted"

	provider = "http"
	maxBody  = 1 << 20 // cap on how much of a response is read
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
	url     string
	secret  []byte
	timeout time.Duration
	client  *http.Client
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
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("httpchannel: Timeout must not be negative, got %s", cfg.Timeout)
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return &Sender{
		url:     u.String(),
		secret:  []byte(cfg.Secret),
		timeout: timeout,
		client: &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			Timeout:   timeout,
			// A redirect would replay a signed message somewhere else; treat
			// it as an answer.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
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
	if err := validate(m); err != nil {
		return sms.Result{}, err
	}
	payload, err := json.Marshal(Request{To: m.To, From: m.From, Body: m.Body})
	if err != nil {
		return sms.Result{}, &sms.Error{Provider: provider, Kind: sms.Permanent, Message: "encoding request: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(payload))
	if err != nil {
		return sms.Result{}, &sms.Error{Provider: provider, Kind: sms.Permanent, Message: "building request: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set(SignatureHeader, Sign(string(s.secret), payload))

	resp, err := s.client.Do(req)
	if err != nil {
		return sms.Result{}, &sms.Error{Provider: provider, Kind: sms.Temporary, Message: sms.Redact(transportMessage(err), m.To), NotSent: sms.NotSent(err)}
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBody))

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Accepted, even if the answer was cut off: a failure here would
		// invite a duplicate send, so an unreadable body only costs the ID.
		var ok Response
		if readErr == nil {
			_ = json.Unmarshal(body, &ok)
		}
		if ok.Status == "" {
			ok.Status = StatusAccepted
		}
		return sms.Result{MessageID: ok.ID, Status: ok.Status}, nil
	}
	return sms.Result{}, classify(resp.StatusCode, body, m.To)
}

func validate(m sms.Message) error {
	var problem string
	switch {
	case m.To == "":
		problem = "message has no To"
	case m.MessagingServiceSID != "":
		problem = "MessagingServiceSID is Twilio-only; the HTTP channel needs From"
	case m.Body == "":
		problem = "message has no Body"
	default:
		return nil
	}
	return &sms.Error{Provider: provider, Kind: sms.Permanent, Message: problem}
}
