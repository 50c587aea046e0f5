package httpchannel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/sms"
	"github.com/stopline/stopline/internal/sms/httpchannel"
	"github.com/stopline/stopline/internal/sms/smstest"
)

const recipient = "+15005550006"

var plain = sms.Message{To: recipient, From: "+15005550001", Body: "Spring sale. Reply STOP to opt out."}

func newFake(t *testing.T) *smstest.FakeHTTPChannel {
	t.Helper()
	f := smstest.NewFakeHTTPChannel()
	t.Cleanup(f.Close)
	return f
}

func newSender(t *testing.T, url string, edit ...func(*httpchannel.Config)) *httpchannel.Sender {
	t.Helper()
	cfg := httpchannel.Config{URL: url, Secret: smstest.HTTPChannelSecret, Timeout: 5 * time.Second}
	for _, e := range edit {
		e(&cfg)
	}
	s, err := httpchannel.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func smsError(t *testing.T, err error, to string) *sms.Error {
	t.Helper()
	var e *sms.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *sms.Error", err, err)
	}
	if e.Provider != "http" {
		t.Errorf("Provider = %q, want http", e.Provider)
	}
	for _, leak := range []string{to, strings.TrimPrefix(to, "+")} {
		if leak != "" && strings.Contains(err.Error(), leak) {
			t.Errorf("error text %q contains the recipient number", err.Error())
		}
	}
	return e
}

func TestSignAndVerify(t *testing.T) {
	body := []byte(`{"to":"+15005550006","from":"+15005550001","body":"hi"}`)
	got := httpchannel.Sign("testsecret", body)
	if !strings.HasPrefix(got, "sha256=") || len(got) != len("sha256=")+64 {
		t.Fatalf("Sign = %q, want sha256= and 64 hex digits", got)
	}

	tests := []struct {
		name   string
		secret string
		body   []byte
		sig    string
		want   bool
	}{
		{"matching", "testsecret", body, got, true},
		{"other secret", "othersecret", body, got, false},
		{"tampered body", "testsecret", append([]byte(nil), append(body, ' ')...), got, false},
		{"missing prefix", "testsecret", body, strings.TrimPrefix(got, "sha256="), false},
		{"uppercase hex", "testsecret", body, "sha256=" + strings.ToUpper(strings.TrimPrefix(got, "sha256=")), false},
		{"empty signature", "testsecret", body, "", false},
		{"empty secret", "", body, httpchannel.Sign("", body), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := httpchannel.Verify(tt.secret, tt.body, tt.sig); v != tt.want {
				t.Errorf("Verify = %v, want %v", v, tt.want)
			}
		})
	}
}

// RFC 4231 test case 2: HMAC-SHA256 with key "Jefe".
func TestSignKnownVector(t *testing.T) {
	got := httpchannel.Sign("Jefe", []byte("what do ya want for nothing?"))
	const want = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     httpchannel.Config
		wantErr string
	}{
		{"ok", httpchannel.Config{URL: "https://gw.example.com/sms", Secret: "s"}, ""},
		{"missing url", httpchannel.Config{Secret: "s"}, "URL is required"},
		{"relative url", httpchannel.Config{URL: "/sms", Secret: "s"}, "absolute http or https"},
		{"bad scheme", httpchannel.Config{URL: "ftp://gw.example.com", Secret: "s"}, "absolute http or https"},
		{"missing secret", httpchannel.Config{URL: "https://gw.example.com"}, "Secret is required"},
		{"negative timeout", httpchannel.Config{URL: "https://gw.example.com", Secret: "s", Timeout: -1}, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := httpchannel.New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestSendSuccess(t *testing.T) {
	f := newFake(t)
	res, err := newSender(t, f.URL()+"/outbound").Send(t.Context(), plain)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := f.Accepted()
	if len(got) != 1 || got[0].SID != res.MessageID || got[0].To != plain.To || got[0].From != plain.From || got[0].Body != plain.Body {
		t.Errorf("accepted %+v, want %+v as %s", got, plain, res.MessageID)
	}
	if !strings.HasPrefix(res.MessageID, "msg_") || res.Status != "accepted" {
		t.Errorf("Result = %+v", res)
	}
}

// The wire format is the contract with other implementations: check it
// byte for byte, signature included.
func TestSendWireFormat(t *testing.T) {
	var gotBody []byte
	var gotHeader http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotBody, _ = io.ReadAll(r.Body)
		gotHeader = r.Header.Clone()
		w.WriteHeader(http.StatusOK) // no body: accepted, ID unknown
	}))
	defer srv.Close()

	res, err := newSender(t, srv.URL).Send(t.Context(), plain)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.MessageID != "" || res.Status != httpchannel.StatusAccepted {
		t.Errorf("Result = %+v, want no ID and status accepted", res)
	}
	var req map[string]string
	if err := json.Unmarshal(gotBody, &req); err != nil {
		t.Fatalf("body %s: %v", gotBody, err)
	}
	if want := map[string]string{"to": plain.To, "from": plain.From, "body": plain.Body}; fmt.Sprint(req) != fmt.Sprint(want) {
		t.Errorf("body = %v, want %v", req, want)
	}
	if sig := gotHeader.Get(httpchannel.SignatureHeader); sig != httpchannel.Sign(smstest.HTTPChannelSecret, gotBody) {
		t.Errorf("signature %q does not sign the body", sig)
	}
	if ct := gotHeader.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestSendFailures(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(*smstest.FakeHTTPChannel)
		msg        sms.Message
		secret     string
		wantKind   sms.Kind
		wantStatus int
		wantText   string
	}{
		{
			name:     "opted out",
			setup:    func(f *smstest.FakeHTTPChannel) { f.OptOut(recipient) },
			msg:      plain,
			wantKind: sms.OptedOut, wantStatus: 403, wantText: "opted_out",
		},
		{
			name: "invalid number echoing it",
			setup: func(f *smstest.FakeHTTPChannel) {
				f.Fail(1, 422, `{"code":"invalid_number","message":"cannot send to `+recipient+`"}`)
			},
			msg:      plain,
			wantKind: sms.InvalidNumber, wantStatus: 422, wantText: "***0006",
		},
		{
			name:     "invalid number with letters",
			msg:      sms.Message{To: "+1500abc", From: plain.From, Body: "hi"},
			wantKind: sms.InvalidNumber, wantStatus: 422,
		},
		{
			name:     "code wins over status",
			setup:    func(f *smstest.FakeHTTPChannel) { f.Fail(1, 500, `{"code":"opted_out","message":"blocked"}`) },
			msg:      plain,
			wantKind: sms.OptedOut, wantStatus: 500,
		},
		{
			name:     "rate limited code",
			setup:    func(f *smstest.FakeHTTPChannel) { f.Fail(1, 400, `{"code":"rate_limited","message":"later"}`) },
			msg:      plain,
			wantKind: sms.RateLimited, wantStatus: 400,
		},
		{
			name:     "unknown code falls back to status",
			setup:    func(f *smstest.FakeHTTPChannel) { f.Fail(1, 503, `{"code":"maintenance","message":"back soon"}`) },
			msg:      plain,
			wantKind: sms.Temporary, wantStatus: 503, wantText: "maintenance: back soon",
		},
		{
			name:     "html bad gateway",
			setup:    func(f *smstest.FakeHTTPChannel) { f.Fail(1, 502, "<html>502 Bad Gateway</html>") },
			msg:      plain,
			wantKind: sms.Temporary, wantStatus: 502, wantText: "bad gateway",
		},
		{
			name:     "plain 429",
			setup:    func(f *smstest.FakeHTTPChannel) { f.Fail(1, 429, "Too Many Requests") },
			msg:      plain,
			wantKind: sms.RateLimited, wantStatus: 429,
		},
		{
			name:     "bad signature",
			msg:      plain,
			secret:   "wrongsecret",
			wantKind: sms.Permanent, wantStatus: 401, wantText: "bad signature",
		},
		{
			name:     "messaging service sid is twilio-only",
			msg:      sms.Message{To: recipient, MessagingServiceSID: "MG0", Body: "hi"},
			wantKind: sms.Permanent, wantText: "Twilio-only",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			s := newSender(t, f.URL(), func(c *httpchannel.Config) {
				if tt.secret != "" {
					c.Secret = tt.secret
				}
			})
			_, err := s.Send(t.Context(), tt.msg)
			e := smsError(t, err, tt.msg.To)
			if e.Kind != tt.wantKind || e.HTTPStatus != tt.wantStatus {
				t.Errorf("got kind %s status %d, want %s %d (%v)", e.Kind, e.HTTPStatus, tt.wantKind, tt.wantStatus, err)
			}
			if !strings.Contains(e.Message, tt.wantText) {
				t.Errorf("Message %q does not contain %q", e.Message, tt.wantText)
			}
			if n := len(f.Accepted()); n != 0 {
				t.Errorf("fake accepted %d messages after a failure", n)
			}
		})
	}
}

func TestSendRetryAfterTransientFailure(t *testing.T) {
	tests := []struct {
		status   int
		body     string
		wantKind sms.Kind
	}{
		{429, `{"code":"rate_limited","message":"slow down"}`, sms.RateLimited},
		{500, `{"code":"temporary","message":"db down"}`, sms.Temporary},
		{502, "<html>Bad Gateway</html>", sms.Temporary},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			f := newFake(t)
			f.Fail(1, tt.status, tt.body)
			s := newSender(t, f.URL())
			_, err := s.Send(t.Context(), plain)
			if e := smsError(t, err, plain.To); e.Kind != tt.wantKind || !e.Retryable() {
				t.Fatalf("first Send: %v, want retryable %s", err, tt.wantKind)
			}
			res, err := s.Send(t.Context(), plain)
			if err != nil {
				t.Fatalf("second Send: %v", err)
			}
			if got := f.Accepted(); len(got) != 1 || got[0].SID != res.MessageID || f.Calls() != 2 {
				t.Errorf("accepted %+v over %d calls, want just %s over 2", got, f.Calls(), res.MessageID)
			}
		})
	}
}

func TestSendTimeoutAndCancellation(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		ctx     func(t *testing.T) context.Context
	}{
		{"config timeout", 150 * time.Millisecond, func(t *testing.T) context.Context { return t.Context() }},
		{"caller cancels", 10 * time.Second, func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(150*time.Millisecond, cancel)
			t.Cleanup(cancel)
			return ctx
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.SetDelay(10 * time.Second)
			s := newSender(t, f.URL(), func(c *httpchannel.Config) { c.Timeout = tt.timeout })
			start := time.Now()
			_, err := s.Send(tt.ctx(t), plain)
			if e := smsError(t, err, plain.To); e.Kind != sms.Temporary || e.HTTPStatus != 0 {
				t.Errorf("got %v, want temporary with no HTTP status", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Send returned after %s, want promptly", d)
			}
		})
	}
}

// Refused: the request never left, so a retry may send it again.
func TestSendConnectionRefused(t *testing.T) {
	f := smstest.NewFakeHTTPChannel()
	url := f.URL()
	f.Close() // nothing listens there any more
	_, err := newSender(t, url).Send(t.Context(), plain)
	if e := smsError(t, err, plain.To); e.Kind != sms.Temporary || e.HTTPStatus != 0 || !e.NotSent {
		t.Errorf("got %v (not sent %v), want temporary with no HTTP status, not sent", err, e.NotSent)
	}
}
