package twilio_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/sms"
	"github.com/stopline/stopline/internal/sms/smstest"
	"github.com/stopline/stopline/internal/sms/twilio"
)

const (
	recipient = "+15005550006"
	sender    = "+15005550001"
	service   = "MG00000000000000000000000000000000"
)

var plain = sms.Message{To: recipient, From: sender, Body: "Spring sale: 20% off. Reply STOP to opt out."}

func newFake(t *testing.T) *smstest.FakeTwilio {
	t.Helper()
	f := smstest.NewFakeTwilio()
	t.Cleanup(f.Close)
	return f
}

func newSender(t *testing.T, f *smstest.FakeTwilio, edit ...func(*twilio.Config)) *twilio.Sender {
	t.Helper()
	cfg := twilio.Config{AccountSID: smstest.AccountSID, AuthToken: smstest.AuthToken, APIURL: f.URL(), Timeout: 5 * time.Second}
	for _, e := range edit {
		e(&cfg)
	}
	s, err := twilio.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// smsError asserts that err is an *sms.Error from twilio that does not
// leak the recipient number, and returns it.
func smsError(t *testing.T, err error, to string) *sms.Error {
	t.Helper()
	var e *sms.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *sms.Error", err, err)
	}
	if e.Provider != "twilio" {
		t.Errorf("Provider = %q, want twilio", e.Provider)
	}
	for _, leak := range []string{to, strings.TrimPrefix(to, "+")} {
		if leak != "" && strings.Contains(err.Error(), leak) {
			t.Errorf("error text %q contains the recipient number", err.Error())
		}
	}
	return e
}

func TestNew(t *testing.T) {
	valid := twilio.Config{AccountSID: smstest.AccountSID, AuthToken: smstest.AuthToken}
	tests := []struct {
		name    string
		edit    func(*twilio.Config)
		wantErr string // substring; "" means success
	}{
		{"defaults", func(*twilio.Config) {}, ""},
		{"explicit url and timeout", func(c *twilio.Config) { c.APIURL = "http://127.0.0.1:1/gw"; c.Timeout = time.Second }, ""},
		{"missing sid", func(c *twilio.Config) { c.AccountSID = "" }, "AccountSID is required"},
		{"sid with symbols", func(c *twilio.Config) { c.AccountSID = "AC-0000" }, "AccountSID must be alphanumeric"},
		{"missing token", func(c *twilio.Config) { c.AuthToken = "" }, "AuthToken is required"},
		{"token with symbols", func(c *twilio.Config) { c.AuthToken = "secret/Token" }, "AuthToken must be alphanumeric"},
		{"relative url", func(c *twilio.Config) { c.APIURL = "/2010-04-01" }, "absolute http or https"},
		{"ftp url", func(c *twilio.Config) { c.APIURL = "ftp://api.twilio.com" }, "absolute http or https"},
		{"no host", func(c *twilio.Config) { c.APIURL = "https://" }, "no host"},
		{"query", func(c *twilio.Config) { c.APIURL = "https://api.twilio.com?x=1" }, "query"},
		{"unparseable url", func(c *twilio.Config) { c.APIURL = "http://[::1" }, "APIURL"},
		{"negative timeout", func(c *twilio.Config) { c.Timeout = -time.Second }, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.edit(&cfg)
			s, err := twilio.New(cfg)
			if tt.wantErr == "" {
				if err != nil || s == nil {
					t.Fatalf("New = %v, %v; want a sender", s, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want it to mention %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "secret/Token") {
				t.Errorf("error %q echoes the auth token", err)
			}
		})
	}
}

func TestSendSuccess(t *testing.T) {
	tests := []struct {
		name       string
		msg        sms.Message
		wantStatus string
	}{
		{"from number", plain, "queued"},
		{"messaging service", sms.Message{To: recipient, MessagingServiceSID: service, Body: "hi"}, "accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			res, err := newSender(t, f).Send(t.Context(), tt.msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if !strings.HasPrefix(res.MessageID, "SM") || len(res.MessageID) != 34 {
				t.Errorf("MessageID = %q, want SM + 32 hex", res.MessageID)
			}
			if res.Status != tt.wantStatus {
				t.Errorf("Status = %q, want %q", res.Status, tt.wantStatus)
			}
			got := f.Accepted()
			if len(got) != 1 {
				t.Fatalf("fake accepted %d messages, want 1", len(got))
			}
			a := got[0]
			if a.SID != res.MessageID || a.To != tt.msg.To || a.From != tt.msg.From ||
				a.MessagingServiceSID != tt.msg.MessagingServiceSID || a.Body != tt.msg.Body {
				t.Errorf("fake accepted %+v, want %+v with SID %s", a, tt.msg, res.MessageID)
			}
		})
	}
}

func TestSendFailures(t *testing.T) {
	twilioErr := func(status, code int, msg string) string {
		return fmt.Sprintf(`{"code":%d,"message":%q,"more_info":"https://www.twilio.com/docs/errors/%d","status":%d}`, code, msg, code, status)
	}
	tests := []struct {
		name       string
		setup      func(*smstest.FakeTwilio)
		msg        sms.Message
		wantKind   sms.Kind
		wantCode   int
		wantStatus int
		wantText   string // substring of the error text
	}{
		{
			name:     "opted out at twilio",
			setup:    func(f *smstest.FakeTwilio) { f.OptOut(recipient) },
			msg:      plain,
			wantKind: sms.OptedOut, wantCode: 21610, wantStatus: 400, wantText: "unsubscribed recipient",
		},
		{
			name:     "invalid to rejected by the fake",
			msg:      sms.Message{To: "+1500555abcd", From: sender, Body: "hi"},
			wantKind: sms.InvalidNumber, wantCode: 21211, wantStatus: 400, wantText: "not a valid phone number",
		},
		{
			name: "invalid to echoing the number",
			setup: func(f *smstest.FakeTwilio) {
				f.Fail(1, 400, twilioErr(400, 21211, "The 'To' number "+recipient+" is not a valid phone number."))
			},
			msg:      plain,
			wantKind: sms.InvalidNumber, wantCode: 21211, wantStatus: 400, wantText: "***0006",
		},
		{
			name: "invalid to echoed without plus",
			setup: func(f *smstest.FakeTwilio) {
				f.Fail(1, 400, twilioErr(400, 21614, "'To' number 15005550006 is not a valid mobile number"))
			},
			msg:      plain,
			wantKind: sms.InvalidNumber, wantCode: 21614, wantStatus: 400, wantText: "not a valid mobile number",
		},
		{
			name:     "landline",
			setup:    func(f *smstest.FakeTwilio) { f.Fail(1, 400, twilioErr(400, 21635, "'To' number cannot be a landline")) },
			msg:      plain,
			wantKind: sms.InvalidNumber, wantCode: 21635, wantStatus: 400,
		},
		{
			name:     "rate limited by code",
			setup:    func(f *smstest.FakeTwilio) { f.Fail(1, 429, twilioErr(429, 20429, "Too Many Requests")) },
			msg:      plain,
			wantKind: sms.RateLimited, wantCode: 20429, wantStatus: 429,
		},
		{
			name:     "rate limited by status, text body",
			setup:    func(f *smstest.FakeTwilio) { f.Fail(1, 429, "slow down") },
			msg:      plain,
			wantKind: sms.RateLimited, wantStatus: 429, wantText: "slow down",
		},
		{
			name:     "server error json",
			setup:    func(f *smstest.FakeTwilio) { f.Fail(1, 500, twilioErr(500, 20500, "Internal Server Error")) },
			msg:      plain,
			wantKind: sms.Temporary, wantCode: 20500, wantStatus: 500,
		},
		{
			name: "html bad gateway",
			setup: func(f *smstest.FakeTwilio) {
				f.Fail(1, 502, "<html><head><title>502 Bad Gateway</title></head>\n<body><h1>Bad Gateway</h1></body></html>")
			},
			msg:      plain,
			wantKind: sms.Temporary, wantStatus: 502, wantText: "bad gateway",
		},
		{
			name:     "empty service unavailable",
			setup:    func(f *smstest.FakeTwilio) { f.Fail(1, 503, "") },
			msg:      plain,
			wantKind: sms.Temporary, wantStatus: 503,
		},
		{
			name:     "html not found",
			setup:    func(f *smstest.FakeTwilio) { f.Fail(1, 404, "<html>Not Found</html>") },
			msg:      plain,
			wantKind: sms.Permanent, wantStatus: 404,
		},
		{
			name: "other 4xx code",
			setup: func(f *smstest.FakeTwilio) {
				f.Fail(1, 400, twilioErr(400, 21606, "The From phone number is not a valid, SMS-capable number"))
			},
			msg:      plain,
			wantKind: sms.Permanent, wantCode: 21606, wantStatus: 400,
		},
		{
			name: "geo permission is an account problem",
			setup: func(f *smstest.FakeTwilio) {
				f.Fail(1, 400, twilioErr(400, 21408, "Permission to send an SMS has not been enabled"))
			},
			msg:      plain,
			wantKind: sms.Permanent, wantCode: 21408, wantStatus: 400,
		},
		{
			name:     "redirect is not followed",
			setup:    func(f *smstest.FakeTwilio) { f.Fail(1, 302, "") },
			msg:      plain,
			wantKind: sms.Permanent, wantStatus: 302,
		},
		{
			name:     "redirect with a json body is not success",
			setup:    func(f *smstest.FakeTwilio) { f.Fail(1, 301, `{"sid":"SM1"}`) },
			msg:      plain,
			wantKind: sms.Permanent, wantStatus: 301,
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

func TestSendInvalidMessage(t *testing.T) {
	tests := []struct {
		name string
		msg  sms.Message
	}{
		{"no to", sms.Message{From: sender, Body: "hi"}},
		{"no sender", sms.Message{To: recipient, Body: "hi"}},
		{"both senders", sms.Message{To: recipient, From: sender, MessagingServiceSID: service, Body: "hi"}},
		{"no body", sms.Message{To: recipient, From: sender}},
	}
	f := newFake(t)
	s := newSender(t, f)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Send(t.Context(), tt.msg)
			if e := smsError(t, err, tt.msg.To); e.Kind != sms.Permanent || e.HTTPStatus != 0 {
				t.Errorf("got %v, want a permanent error before any request", err)
			}
		})
	}
	if n := f.Calls(); n != 0 {
		t.Errorf("fake got %d calls for invalid messages, want 0", n)
	}
}

// A retryable failure followed by a retry: the first Send fails with the
// right kind, the second goes through.
func TestSendRetryAfterTransientFailure(t *testing.T) {
	tests := []struct {
		status   int
		body     string
		wantKind sms.Kind
	}{
		{429, `{"code":20429,"message":"Too Many Requests","status":429}`, sms.RateLimited},
		{500, `{"code":20500,"message":"Internal Server Error","status":500}`, sms.Temporary},
		{503, "<html><body>Service Unavailable</body></html>", sms.Temporary},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			f := newFake(t)
			f.Fail(1, tt.status, tt.body)
			s := newSender(t, f)

			_, err := s.Send(t.Context(), plain)
			e := smsError(t, err, plain.To)
			if e.Kind != tt.wantKind || !e.Retryable() {
				t.Fatalf("first Send: kind %s retryable %v, want retryable %s", e.Kind, e.Retryable(), tt.wantKind)
			}
			res, err := s.Send(t.Context(), plain)
			if err != nil {
				t.Fatalf("second Send: %v", err)
			}
			if got := f.Accepted(); len(got) != 1 || got[0].SID != res.MessageID {
				t.Errorf("accepted %+v, want exactly the retried message %s", got, res.MessageID)
			}
			if n := f.Calls(); n != 2 {
				t.Errorf("Calls = %d, want 2", n)
			}
		})
	}
}

func TestSendAuthFailure(t *testing.T) {
	f := newFake(t)
	s := newSender(t, f, func(c *twilio.Config) { c.AuthToken = "wrongtoken" })
	_, err := s.Send(t.Context(), plain)
	e := smsError(t, err, plain.To)
	if e.Kind != sms.Permanent || e.Code != 20003 || e.HTTPStatus != 401 {
		t.Errorf("got %v, want permanent 20003 at 401", err)
	}
}

func TestSendTimeoutAndCancellation(t *testing.T) {
	tests := []struct {
		name     string
		timeout  time.Duration // Config.Timeout
		ctx      func(t *testing.T) context.Context
		wantText string
	}{
		{
			name:     "config timeout",
			timeout:  150 * time.Millisecond,
			ctx:      func(t *testing.T) context.Context { return t.Context() },
			wantText: "timed out",
		},
		{
			name:    "caller deadline",
			timeout: 10 * time.Second,
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			wantText: "timed out",
		},
		{
			name:    "caller cancels",
			timeout: 10 * time.Second,
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				time.AfterFunc(150*time.Millisecond, cancel)
				t.Cleanup(cancel)
				return ctx
			},
			wantText: "canceled",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.SetDelay(10 * time.Second)
			s := newSender(t, f, func(c *twilio.Config) { c.Timeout = tt.timeout })

			start := time.Now()
			_, err := s.Send(tt.ctx(t), plain)
			elapsed := time.Since(start)

			e := smsError(t, err, plain.To)
			if e.Kind != sms.Temporary || e.HTTPStatus != 0 || e.NotSent {
				t.Errorf("got %v (not sent %v), want temporary with no HTTP status, maybe sent", err, e.NotSent)
			}
			if !strings.Contains(e.Message, tt.wantText) {
				t.Errorf("Message %q does not mention %q", e.Message, tt.wantText)
			}
			if elapsed > 2*time.Second {
				t.Errorf("Send returned after %s, want promptly after ~150ms", elapsed)
			}
		})
	}
}

func TestSendConnectionRefused(t *testing.T) {
	f := smstest.NewFakeTwilio()
	url := f.URL()
	f.Close() // nothing listens there any more
	s, err := twilio.New(twilio.Config{AccountSID: smstest.AccountSID, AuthToken: smstest.AuthToken, APIURL: url})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(t.Context(), plain)
	// Refused: the request never left, so a retry may send it again.
	if e := smsError(t, err, plain.To); e.Kind != sms.Temporary || e.HTTPStatus != 0 || !e.NotSent {
		t.Errorf("got %v (not sent %v), want temporary with no HTTP status, not sent", err, e.NotSent)
	}
}

func TestSendConcurrent(t *testing.T) {
	f := newFake(t)
	s := newSender(t, f)
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			m := plain
			m.To = fmt.Sprintf("+1500555%04d", i)
			if _, err := s.Send(t.Context(), m); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Send: %v", err)
	}
	sids := map[string]bool{}
	for _, a := range f.Accepted() {
		sids[a.SID] = true
	}
	if len(sids) != n || f.Calls() != n {
		t.Errorf("%d distinct SIDs over %d calls, want %d of each", len(sids), f.Calls(), n)
	}
}

func TestFind(t *testing.T) {
	f := newFake(t)
	s := newSender(t, f)

	// since is taken just before sending, with sub-second precision, while
	// Twilio's date_created has whole seconds: Find must still see it.
	since := time.Now()
	sent, err := s.Send(t.Context(), plain)
	if err != nil {
		t.Fatal(err)
	}
	viaService := sms.Message{To: recipient, MessagingServiceSID: service, Body: "service message"}
	sentViaService, err := s.Send(t.Context(), viaService)
	if err != nil {
		t.Fatal(err)
	}

	with := func(edit func(*sms.Message)) sms.Message {
		m := plain
		edit(&m)
		return m
	}
	tests := []struct {
		name      string
		msg       sms.Message
		since     time.Time
		wantFound bool
		wantSID   string
	}{
		{"same message", plain, since, true, sent.MessageID},
		{"different body", with(func(m *sms.Message) { m.Body += "!" }), since, false, ""},
		{"different sender", with(func(m *sms.Message) { m.From = "+15005550002" }), since, false, ""},
		{"different recipient", with(func(m *sms.Message) { m.To = "+15005550009" }), since, false, ""},
		{"sent before since", plain, time.Now().Add(2 * time.Second), false, ""},
		{"messaging service", viaService, since, true, sentViaService.MessageID},
		{"other messaging service", sms.Message{To: recipient, MessagingServiceSID: "MG11111111111111111111111111111111", Body: viaService.Body}, since, false, ""},
		{"service body sent from a number", sms.Message{To: recipient, MessagingServiceSID: service, Body: plain.Body}, since, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, found, err := s.Find(t.Context(), tt.msg, tt.since, nil)
			if err != nil {
				t.Fatalf("Find: %v", err)
			}
			if found != tt.wantFound || res.MessageID != tt.wantSID {
				t.Errorf("Find = %+v, %v; want found %v with SID %q", res, found, tt.wantFound, tt.wantSID)
			}
		})
	}
}

// The message sought is older than a full page of newer messages to the
// same recipient: Find must page.
func TestFindPages(t *testing.T) {
	f := newFake(t)
	s := newSender(t, f)
	since := time.Now().Add(-time.Second)
	target, err := s.Send(t.Context(), plain)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 120 {
		m := plain
		m.Body = fmt.Sprintf("later message %d", i)
		if _, err := s.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	res, found, err := s.Find(t.Context(), plain, since, nil)
	if err != nil || !found || res.MessageID != target.MessageID {
		t.Errorf("Find = %+v, %v, %v; want %s", res, found, err, target.MessageID)
	}
}

func TestFindErrors(t *testing.T) {
	f := newFake(t)
	s := newSender(t, f, func(c *twilio.Config) { c.AuthToken = "wrongtoken" })
	_, found, err := s.Find(t.Context(), plain, time.Now().Add(-time.Minute), nil)
	e := smsError(t, err, plain.To)
	if found || e.Kind != sms.Permanent || e.HTTPStatus != 401 {
		t.Errorf("Find = %v, %v; want not found and a permanent 401", found, err)
	}

	// A failed list must not leak the number either, although the list URL
	// carries it in the query string and *url.Error quotes the URL.
	dead := smstest.NewFakeTwilio()
	url := dead.URL()
	dead.Close()
	s2, err := twilio.New(twilio.Config{AccountSID: smstest.AccountSID, AuthToken: smstest.AuthToken, APIURL: url})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s2.Find(t.Context(), plain, time.Now(), nil)
	if e := smsError(t, err, plain.To); e.Kind != sms.Temporary {
		t.Errorf("Find on a dead server: %v, want temporary", err)
	}
}
