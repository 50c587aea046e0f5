// Package twilio sends SMS through Twilio's Programmable Messaging API using
// twilio-go (only its client and rest/api/v2010 packages).
//
// twilio-go has no base-URL option and takes no context. Sender works around
// both: every call builds a cheap twilio-go client whose HTTP transport
// rewrites the request to Config.APIURL and binds it to the caller's context.
package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/stopline/stopline/internal/sms"
	"github.com/stopline/stopline/workflows/contract"
)

const (
	// DefaultAPIURL is Twilio's REST API.
	DefaultAPIURL = "https://api.twilio.com"
	// DefaultTimeout bounds one Send or Find when Config.Timeout is zero.
	DefaultTimeout = 10 * time.Second

	provider = contract.ProviderTwilio
)

// Config configures a Sender.
type Config struct {
	AccountSID string // required, alphanumeric (twilio-go refuses anything else)
	AuthToken  string // required, alphanumeric
	// APIURL is where requests go, e.g. a fake in tests or a regional edge such
	// as https://api.dublin.ie1.twilio.com. Default DefaultAPIURL. A path,
	// if any, is prefixed to Twilio's paths.
	APIURL string
	// Timeout bounds one Send or one Find, whatever the caller's context
	// allows. Default DefaultTimeout.
	Timeout time.Duration
}

// Sender sends messages through Twilio. It is safe for concurrent use.
type Sender struct {
	sid, token string
	base       *url.URL
	timeout    time.Duration
	// transport is shared by all calls so that connections are pooled even
	// though every call builds its own twilio-go client.
	transport http.RoundTripper
}

var (
	_ sms.Sender = (*Sender)(nil)
	_ sms.Finder = (*Sender)(nil)
)

// errUnexpectedStatus stands in for the error twilio-go does not return on
// a 3xx answer.
var errUnexpectedStatus = errors.New("unexpected response status")

var alphanumeric = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// New validates cfg and returns a Sender. Errors never echo the auth token.
func New(cfg Config) (*Sender, error) {
	if cfg.AccountSID == "" {
		return nil, errors.New("twilio: AccountSID is required")
	}
	if !alphanumeric.MatchString(cfg.AccountSID) {
		return nil, errors.New("twilio: AccountSID must be alphanumeric")
	}
	if cfg.AuthToken == "" {
		return nil, errors.New("twilio: AuthToken is required")
	}
	if !alphanumeric.MatchString(cfg.AuthToken) {
		return nil, errors.New("twilio: AuthToken must be alphanumeric")
	}
	raw := cfg.APIURL
	if raw == "" {
		raw = DefaultAPIURL
	}
	base, err := parseBaseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("twilio: APIURL: %w", err)
	}
	timeout, err := sms.SendTimeout(string(provider), cfg.Timeout, DefaultTimeout)
	if err != nil {
		return nil, err
	}
	return &Sender{
		sid:       cfg.AccountSID,
		token:     cfg.AuthToken,
		base:      base,
		timeout:   timeout,
		transport: http.DefaultTransport.(*http.Transport).Clone(),
	}, nil
}

func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q must be an absolute http or https URL", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q has no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q must not have a query or fragment", raw)
	}
	return u, nil
}

// api returns a twilio-go service whose requests go to s.base under ctx, and
// the transport that records what the server answered.
func (s *Sender) api(ctx context.Context) (*openapi.ApiService, *callTransport) {
	ct := &callTransport{ctx: ctx, base: s.base, next: s.transport}
	c := &client.Client{
		Credentials: client.NewCredentials(s.sid, s.token),
		HTTPClient: &http.Client{
			Transport: ct,
			// Belt and braces: ctx already carries s.timeout.
			Timeout: s.timeout,
			// Like twilio-go's default client: a redirect is an answer, not
			// something to follow with our credentials.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(s.sid)
	// A hand-built RequestHandler does not read TWILIO_EDGE/TWILIO_REGION, so
	// the environment cannot change where messages go: APIURL alone decides.
	return openapi.NewApiService(&client.RequestHandler{Client: c}), ct
}

// Send hands m to Twilio. Failures are *sms.Error with Provider "twilio".
//
// A Temporary error after the request was written (a timeout, a dropped
// connection) leaves the outcome unknown: Twilio may have accepted the
// message. Use Find before sending again.
func (s *Sender) Send(ctx context.Context, m sms.Message) (sms.Result, error) {
	if err := validate(m); err != nil {
		return sms.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	api, ct := s.api(ctx)

	params := &openapi.CreateMessageParams{}
	params.SetTo(m.To).SetBody(m.Body)
	if m.MessagingServiceSID != "" {
		params.SetMessagingServiceSid(m.MessagingServiceSID)
	} else {
		params.SetFrom(m.From)
	}
	msg, err := api.CreateMessage(params)
	if err == nil && !ct.ok() {
		// twilio-go passes 3xx through as success; nothing was created.
		err = errUnexpectedStatus
	}
	if err != nil {
		if ct.ok() {
			// Twilio answered 2xx, so the message exists; only the body
			// was unreadable (cut off, or ctx ended while reading). Calling
			// it a failure would invite a duplicate send.
			return sms.Result{Status: "accepted"}, nil
		}
		return sms.Result{}, classify(err, ct, m.To)
	}
	res := sms.Result{MessageID: deref(msg.Sid), Status: deref(msg.Status)}
	if res.Status == "" {
		res.Status = "accepted" // 2xx is acceptance, whatever the body left out
	}
	return res, nil
}

func validate(m sms.Message) error {
	var problem string
	switch {
	case m.To == "":
		problem = "message has no To"
	case m.From == "" && m.MessagingServiceSID == "":
		problem = "message needs From or MessagingServiceSID"
	case m.From != "" && m.MessagingServiceSID != "":
		problem = "message has both From and MessagingServiceSID"
	case m.Body == "":
		problem = "message has no Body"
	default:
		return nil
	}
	return &sms.Error{Provider: provider, Kind: sms.Permanent, Message: problem}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
