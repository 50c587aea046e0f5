// Package sinch sends SMS through Sinch's REST batches API (XMS) with plain
// net/http.
//
// One Send is one batch with one recipient:
//
//	POST {APIURL}/xms/v1/{service_plan_id}/batches
//	Authorization: Bearer {api_token}
//	{"from": "...", "to": ["+1..."], "body": "..."}
//
// Sinch answers 201 with the batch, whose "id" becomes Result.MessageID.
// Sinch has no way to look a batch up by content, so Sender is not an
// sms.Finder.
package sinch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stopline/stopline/internal/sms"
	"github.com/stopline/stopline/workflows/contract"
)

const (
	// DefaultAPIURL is Sinch's US region. EU is https://eu.sms.api.sinch.com.
	DefaultAPIURL = "https://us.sms.api.sinch.com"
	// DefaultTimeout bounds one Send when Config.Timeout is zero.
	DefaultTimeout = 10 * time.Second

	// StatusAccepted is Result.Status for an accepted batch: Sinch's batch
	// has no status word of its own (delivery comes later, in reports).
	StatusAccepted = "accepted"

	provider = contract.ProviderSinch
)

// Config configures a Sender.
type Config struct {
	ServicePlanID string // required
	APIToken      string // required
	// APIURL is the regional base URL, or a fake's in tests. Default
	// DefaultAPIURL. A path, if any, is kept before /xms/v1.
	APIURL string
	// Timeout bounds one Send, whatever the caller's context allows.
	// Default DefaultTimeout.
	Timeout time.Duration
}

// Sender sends messages through Sinch. It is safe for concurrent use.
type Sender struct {
	post  *sms.JSONPoster // to the full batches URL
	token string
}

var _ sms.Sender = (*Sender)(nil)

// New validates cfg and returns a Sender. Errors never echo the API token.
func New(cfg Config) (*Sender, error) {
	if cfg.ServicePlanID == "" {
		return nil, errors.New("sinch: ServicePlanID is required")
	}
	if cfg.APIToken == "" {
		return nil, errors.New("sinch: APIToken is required")
	}
	if !headerSafe(cfg.APIToken) {
		return nil, errors.New("sinch: APIToken must be printable ASCII without spaces")
	}
	raw := cfg.APIURL
	if raw == "" {
		raw = DefaultAPIURL
	}
	base, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("sinch: APIURL: %w", err)
	case base.Scheme != "http" && base.Scheme != "https", base.Host == "":
		return nil, fmt.Errorf("sinch: APIURL %q must be an absolute http or https URL", raw)
	case base.RawQuery != "" || base.Fragment != "":
		return nil, fmt.Errorf("sinch: APIURL %q must not have a query or fragment", raw)
	}
	timeout, err := sms.SendTimeout(string(provider), cfg.Timeout, DefaultTimeout)
	if err != nil {
		return nil, err
	}
	base.Path = strings.TrimSuffix(base.Path, "/") + "/xms/v1/" + url.PathEscape(cfg.ServicePlanID) + "/batches"
	return &Sender{post: sms.NewJSONPoster(provider, "Sinch", base.String(), timeout), token: cfg.APIToken}, nil
}

// headerSafe reports whether s can go in an HTTP header unchanged.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

type batchRequest struct {
	From string   `json:"from,omitempty"` // empty: the service plan's default sender
	To   []string `json:"to"`
	Body string   `json:"body"`
}

// Send hands m to Sinch as a one-recipient batch. Failures are *sms.Error
// with Provider "sinch".
//
// A Temporary error after the request was written (a timeout, a dropped
// connection) leaves the outcome unknown, and Sinch offers no lookup.
func (s *Sender) Send(ctx context.Context, m sms.Message) (sms.Result, error) {
	batch := batchRequest{From: m.From, To: []string{m.To}, Body: m.Body}
	a, err := s.post.Post(ctx, m, batch, func(h http.Header, _ []byte) { h.Set("Authorization", "Bearer "+s.token) })
	if err != nil {
		return sms.Result{}, err
	}
	if !a.OK() {
		return sms.Result{}, classify(a.Status, a.Body, m.To)
	}
	// The batch exists even if its JSON was cut off: reporting a failure
	// would invite a duplicate send, so an unreadable body only costs the ID.
	var created struct {
		ID string `json:"id"`
	}
	if a.ReadErr == nil {
		_ = json.Unmarshal(a.Body, &created)
	}
	return sms.Result{MessageID: created.ID, Status: StatusAccepted}, nil
}
