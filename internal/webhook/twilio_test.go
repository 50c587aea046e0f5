package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stopline/stopline/workflows/contract"
)

// Twilio inbound fixtures, shaped like real webhooks (field order and the
// legacy Sms* duplicates included).
const (
	twilioStop = "ToCountry=US&ToState=CA&SmsMessageSid=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9&NumMedia=0&ToCity=&FromZip=94105" +
		"&SmsSid=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9&FromState=CA&SmsStatus=received&FromCity=SAN+FRANCISCO&Body=STOP" +
		"&FromCountry=US&To=%2B15005550006&MessagingServiceSid=MG00000000000000000000000000000000&ToZip=&NumSegments=1" +
		"&ReferralNumMedia=0&MessageSid=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9&AccountSid=AC00000000000000000000000000000000" +
		"&From=%2B14155550123&ApiVersion=2010-04-01&OptOutType=STOP"
	twilioMMS = "ToCountry=US&MediaContentType0=image%2Fjpeg&ToState=CA&SmsMessageSid=MM11111111111111111111111111111111" +
		"&NumMedia=2&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC00000000000000000000000000000000%2FMessages%2FMM1%2FMedia%2FME1" +
		"&MediaContentType1=image%2Fpng&MediaUrl1=https%3A%2F%2Fapi.twilio.com%2Fmedia%2FME2&SmsSid=MM11111111111111111111111111111111" +
		"&SmsStatus=received&Body=&FromCountry=GB&To=%2B15005550006&NumSegments=1&MessageSid=MM11111111111111111111111111111111" +
		"&AccountSid=AC00000000000000000000000000000000&From=%2B447700900123&ApiVersion=2010-04-01"
	twilioDelivered = "SmsSid=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9&SmsStatus=delivered&MessageStatus=delivered&To=%2B14155550123" +
		"&MessagingServiceSid=MG00000000000000000000000000000000&MessageSid=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9" +
		"&AccountSid=AC00000000000000000000000000000000&From=%2B15005550006&ApiVersion=2010-04-01&RawDlrDoneDate=2603011200"
	twilioOptedOut = "ErrorCode=21610&SmsSid=SM99999999999999999999999999999999&SmsStatus=undelivered&MessageStatus=undelivered" +
		"&To=%2B14155550123&MessageSid=SM99999999999999999999999999999999&AccountSid=AC00000000000000000000000000000000" +
		"&From=%2B15005550006&ApiVersion=2010-04-01"
)

const (
	twilioURL       = publicBase + PathTwilio
	twilioStatusURL = publicBase + PathTwilioStatus
)

var stopInbound = contract.Inbound{
	Provider:            "twilio",
	MessageID:           "SM0a1b2c3d4e5f60718293a4b5c6d7e8f9",
	From:                "+14155550123",
	To:                  "+15005550006",
	Body:                "STOP",
	OptOutType:          "STOP",
	MessagingServiceSID: "MG00000000000000000000000000000000",
	ReceivedAt:          testNow,
}

func with(m contract.Inbound, edit func(*contract.Inbound)) *contract.Inbound {
	edit(&m)
	return &m
}

func TestTwilioInbound(t *testing.T) {
	tests := []struct {
		name      string
		cfg       func(*Config) // applied to a config with PublicURL and the token
		target    string        // request URL; default twilioURL
		body      string
		signFor   string // URL the signature was made for; "" = no signature
		signToken string // default twilioToken
		header    map[string]string
		intakeErr error
		wantCode  int
		wantErr   string            // in the error body
		want      *contract.Inbound // what the intake got, for 200
	}{
		{name: "advanced opt-out STOP with extra fields", body: twilioStop, signFor: twilioURL,
			wantCode: 200, want: &stopInbound},
		{name: "START lower case", body: form(twilioStop, "Body", "start", "OptOutType", "start"), signFor: twilioURL,
			wantCode: 200, want: with(stopInbound, func(m *contract.Inbound) { m.Body, m.OptOutType = "start", "START" })},
		{name: "HELP", body: form(twilioStop, "Body", "help", "OptOutType", "HELP"), signFor: twilioURL,
			wantCode: 200, want: with(stopInbound, func(m *contract.Inbound) { m.Body, m.OptOutType = "help", "HELP" })},
		{name: "no Advanced Opt-Out", body: form(twilioStop, "Body", "Stop.+Thank+you", "OptOutType", "-", "MessagingServiceSid", "-"), signFor: twilioURL,
			wantCode: 200, want: with(stopInbound, func(m *contract.Inbound) { m.Body, m.OptOutType, m.MessagingServiceSID = "Stop. Thank you", "", "" })},
		{name: "media only", body: twilioMMS, signFor: twilioURL, wantCode: 200,
			want: &contract.Inbound{Provider: "twilio", MessageID: "MM11111111111111111111111111111111", From: "+447700900123",
				To: "+15005550006", NumMedia: 2, ReceivedAt: testNow}},
		{name: "empty body field", body: form(twilioStop, "Body", "", "OptOutType", "-"), signFor: twilioURL,
			wantCode: 200, want: with(stopInbound, func(m *contract.Inbound) { m.Body, m.OptOutType = "", "" })},
		{name: "unknown future field", body: form(twilioStop, "BrandNewField2027", "x%26y"), signFor: twilioURL,
			wantCode: 200, want: &stopInbound},
		{name: "invalid UTF-8 and NUL cleaned", body: form(twilioStop, "Body", "ST%00OP%FF"), signFor: twilioURL,
			wantCode: 200, want: with(stopInbound, func(m *contract.Inbound) { m.Body = "STOP\uFFFD" })},
		{name: "short code To", body: form(twilioStop, "To", "12345"), signFor: twilioURL,
			wantCode: 200, want: with(stopInbound, func(m *contract.Inbound) { m.To = "12345" })},

		// Signatures.
		{name: "unsigned", body: twilioStop, wantCode: 403, wantErr: "missing X-Twilio-Signature"},
		{name: "wrong token", body: twilioStop, signFor: twilioURL, signToken: "fedcba9876543210fedcba9876543210",
			wantCode: 403, wantErr: "invalid X-Twilio-Signature"},
		{name: "body tampered after signing", body: twilioStop, signFor: twilioURL,
			header: map[string]string{}, wantCode: 403, wantErr: "invalid X-Twilio-Signature"}, // body swapped below
		{name: "signed for port 8080", body: twilioStop, signFor: "https://sms.example.com:8080" + PathTwilio,
			wantCode: 403},
		{name: "signed for http", body: twilioStop, signFor: "http://sms.example.com" + PathTwilio, wantCode: 403},
		{name: "signed for other host", body: twilioStop, signFor: "https://evil.example.com" + PathTwilio, wantCode: 403},
		{name: "signed for other path", body: twilioStop, signFor: publicBase + PathTwilioStatus, wantCode: 403},
		{name: "explicit default port is the same URL", body: twilioStop, signFor: "https://sms.example.com:443" + PathTwilio,
			wantCode: 200, want: &stopInbound},
		{name: "query is part of the signed URL", target: twilioURL + "?tenant=acme&x=%2F", body: twilioStop,
			signFor: twilioURL + "?tenant=acme&x=%2F", wantCode: 200, want: &stopInbound},
		{name: "signed without the query", target: twilioURL + "?tenant=acme", body: twilioStop, signFor: twilioURL,
			wantCode: 403},
		{name: "PublicURL with a path prefix", cfg: func(c *Config) { c.PublicURL = "https://example.com/sms/" },
			body: twilioStop, signFor: "https://example.com/sms" + PathTwilio, wantCode: 200, want: &stopInbound},
		{name: "no PublicURL: request host and port", cfg: func(c *Config) { c.PublicURL, c.Dev = "", true },
			target: "http://127.0.0.1:8080" + PathTwilio, body: twilioStop, signFor: "http://127.0.0.1:8080" + PathTwilio,
			wantCode: 200, want: &stopInbound},
		{name: "no PublicURL: signed without the port", cfg: func(c *Config) { c.PublicURL, c.Dev = "", true },
			target: "http://127.0.0.1:8080" + PathTwilio, body: twilioStop, signFor: "http://127.0.0.1" + PathTwilio,
			wantCode: 403},
		{name: "no PublicURL: signed for :443 served on :8443", cfg: func(c *Config) { c.PublicURL, c.Dev = "", true },
			target: "https://sms.example.com:8443" + PathTwilio, body: twilioStop, signFor: twilioURL, wantCode: 403},
		{name: "no PublicURL: TLS request", cfg: func(c *Config) { c.PublicURL, c.Dev = "", true },
			target: twilioURL, body: twilioStop, signFor: twilioURL, wantCode: 200, want: &stopInbound},
		{name: "TrustProxy: forwarded https host", cfg: func(c *Config) { c.PublicURL, c.TrustProxy = "", true },
			target: "http://10.0.0.5:8080" + PathTwilio, body: twilioStop, signFor: twilioURL,
			header:   map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.com"},
			wantCode: 200, want: &stopInbound},
		{name: "TrustProxy: the proxy's value, not the client's", cfg: func(c *Config) { c.PublicURL, c.TrustProxy = "", true },
			target: "http://10.0.0.5:8080" + PathTwilio, body: twilioStop, signFor: twilioURL,
			header:   map[string]string{"X-Forwarded-Proto": "http, HTTPS", "X-Forwarded-Host": "forged.example.com, sms.example.com"},
			wantCode: 200, want: &stopInbound},
		{name: "TrustProxy: signed for the client's forged host", cfg: func(c *Config) { c.PublicURL, c.TrustProxy = "", true },
			target: "http://10.0.0.5:8080" + PathTwilio, body: twilioStop, signFor: "https://forged.example.com" + PathTwilio,
			header:   map[string]string{"X-Forwarded-Proto": "https, https", "X-Forwarded-Host": "forged.example.com, sms.example.com"},
			wantCode: 403},
		{name: "TrustProxy: two hops", cfg: func(c *Config) { c.PublicURL, c.TrustProxy, c.TrustProxyHops = "", true, 2 },
			target: "http://10.0.0.5:8080" + PathTwilio, body: twilioStop, signFor: twilioURL,
			header:   map[string]string{"X-Forwarded-Proto": "http, https, http", "X-Forwarded-Host": "forged.example.com, sms.example.com, 10.0.0.9"},
			wantCode: 200, want: &stopInbound},
		{name: "TrustProxy: fewer values than hops", cfg: func(c *Config) { c.PublicURL, c.TrustProxy, c.TrustProxyHops = "", true, 2 },
			target: "http://10.0.0.5:8080" + PathTwilio, body: twilioStop, signFor: twilioURL,
			header:   map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.com"},
			wantCode: 403},
		{name: "no PublicURL nor TrustProxy outside dev", cfg: func(c *Config) { c.PublicURL = "" },
			target: "http://127.0.0.1:8080" + PathTwilio, body: twilioStop, signFor: "http://127.0.0.1:8080" + PathTwilio,
			wantCode: 503, wantErr: "PUBLIC_URL (or TRUST_PROXY=true behind a proxy)"},
		{name: "TrustProxy off: forwarded headers ignored", cfg: func(c *Config) { c.PublicURL, c.Dev = "", true },
			target: "http://10.0.0.5:8080" + PathTwilio, body: twilioStop, signFor: twilioURL,
			header:   map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.com"},
			wantCode: 403},
		{name: "TrustProxy off: signed for the proxy's view", cfg: func(c *Config) { c.PublicURL, c.Dev = "", true },
			target: "http://10.0.0.5:8080" + PathTwilio, body: twilioStop, signFor: "http://10.0.0.5:8080" + PathTwilio,
			header:   map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.com"},
			wantCode: 200, want: &stopInbound},
		{name: "PublicURL wins over forwarded headers", cfg: func(c *Config) { c.TrustProxy = true },
			target: "http://10.0.0.5:8080" + PathTwilio, body: twilioStop, signFor: "https://forged.example.com" + PathTwilio,
			header:   map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "forged.example.com"},
			wantCode: 403},

		// Insecure and unconfigured.
		{name: "insecure skips the check", cfg: func(c *Config) { c.Insecure = true }, body: twilioStop,
			wantCode: 200, want: &stopInbound},
		{name: "insecure without a token", cfg: func(c *Config) { c.Insecure, c.TwilioAuthToken = true, "" },
			body: twilioStop, signFor: twilioURL, signToken: "whatever", wantCode: 200, want: &stopInbound},
		{name: "no token configured", cfg: func(c *Config) { c.TwilioAuthToken = "" }, body: twilioStop,
			signFor: twilioURL, wantCode: 503, wantErr: "TWILIO_AUTH_TOKEN is not set"},

		// Bad input, signed.
		{name: "missing MessageSid", body: form(twilioStop, "MessageSid", "-"), signFor: twilioURL,
			wantCode: 400, wantErr: `missing field "MessageSid"`},
		{name: "blank From", body: form(twilioStop, "From", "+++"), signFor: twilioURL,
			wantCode: 400, wantErr: `missing field "From"`},
		{name: "missing To", body: form(twilioStop, "To", "-"), signFor: twilioURL,
			wantCode: 400, wantErr: `missing field "To"`},
		{name: "NumMedia not a number", body: form(twilioStop, "NumMedia", "two"), signFor: twilioURL,
			wantCode: 400, wantErr: `invalid NumMedia "two"`},
		{name: "NumMedia negative", body: form(twilioStop, "NumMedia", "-1"), signFor: twilioURL,
			wantCode: 400, wantErr: "invalid NumMedia -1"},
		{name: "bad escape", body: twilioStop + "&Body=%zz", header: map[string]string{"X-Twilio-Signature": "x"},
			wantCode: 400, wantErr: "invalid form body"},
		{name: "repeated field", body: twilioStop + "&Body=START", signFor: twilioURL,
			wantCode: 400, wantErr: `form field "Body" repeated`},
		{name: "JSON body", body: `{"MessageSid":"SM1"}`, signFor: twilioURL,
			wantCode: 400, wantErr: `missing field "MessageSid"`},

		// Intake failures.
		{name: "intake unavailable", body: twilioStop, signFor: twilioURL,
			intakeErr: fmt.Errorf("commit: %w", ErrUnavailable), wantCode: 503},
		{name: "intake timed out", body: twilioStop, signFor: twilioURL,
			intakeErr: fmt.Errorf("commit: %w", context.DeadlineExceeded), wantCode: 503},
		{name: "intake bug", body: twilioStop, signFor: twilioURL, intakeErr: errors.New("boom"), wantCode: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{PublicURL: publicBase, TwilioAuthToken: twilioToken}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			in := &fakeIntake{err: tt.intakeErr}
			h := newHandler(t, cfg, in)

			target := tt.target
			if target == "" {
				target = twilioURL
			}
			hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
			for k, v := range tt.header {
				hdr[k] = v
			}
			body := tt.body
			if tt.signFor != "" {
				token := tt.signToken
				if token == "" {
					token = twilioToken
				}
				hdr["X-Twilio-Signature"] = signTwilio(t, token, tt.signFor, tt.body)
			}
			if tt.name == "body tampered after signing" {
				body = strings.Replace(body, "Body=STOP", "Body=START", 1)
			}
			w := serve(h, post(target, body, hdr))

			checkAnswer(t, w, tt.wantCode, tt.wantErr)
			got, _ := in.calls()
			switch {
			case w.Code == 200:
				if ct := w.Header().Get("Content-Type"); ct != "text/xml" {
					t.Errorf("Content-Type = %q, want text/xml", ct)
				}
				if b := w.Body.String(); b != `<?xml version="1.0" encoding="UTF-8"?><Response></Response>` {
					t.Errorf("body = %q, want empty TwiML", b)
				}
				if len(got) != 1 {
					t.Fatalf("intake got %d messages, want 1", len(got))
				}
				checkInbound(t, got[0], *tt.want)
			case tt.intakeErr != nil:
				if len(got) != 1 {
					t.Errorf("intake got %d messages, want 1", len(got))
				}
			default:
				if len(got) != 0 {
					t.Errorf("refused request reached the intake: %+v", got)
				}
			}
		})
	}
}

func TestTwilioStatus(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		signFor   string
		intakeErr error
		wantCode  int
		wantErr   string
		want      StatusEvent
	}{
		{name: "delivered", body: twilioDelivered, signFor: twilioStatusURL, wantCode: 200,
			want: StatusEvent{Provider: "twilio", MessageID: "SM0a1b2c3d4e5f60718293a4b5c6d7e8f9", MessageStatus: "delivered",
				To: "+14155550123", From: "+15005550006", MessagingServiceSID: "MG00000000000000000000000000000000"}},
		{name: "undelivered 21610", body: twilioOptedOut, signFor: twilioStatusURL, wantCode: 200,
			want: StatusEvent{Provider: "twilio", MessageID: "SM99999999999999999999999999999999", MessageStatus: "undelivered",
				To: "+14155550123", From: "+15005550006", ErrorCode: 21610}},
		{name: "unknown field", body: form(twilioDelivered, "ChannelPrefix", "sms"), signFor: twilioStatusURL, wantCode: 200,
			want: StatusEvent{Provider: "twilio", MessageID: "SM0a1b2c3d4e5f60718293a4b5c6d7e8f9", MessageStatus: "delivered",
				To: "+14155550123", From: "+15005550006", MessagingServiceSID: "MG00000000000000000000000000000000"}},
		{name: "unsigned", body: twilioDelivered, wantCode: 403},
		{name: "signed for the inbound URL", body: twilioDelivered, signFor: twilioURL, wantCode: 403},
		{name: "missing MessageStatus", body: form(twilioDelivered, "MessageStatus", "-"), signFor: twilioStatusURL,
			wantCode: 400, wantErr: `missing field "MessageStatus"`},
		{name: "missing MessageSid", body: form(twilioDelivered, "MessageSid", "-"), signFor: twilioStatusURL,
			wantCode: 400, wantErr: `missing field "MessageSid"`},
		{name: "bad ErrorCode", body: form(twilioOptedOut, "ErrorCode", "21610x"), signFor: twilioStatusURL,
			wantCode: 400, wantErr: `invalid ErrorCode "21610x"`},
		{name: "intake unavailable", body: twilioDelivered, signFor: twilioStatusURL,
			intakeErr: fmt.Errorf("x: %w", ErrUnavailable), wantCode: 503},
		{name: "intake bug", body: twilioDelivered, signFor: twilioStatusURL, intakeErr: errors.New("boom"), wantCode: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &fakeIntake{err: tt.intakeErr}
			h := newHandler(t, Config{PublicURL: publicBase, TwilioAuthToken: twilioToken}, in)
			hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
			if tt.signFor != "" {
				hdr["X-Twilio-Signature"] = signTwilio(t, twilioToken, tt.signFor, tt.body)
			}
			w := serve(h, post(twilioStatusURL, tt.body, hdr))
			checkAnswer(t, w, tt.wantCode, tt.wantErr)
			inb, got := in.calls()
			if len(inb) != 0 {
				t.Errorf("status callback reached Intake.Inbound: %+v", inb)
			}
			switch {
			case w.Code == 200:
				if w.Body.Len() != 0 {
					t.Errorf("body = %q, want empty", w.Body.String())
				}
				if len(got) != 1 || got[0] != tt.want {
					t.Errorf("intake got %+v, want [%+v]", got, tt.want)
				}
			case tt.intakeErr == nil && len(got) != 0:
				t.Errorf("refused request reached the intake: %+v", got)
			}
		})
	}
}

// Redelivery: the handler passes every delivery on; deduplication is the
// intake's job.
func TestTwilioRedelivery(t *testing.T) {
	in := &fakeIntake{}
	h := newHandler(t, Config{PublicURL: publicBase, TwilioAuthToken: twilioToken}, in)
	sig := signTwilio(t, twilioToken, twilioURL, twilioStop)
	for i := range 2 {
		w := serve(h, post(twilioURL, twilioStop, map[string]string{"X-Twilio-Signature": sig}))
		if w.Code != 200 {
			t.Fatalf("delivery %d: status %d %q", i+1, w.Code, w.Body.String())
		}
	}
	got, _ := in.calls()
	if len(got) != 2 || got[0].MessageID != got[1].MessageID {
		t.Fatalf("intake got %+v, want the same message twice", got)
	}
}

// The fallback after 503: once the intake is back, the same signed request
// succeeds.
func TestTwilioRetryAfterUnavailable(t *testing.T) {
	in := &fakeIntake{err: ErrUnavailable}
	h := newHandler(t, Config{PublicURL: publicBase, TwilioAuthToken: twilioToken}, in)
	hdr := map[string]string{"X-Twilio-Signature": signTwilio(t, twilioToken, twilioURL, twilioStop)}
	if w := serve(h, post(twilioURL, twilioStop, hdr)); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", w.Code)
	}
	in.setErr(nil)
	if w := serve(h, post(twilioURL, twilioStop, hdr)); w.Code != 200 {
		t.Fatalf("retry: status = %d, want 200", w.Code)
	}
}

// slowIntake commits only when released, like a STOP waiting for the
// recipient's lock, and reports whether its context was still alive then.
type slowIntake struct {
	fakeIntake
	release chan struct{}
	alive   chan bool
}

func (s *slowIntake) Inbound(ctx context.Context, m contract.Inbound) error {
	<-s.release
	s.alive <- ctx.Err() == nil
	return s.fakeIntake.Inbound(ctx, m)
}

// Twilio hangs up after 15 s, a STOP may wait up to 20 s for the lock:
// the message must still be committed, not rolled back with the request.
func TestInboundOutlivesTheRequest(t *testing.T) {
	in := &slowIntake{release: make(chan struct{}), alive: make(chan bool, 1)}
	h := newHandler(t, Config{PublicURL: publicBase, TwilioAuthToken: twilioToken}, in)
	ctx, hangUp := context.WithCancel(context.Background())
	r := post(twilioURL, twilioStop, map[string]string{"X-Twilio-Signature": signTwilio(t, twilioToken, twilioURL, twilioStop)}).WithContext(ctx)
	done := make(chan struct{})
	go func() { serve(h, r); close(done) }()
	hangUp()
	close(in.release)
	if !<-in.alive {
		t.Error("the intake's context was cancelled with the request: the STOP would be rolled back")
	}
	<-done
	if got, _ := in.calls(); len(got) != 1 {
		t.Errorf("intake committed %d messages, want 1", len(got))
	}
}
