package sinch_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/sms"
	"github.com/stopline/stopline/internal/sms/sinch"
	"github.com/stopline/stopline/internal/sms/smstest"
)

const recipient = "+15005550006"

var plain = sms.Message{To: recipient, From: "+18005550100", Body: "Spring sale. Reply STOP to opt out."}

func newFake(t *testing.T) *smstest.FakeSinch {
	t.Helper()
	f := smstest.NewFakeSinch()
	t.Cleanup(f.Close)
	return f
}

func newSender(t *testing.T, f *smstest.FakeSinch, edit ...func(*sinch.Config)) *sinch.Sender {
	t.Helper()
	cfg := sinch.Config{ServicePlanID: smstest.SinchServicePlanID, APIToken: smstest.SinchAPIToken, APIURL: f.URL(), Timeout: 5 * time.Second}
	for _, e := range edit {
		e(&cfg)
	}
	s, err := sinch.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// smsError asserts that err is an *sms.Error from sinch that does not leak
// the recipient number, and returns it.
func smsError(t *testing.T, err error, to string) *sms.Error {
	t.Helper()
	var e *sms.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *sms.Error", err, err)
	}
	if e.Provider != "sinch" {
		t.Errorf("Provider = %q, want sinch", e.Provider)
	}
	for _, leak := range []string{to, strings.TrimPrefix(to, "+")} {
		if leak != "" && strings.Contains(err.Error(), leak) {
			t.Errorf("error text %q contains the recipient number", err.Error())
		}
	}
	return e
}

func TestNew(t *testing.T) {
	valid := sinch.Config{ServicePlanID: smstest.SinchServicePlanID, APIToken: smstest.SinchAPIToken}
	tests := []struct {
		name    string
		edit    func(*sinch.Config)
		wantErr string
	}{
		{"defaults", func(*sinch.Config) {}, ""},
		{"eu region", func(c *sinch.Config) { c.APIURL = "https://eu.sms.api.sinch.com" }, ""},
		{"missing plan", func(c *sinch.Config) { c.ServicePlanID = "" }, "ServicePlanID is required"},
		{"missing token", func(c *sinch.Config) { c.APIToken = "" }, "APIToken is required"},
		{"token with newline", func(c *sinch.Config) { c.APIToken = "secret\nX-Evil: 1" }, "printable ASCII"},
		{"relative url", func(c *sinch.Config) { c.APIURL = "us.sms.api.sinch.com" }, "absolute http or https"},
		{"query", func(c *sinch.Config) { c.APIURL = "https://us.sms.api.sinch.com/?a=b" }, "query"},
		{"negative timeout", func(c *sinch.Config) { c.Timeout = -1 }, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.edit(&cfg)
			s, err := sinch.New(cfg)
			if tt.wantErr == "" {
				if err != nil || s == nil {
					t.Fatalf("New = %v, %v; want a sender", s, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want it to mention %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q echoes the token", err)
			}
		})
	}
}

func TestSendSuccess(t *testing.T) {
	tests := []struct {
		name string
		msg  sms.Message
	}{
		{"from number", plain},
		{"service plan default sender", sms.Message{To: recipient, Body: "hi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			res, err := newSender(t, f).Send(t.Context(), tt.msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.MessageID == "" || res.Status != sinch.StatusAccepted {
				t.Errorf("Result = %+v, want a batch ID and status %q", res, sinch.StatusAccepted)
			}
			got := f.Accepted()
			if len(got) != 1 || got[0].SID != res.MessageID || got[0].To != tt.msg.To ||
				got[0].From != tt.msg.From || got[0].Body != tt.msg.Body {
				t.Errorf("fake accepted %+v, want %+v as batch %s", got, tt.msg, res.MessageID)
			}
		})
	}
}

func TestSendFailures(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(*smstest.FakeSinch)
		msg        sms.Message
		wantKind   sms.Kind
		wantCode   int
		wantStatus int
		wantText   string
	}{
		{
			name:     "opted out on toll-free",
			setup:    func(f *smstest.FakeSinch) { f.OptOut(recipient) },
			msg:      plain,
			wantKind: sms.OptedOut, wantCode: 257, wantStatus: 403, wantText: "opted out",
		},
		{
			name:     "opted out with numeric code",
			setup:    func(f *smstest.FakeSinch) { f.Fail(1, 400, `{"code":257,"text":"User opted out (STOP)"}`) },
			msg:      plain,
			wantKind: sms.OptedOut, wantCode: 257, wantStatus: 400,
		},
		{
			name:     "invalid recipient from the fake",
			msg:      sms.Message{To: "+1500abc5550006", From: plain.From, Body: "hi"},
			wantKind: sms.InvalidNumber, wantStatus: 400, wantText: "syntax_invalid_parameter_format",
		},
		{
			name: "invalid recipient echoing the number",
			setup: func(f *smstest.FakeSinch) {
				f.Fail(1, 400, `{"code":"syntax_invalid_parameter_format","text":"Invalid recipient '`+recipient+`'"}`)
			},
			msg:      plain,
			wantKind: sms.InvalidNumber, wantStatus: 400, wantText: "***0006",
		},
		{
			name: "illegal number type",
			setup: func(f *smstest.FakeSinch) {
				f.Fail(1, 403, `{"code":"illegal_number_type","text":"Illegal number type"}`)
			},
			msg:      plain,
			wantKind: sms.InvalidNumber, wantStatus: 403,
		},
		{
			name: "bad sender format stays permanent",
			setup: func(f *smstest.FakeSinch) {
				f.Fail(1, 400, `{"code":"syntax_invalid_parameter_format","text":"Invalid 'from' format"}`)
			},
			msg:      plain,
			wantKind: sms.Permanent, wantStatus: 400,
		},
		{
			name:     "rate limited",
			setup:    func(f *smstest.FakeSinch) { f.Fail(1, 429, `{"code":"too_many_requests","text":"slow down"}`) },
			msg:      plain,
			wantKind: sms.RateLimited, wantStatus: 429, wantText: "slow down",
		},
		{
			name:     "server error",
			setup:    func(f *smstest.FakeSinch) { f.Fail(1, 500, `{"code":"internal_error","text":"oops"}`) },
			msg:      plain,
			wantKind: sms.Temporary, wantStatus: 500,
		},
		{
			name:     "html bad gateway",
			setup:    func(f *smstest.FakeSinch) { f.Fail(1, 502, "<html><title>502 Bad Gateway</title></html>") },
			msg:      plain,
			wantKind: sms.Temporary, wantStatus: 502, wantText: "bad gateway",
		},
		{
			name:     "html forbidden",
			setup:    func(f *smstest.FakeSinch) { f.Fail(1, 403, "<html>Forbidden</html>") },
			msg:      plain,
			wantKind: sms.Permanent, wantStatus: 403,
		},
		{
			name: "nested error format",
			setup: func(f *smstest.FakeSinch) {
				f.Fail(1, 400, `{"error":{"code":400,"message":"bad field","status":"INVALID_ARGUMENT"}}`)
			},
			msg:      plain,
			wantKind: sms.Permanent, wantStatus: 400, wantText: "INVALID_ARGUMENT: bad field",
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
			_, err := newSender(t, f).Send(t.Context(), tt.msg)
			e := smsError(t, err, tt.msg.To)
			if e.Kind != tt.wantKind || e.Code != tt.wantCode || e.HTTPStatus != tt.wantStatus {
				t.Errorf("got kind %s code %d status %d, want %s %d %d (%v)",
					e.Kind, e.Code, e.HTTPStatus, tt.wantKind, tt.wantCode, tt.wantStatus, err)
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
		{429, `{"code":"too_many_requests","text":"Too many requests"}`, sms.RateLimited},
		{500, `{"code":"internal_error","text":"Internal error"}`, sms.Temporary},
		{503, "Service Unavailable", sms.Temporary},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			f := newFake(t)
			f.Fail(1, tt.status, tt.body)
			s := newSender(t, f)
			_, err := s.Send(t.Context(), plain)
			if e := smsError(t, err, plain.To); e.Kind != tt.wantKind || !e.Retryable() {
				t.Fatalf("first Send: %v, want retryable %s", err, tt.wantKind)
			}
			res, err := s.Send(t.Context(), plain)
			if err != nil {
				t.Fatalf("second Send: %v", err)
			}
			if got := f.Accepted(); len(got) != 1 || got[0].SID != res.MessageID || f.Calls() != 2 {
				t.Errorf("accepted %+v over %d calls, want just batch %s over 2", got, f.Calls(), res.MessageID)
			}
		})
	}
}

func TestSendAuthFailure(t *testing.T) {
	tests := []struct {
		name string
		edit func(*sinch.Config)
	}{
		{"wrong token", func(c *sinch.Config) { c.APIToken = "wrongtoken" }},
		{"wrong service plan", func(c *sinch.Config) { c.ServicePlanID = "11111111111111111111111111111111" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			_, err := newSender(t, f, tt.edit).Send(t.Context(), plain)
			if e := smsError(t, err, plain.To); e.Kind != sms.Permanent || e.HTTPStatus != 401 {
				t.Errorf("got %v, want permanent 401", err)
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
			s := newSender(t, f, func(c *sinch.Config) { c.Timeout = tt.timeout })
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
	f := smstest.NewFakeSinch()
	s := newSender(t, f)
	f.Close() // nothing listens there any more
	_, err := s.Send(t.Context(), plain)
	if e := smsError(t, err, plain.To); e.Kind != sms.Temporary || e.HTTPStatus != 0 || !e.NotSent {
		t.Errorf("got %v (not sent %v), want temporary with no HTTP status, not sent", err, e.NotSent)
	}
}
