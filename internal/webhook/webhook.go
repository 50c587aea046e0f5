// Package webhook is the webhook bridge. Its HTTP side authenticates and
// parses provider callbacks (Twilio, Sinch, the generic signed JSON
// channel) and hands each, normalised, to an Intake, which makes it durable
// before the provider gets its 2xx (DurableIntake, intake.go); the Redriver
// then signals the recipient's workflow (redriver.go). Routes and answers are in the README
// ("Inbound" and "Security model"); Config documents each setting.
//
// Strings passed to the Intake are valid UTF-8 without NUL bytes (Postgres
// text accepts neither). Logs mask phone numbers and never hold bodies.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/stopline/stopline/internal/metrics"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/sms/twilio"
	"github.com/stopline/stopline/workflows/contract"
)

// Route paths served by the handler New returns.
const (
	PathTwilio       = "/webhooks/twilio"
	PathTwilioStatus = "/webhooks/twilio/status"
	PathSinch        = "/webhooks/sinch"
	PathInbound      = "/webhooks/inbound"
)

// MaxBodyBytes bounds a callback body. Real ones are a few hundred bytes.
const MaxBodyBytes = 64 << 10

// StatusEvent is a delivery status callback (Twilio).
type StatusEvent struct {
	Provider, MessageID, MessageStatus, To, From, MessagingServiceSID string
	ErrorCode                                                         int // e.g. 21610
}

// OptedOut reports whether the provider refused the message because the
// recipient opted out with it.
func (e StatusEvent) OptedOut() bool { return e.ErrorCode == twilio.CodeUnsubscribed }

// Intake makes an inbound message durable. It returns nil only once the
// message (and its consent effect) is committed; ErrUnavailable (wrapped) when the store is down.
type Intake interface {
	Inbound(ctx context.Context, m contract.Inbound) error
	Status(ctx context.Context, e StatusEvent) error
	// Urgent reports whether m may change consent or needs a reply (a
	// keyword): such messages get intake capacity kept for them.
	Urgent(m contract.Inbound) bool
}

// ErrUnavailable, wrapped in an Intake error, makes the handler answer 503.
var ErrUnavailable = errors.New("intake unavailable")

// Config configures the handler. The environment variable names in log and
// error messages are the ones the worker reads these from.
type Config struct {
	// PublicURL is the base URL providers call, e.g. "https://sms.example.com",
	// optionally with a path prefix that a reverse proxy strips. The request's
	// path and query as received are appended to it to get the URL Twilio
	// signed. When set it wins over TrustProxy and the request's Host.
	PublicURL string
	// TrustProxy honours X-Forwarded-Proto / X-Forwarded-Host when building
	// the signed URL without PublicURL: the value TrustProxyHops from the
	// right, the one the outermost trusted proxy appended. Values further
	// left came from the client and are never used.
	TrustProxy     bool
	TrustProxyHops int // trusted proxies in front of stopline; 0 = 1
	// Dev lets the Twilio routes sign-check against the request's own Host
	// when neither PublicURL nor TrustProxy is set. Outside development a
	// Host header is not checked against anything, so those routes then
	// answer 503.
	Dev             bool
	TwilioAuthToken string // TWILIO_AUTH_TOKEN
	SinchSecret     string // SINCH_WEBHOOK_SECRET: Sinch HMAC secret
	InboundSecret   string // INBOUND_WEBHOOK_SECRET: generic channel HMAC secret
	// Insecure skips all signature checks, Sinch timestamp and nonce checks
	// included (only allowed in -dev; the caller enforces and logs).
	Insecure bool
	// IntakeSlots caps messages being committed at once, and KeywordSlots
	// adds slots only urgent messages (keywords, provider opt-outs) may
	// take. A message waits up to IntakeWait for a slot, then gets 503
	// with Retry-After. The intake's Postgres pool should hold
	// IntakeSlots+KeywordSlots connections. Zero values take the defaults.
	IntakeSlots, KeywordSlots int
	IntakeWait                time.Duration
	Now                       func() time.Time // for tests; default time.Now
	Logger                    *slog.Logger     // default slog.Default()
	Metrics                   *metrics.Set     // counts refused calls; nil: not counted
}

// New validates cfg and returns the handler serving the routes above. It
// fails only for a nil intake or an unusable PublicURL; missing secrets are
// handled per route (see the package doc).
func New(cfg Config, intake Intake) (http.Handler, error) {
	s, err := newServer(cfg, intake)
	if err != nil {
		return nil, err
	}
	return s.handler(), nil
}

func newServer(cfg Config, intake Intake) (*server, error) {
	if intake == nil {
		return nil, errors.New("webhook: intake is nil")
	}
	s := &server{cfg: cfg, intake: intake, log: cfg.Logger, now: cfg.Now, nonces: newNonceCache(maxNonces),
		gate: newGate(cfg.slots())}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
			return nil, fmt.Errorf("webhook: PublicURL %q must be an absolute http(s) URL without query, such as https://sms.example.com", cfg.PublicURL)
		}
		s.base = strings.TrimRight(cfg.PublicURL, "/")
	}
	if cfg.TwilioAuthToken != "" {
		s.twilio = client.NewRequestValidator(cfg.TwilioAuthToken)
	}

	if !cfg.Insecure { // insecure mode is logged by the caller, which enforces it
		if cfg.TwilioAuthToken == "" {
			s.log.Warn("twilio webhooks are not configured and answer 503: TWILIO_AUTH_TOKEN is not set", "paths", PathTwilio+", "+PathTwilioStatus)
		}
		if cfg.InboundSecret == "" {
			s.log.Warn("generic inbound webhook is not configured and answers 503: INBOUND_WEBHOOK_SECRET is not set", "path", PathInbound)
		}
		if cfg.TwilioAuthToken != "" && !s.knowsURL() {
			s.log.Warn("twilio webhooks are not configured and answer 503: set PUBLIC_URL to the URL configured at Twilio, or TRUST_PROXY=true behind a proxy", "paths", PathTwilio+", "+PathTwilioStatus)
		}
		if cfg.SinchSecret == "" {
			s.log.Warn("sinch webhook is not configured and answers 503: SINCH_WEBHOOK_SECRET is not set (and HMAC signing enabled at Sinch)", "path", PathSinch)
		}
	}
	if cfg.TrustProxyHops < 0 {
		return nil, fmt.Errorf("webhook: TrustProxyHops %d is negative", cfg.TrustProxyHops)
	}
	if s.cfg.TrustProxyHops == 0 {
		s.cfg.TrustProxyHops = 1
	}
	if cfg.PublicURL != "" && cfg.TrustProxy {
		s.log.Info("webhook PublicURL is set, so X-Forwarded-* headers are not used")
	}
	return s, nil
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST "+PathTwilio, s.route(contract.ProviderTwilio, s.twilioInbound))
	mux.Handle("POST "+PathTwilioStatus, s.route(contract.ProviderTwilio, s.twilioStatus))
	mux.Handle("POST "+PathSinch, s.route(contract.ProviderSinch, s.sinch))
	mux.Handle("POST "+PathInbound, s.route(contract.ProviderHTTP, s.generic))
	return mux
}

type server struct {
	cfg    Config
	intake Intake
	log    *slog.Logger
	now    func() time.Time
	base   string // PublicURL without trailing slash; "" = derive from request
	twilio client.RequestValidator
	nonces *nonceCache
	gate   *gate
}

// slots are the intake bounds, defaults applied.
func (c Config) slots() (shared, reserved int, wait time.Duration) {
	return orDefault(c.IntakeSlots, DefaultIntakeSlots), orDefault(c.KeywordSlots, DefaultKeywordSlots), orDefault(c.IntakeWait, DefaultIntakeWait)
}

// IntakeConns is how many Postgres connections the intake can use at once:
// one per slot.
func (c Config) IntakeConns() int {
	shared, reserved, _ := c.slots()
	return shared + reserved
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// reqError is a refused request: the status and the message the caller gets,
// plus detail that only goes to the log.
type reqError struct {
	status int
	msg    string
	detail string
}

func (e *reqError) Error() string { return e.msg }

// busy refuses a message that found no intake slot within the bound.
var busy = &reqError{status: http.StatusServiceUnavailable, msg: "too many messages at once, retry later"}

func fail(status int, format string, args ...any) *reqError {
	return &reqError{status: status, msg: fmt.Sprintf(format, args...)}
}

func badRequest(err error) *reqError {
	return &reqError{status: http.StatusBadRequest, msg: err.Error()}
}

// route adapts a handler that returns a *reqError, so every refusal is
// answered and logged the same way.
func (s *server) route(provider contract.Provider, h func(http.ResponseWriter, *http.Request) *reqError) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := h(w, r)
		if e == nil {
			return
		}
		level := slog.LevelWarn
		if e.status >= 500 {
			level = slog.LevelError
		}
		attrs := []any{"provider", provider, "path", r.URL.Path, "status", e.status, "error", e.msg, "remote", r.RemoteAddr}
		if e.detail != "" {
			attrs = append(attrs, "detail", e.detail)
		}
		s.log.Log(r.Context(), level, "webhook refused", attrs...)
		s.cfg.Metrics.WebhookRefused(string(provider), e.status)
		if e == busy {
			w.Header().Set("Retry-After", intakeRetryAfterSecs)
		}
		http.Error(w, e.msg, e.status)
	})
}

// notConfigured answers a route whose secret is missing (see package doc).
func notConfigured(what, envVar string) *reqError {
	return fail(http.StatusServiceUnavailable, "%s webhook is not configured: %s is not set", what, envVar)
}

// readBody reads at most MaxBodyBytes; http.MaxBytesReader also stops the
// server reading the rest of an oversized body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *reqError) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fail(http.StatusRequestEntityTooLarge, "body larger than %d bytes", MaxBodyBytes)
		}
		return nil, fail(http.StatusBadRequest, "reading body: %v", err)
	}
	return b, nil
}

// intakeFailed maps an Intake error to the answer: 503 (retry) when the
// store is down or the commit timed out, 500 otherwise.
func intakeFailed(err error) *reqError {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &reqError{status: http.StatusServiceUnavailable, msg: "temporarily unavailable, retry later", detail: err.Error()}
	}
	return &reqError{status: http.StatusInternalServerError, msg: "internal error", detail: err.Error()}
}

// intakeTimeout bounds committing one message, which is not tied to the
// request (see committed).
const intakeTimeout = time.Minute

// committed returns the context to commit a message that was read in: the
// request's values without its cancellation. A STOP may wait for the
// recipient's lock as long as a send to them takes (up to 20 s), and
// Twilio hangs up after 15 s; rolled back with the request, the STOP would
// be lost, since Twilio retries an inbound webhook only through a fallback
// URL (whose redelivery the MessageSid then makes harmless).
func committed(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), intakeTimeout)
}

// commit runs an intake call in a gate slot, on the committed context.
func (s *server) commit(ctx context.Context, urgent bool, do func(context.Context) error) *reqError {
	release := s.gate.enter(ctx, urgent)
	if release == nil {
		return busy
	}
	defer release()
	cctx, cancel := committed(ctx)
	defer cancel()
	if err := do(cctx); err != nil {
		return intakeFailed(err)
	}
	return nil
}

func (s *server) deliver(ctx context.Context, m contract.Inbound) *reqError {
	if e := s.commit(ctx, s.intake.Urgent(m), func(ctx context.Context) error { return s.intake.Inbound(ctx, m) }); e != nil {
		return e
	}
	s.log.InfoContext(ctx, "inbound message accepted",
		"provider", m.Provider, "message_id", m.MessageID,
		"from", phone.Mask(m.From), "to", phone.Mask(m.To),
		"body_bytes", len(m.Body), "num_media", m.NumMedia, "type", m.Type, "opt_out_type", m.OptOutType)
	return nil
}

func writeJSONOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "{}")
}

// clean makes s valid UTF-8 without NUL bytes, which Postgres text rejects.
func clean(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// missing reports the first required field that is empty after trimming.
func missing(fields ...[2]string) error {
	for _, f := range fields {
		if strings.TrimSpace(f[1]) == "" {
			return fmt.Errorf("missing field %q", f[0])
		}
	}
	return nil
}

// decodeJSON unmarshals a JSON object into v with errors that name the
// offending field.
func decodeJSON(raw []byte, v any) error {
	err := json.Unmarshal(raw, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return fmt.Errorf("invalid JSON: want an object, got %s", te.Value)
		}
		return fmt.Errorf("invalid JSON: field %q must be a %s, not %s", te.Field, jsonKind(te), te.Value)
	}
	return fmt.Errorf("invalid JSON: %v", err)
}

func jsonKind(te *json.UnmarshalTypeError) string {
	if te.Type == nil {
		return "value"
	}
	return te.Type.Kind().String()
}

// parseTime parses an optional RFC 3339 timestamp, in UTC; "" gives now.
func parseTime(field, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return now, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid %s %.40q: want RFC 3339, e.g. 2026-01-02T15:04:05Z", field, v)
	}
	return t.UTC(), nil
}
