package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stopline/stopline/workflows/contract"
)

// JSONPoster is the HTTP half of the providers that send one JSON request a
// message with plain net/http (Sinch, the HTTP channel). Each provider keeps
// its own request body, credentials and error table.
type JSONPoster struct {
	Provider contract.Provider // sms.Error.Provider
	Name     string            // how messages call the provider: "Sinch"
	URL      string
	Timeout  time.Duration // bounds one Post, whatever the caller's context allows
	client   *http.Client
}

// NewJSONPoster returns a poster whose client follows no redirect: a
// redirect would carry credentials or a signed message elsewhere, so it
// counts as the answer.
func NewJSONPoster(provider contract.Provider, name, url string, timeout time.Duration) *JSONPoster {
	return &JSONPoster{Provider: provider, Name: name, URL: url, Timeout: timeout, client: &http.Client{
		Transport:     http.DefaultTransport.(*http.Transport).Clone(),
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Answer is a provider's response: its status and at most 1 MiB of its
// body. ReadErr is set when the body could not be read whole.
type Answer struct {
	Status  int
	Body    []byte
	ReadErr error
}

// OK reports a 2xx status.
func (a Answer) OK() bool { return a.Status >= 200 && a.Status < 300 }

// Post checks m, then POSTs payload as JSON with the headers sign sets (it
// sees the encoded body). Failures before an answer are *Error: Permanent
// for a message or request that cannot be built, Temporary when no answer
// came, with m.To redacted.
func (p *JSONPoster) Post(ctx context.Context, m Message, payload any, sign func(h http.Header, body []byte)) (Answer, error) {
	if err := p.check(m); err != nil {
		return Answer{}, err
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return Answer{}, &Error{Provider: p.Provider, Kind: Permanent, Message: "encoding request: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return Answer{}, &Error{Provider: p.Provider, Kind: Permanent, Message: "building request: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	sign(req.Header, body)
	resp, err := p.client.Do(req)
	if err != nil {
		return Answer{}, &Error{Provider: p.Provider, Kind: Temporary, Message: Redact(TransportMessage(err), m.To), NotSent: NotSent(err)}
	}
	defer resp.Body.Close()
	const maxBody = 1 << 20
	a := Answer{Status: resp.StatusCode}
	a.Body, a.ReadErr = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return a, nil
}

// check rejects what a provider that sends from a number cannot send.
func (p *JSONPoster) check(m Message) error {
	var problem string
	switch {
	case m.To == "":
		problem = "message has no To"
	case m.MessagingServiceSID != "":
		problem = "MessagingServiceSID is Twilio-only; " + p.Name + " needs From"
	case m.Body == "":
		problem = "message has no Body"
	default:
		return nil
	}
	return &Error{Provider: p.Provider, Kind: Permanent, Message: problem}
}

// StatusMessage describes an error answer whose body the provider's error
// table could not read (a proxy's HTML page, say): the status and a
// one-line excerpt of the body.
func StatusMessage(status int, body []byte) string {
	m := StatusText(status)
	if s := snippet(body); s != "" {
		m += ": " + s
	}
	return m
}

// CodeMessage is "code: text", or whichever of the two is set, made valid
// UTF-8 and with to redacted.
func CodeMessage(code, text, to string) string {
	m := code + ": " + text
	switch {
	case code == "":
		m = text
	case text == "":
		m = code
	}
	return Redact(strings.ToValidUTF8(m, "?"), to)
}

// StatusText is the lower-case text of an HTTP status.
func StatusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return strings.ToLower(t)
	}
	return "http status " + strconv.Itoa(status)
}

// TransportMessage describes a failure that produced no usable response.
// It drops *url.Error's URL, whose query can hold the recipient number.
func TransportMessage(err error) string {
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

// SendTimeout is a provider config's Timeout: t, or def when t is zero. A
// negative t is an error that names pkg ("sinch: Timeout ...").
func SendTimeout(pkg string, t, def time.Duration) (time.Duration, error) {
	switch {
	case t < 0:
		return 0, fmt.Errorf("%s: Timeout must not be negative, got %s", pkg, t)
	case t == 0:
		return def, nil
	}
	return t, nil
}
