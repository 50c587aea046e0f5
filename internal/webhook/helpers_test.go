package webhook

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/sms/smstest"
	"github.com/stopline/stopline/workflows/contract"
)

// Obviously fake credentials.
const (
	twilioToken   = "0123456789abcdef0123456789abcdef"
	sinchSecret   = "sinch-test-secret"
	inboundSecret = "inbound-test-secret"
	publicBase    = "https://sms.example.com"
)

var (
	testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	discard = slog.New(slog.NewTextHandler(io.Discard, nil))
)

// fakeIntake records every call and answers err.
type fakeIntake struct {
	mu      sync.Mutex
	inbound []contract.Inbound
	status  []StatusEvent
	err     error
}

func (f *fakeIntake) Inbound(_ context.Context, m contract.Inbound) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inbound = append(f.inbound, m)
	return f.err
}

func (f *fakeIntake) Status(_ context.Context, e StatusEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = append(f.status, e)
	return f.err
}

// Urgent treats a bare STOP, START or HELP as a keyword.
func (f *fakeIntake) Urgent(m contract.Inbound) bool {
	switch strings.ToUpper(strings.TrimSpace(m.Body)) {
	case "STOP", "START", "HELP":
		return true
	}
	return false
}

func (f *fakeIntake) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeIntake) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inbound, f.status, f.err = nil, nil, nil
}

func (f *fakeIntake) calls() ([]contract.Inbound, []StatusEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]contract.Inbound(nil), f.inbound...), append([]StatusEvent(nil), f.status...)
}

// newHandler builds the handler with a fixed clock and, unless cfg has one,
// a logger that discards.
func newHandler(t testing.TB, cfg Config, in Intake) http.Handler {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	if cfg.Logger == nil {
		cfg.Logger = discard
	}
	h, err := New(cfg, in)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func post(target, body string, header map[string]string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	for k, v := range header {
		r.Header.Set(k, v)
	}
	return r
}

// signTwilio signs a raw form body as Twilio would for fullURL.
func signTwilio(t testing.TB, token, fullURL, body string) string {
	t.Helper()
	form, err := url.ParseQuery(body)
	if err != nil {
		t.Fatalf("fixture is not a form: %v", err)
	}
	return smstest.TwilioSignature(token, fullURL, form)
}

// sinchHeaders signs body as Sinch would at time at with nonce.
func sinchHeaders(secret, body, nonce string, at time.Time) map[string]string {
	ts := strconv.FormatInt(at.Unix(), 10)
	return map[string]string{
		"Content-Type":                        "application/json",
		"x-sinch-webhook-signature":           SignSinch(secret, []byte(body), nonce, ts),
		"x-sinch-webhook-signature-timestamp": ts,
		"x-sinch-webhook-signature-nonce":     nonce,
		"x-sinch-webhook-signature-algorithm": "HmacSHA256",
	}
}

// form edits a raw form fixture in place, keeping field order: each
// key/value pair replaces the key's field (value already encoded), or is
// appended; a "-" value removes the field.
func form(raw string, kv ...string) string {
	fields := strings.Split(raw, "&")
	for i := 0; i+1 < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		found := false
		for j, f := range fields {
			if name, _, _ := strings.Cut(f, "="); name == k {
				fields[j], found = k+"="+v, true
				if v == "-" {
					fields = append(fields[:j], fields[j+1:]...)
				}
				break
			}
		}
		if !found && v != "-" {
			fields = append(fields, k+"="+v)
		}
	}
	return strings.Join(fields, "&")
}

// checkInbound compares everything, ReceivedAt by instant.
func checkInbound(t *testing.T, got, want contract.Inbound) {
	t.Helper()
	if !got.ReceivedAt.Equal(want.ReceivedAt) {
		t.Errorf("ReceivedAt = %v, want %v", got.ReceivedAt, want.ReceivedAt)
	}
	got.ReceivedAt, want.ReceivedAt = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("contract.Inbound =\n  %+v\nwant\n  %+v", got, want)
	}
}

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// checkAnswer checks a handler's status code and, if wantErr is set, that
// the body names the problem.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, wantCode int, wantErr string) {
	t.Helper()
	if w.Code != wantCode {
		t.Fatalf("status = %d, want %d; body %q", w.Code, wantCode, w.Body.String())
	}
	if wantErr != "" && !strings.Contains(w.Body.String(), wantErr) {
		t.Errorf("body = %q, want it to contain %q", w.Body.String(), wantErr)
	}
}
