package webhook

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stopline/stopline/internal/sms/httpchannel"
)

var allPaths = []string{PathTwilio, PathTwilioStatus, PathSinch, PathInbound}

func fullConfig() Config {
	return Config{PublicURL: publicBase, TwilioAuthToken: twilioToken, SinchSecret: sinchSecret, InboundSecret: inboundSecret}
}

func TestMethodNotAllowed(t *testing.T) {
	in := &fakeIntake{}
	h := newHandler(t, fullConfig(), in)
	for _, path := range allPaths {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions} {
			w := serve(h, httptest.NewRequest(method, publicBase+path, strings.NewReader(twilioStop)))
			if w.Code != http.StatusMethodNotAllowed || !strings.Contains(w.Header().Get("Allow"), "POST") {
				t.Errorf("%s %s = %d (Allow %q), want 405 allowing POST", method, path, w.Code, w.Header().Get("Allow"))
			}
		}
	}
	if got, st := in.calls(); len(got)+len(st) != 0 {
		t.Fatalf("intake called: %v %v", got, st)
	}
}

func TestUnknownPath(t *testing.T) {
	h := newHandler(t, fullConfig(), &fakeIntake{})
	for _, path := range []string{"/webhooks/twilio/", "/webhooks/twilio/other", "/webhooks", "/webhooks/nexmo", "/"} {
		if w := serve(h, post(publicBase+path, "", nil)); w.Code != http.StatusNotFound {
			t.Errorf("POST %s = %d, want 404", path, w.Code)
		}
	}
}

// Oversized bodies are refused with 413 before any check of their content;
// one at the limit is read whole.
func TestBodyLimit(t *testing.T) {
	over := strings.Repeat("a", MaxBodyBytes+1)
	dummy := map[string]string{
		"X-Twilio-Signature":                  "x",
		httpchannel.SignatureHeader:           "sha256=00",
		"x-sinch-webhook-signature":           "x",
		"x-sinch-webhook-signature-timestamp": "1",
		"x-sinch-webhook-signature-nonce":     "n",
		"x-sinch-webhook-signature-algorithm": "HmacSHA256",
	}
	in := &fakeIntake{}
	h := newHandler(t, fullConfig(), in)
	for _, path := range allPaths {
		w := serve(h, post(publicBase+path, over, dummy))
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("POST %s with %d bytes = %d, want 413", path, len(over), w.Code)
		}
	}
	if got, st := in.calls(); len(got)+len(st) != 0 {
		t.Fatalf("intake called: %v %v", got, st)
	}

	// Exactly MaxBodyBytes, signed: accepted.
	body := twilioStop + "&Pad="
	body += strings.Repeat("p", MaxBodyBytes-len(body))
	w := serve(h, post(twilioURL, body, map[string]string{"X-Twilio-Signature": signTwilio(t, twilioToken, twilioURL, body)}))
	if w.Code != 200 {
		t.Fatalf("body of exactly %d bytes = %d %q, want 200", len(body), w.Code, w.Body.String())
	}
}

func TestNewConfig(t *testing.T) {
	if _, err := New(Config{}, nil); err == nil || !strings.Contains(err.Error(), "intake") {
		t.Errorf("New with nil intake: err = %v", err)
	}
	for _, u := range []string{"sms.example.com", "ftp://sms.example.com", "https://", "https://sms.example.com/?a=1",
		"https://sms.example.com?", "https://user:pw@sms.example.com", "https://sms.example.com/#x", "://x", "https://sms example.com"} {
		_, err := New(Config{PublicURL: u, Logger: discard}, &fakeIntake{})
		if err == nil || !strings.Contains(err.Error(), "PublicURL") {
			t.Errorf("New(PublicURL %q): err = %v, want one naming PublicURL", u, err)
		}
	}
	for _, u := range []string{"https://sms.example.com", "http://127.0.0.1:8080", "https://example.com/prefix/"} {
		if _, err := New(Config{PublicURL: u, Logger: discard}, &fakeIntake{}); err != nil {
			t.Errorf("New(PublicURL %q): %v", u, err)
		}
	}
}

func TestStartupWarnings(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
		not  []string
	}{
		{name: "nothing configured", cfg: Config{},
			want: []string{"TWILIO_AUTH_TOKEN is not set", "INBOUND_WEBHOOK_SECRET is not set", "SINCH_WEBHOOK_SECRET"}},
		{name: "all configured", cfg: fullConfig(), not: []string{"level=WARN"}},
		{name: "twilio without a public URL", cfg: Config{TwilioAuthToken: twilioToken, SinchSecret: sinchSecret, InboundSecret: inboundSecret},
			want: []string{"set PUBLIC_URL"}},
		{name: "twilio behind a proxy", cfg: Config{TwilioAuthToken: twilioToken, SinchSecret: sinchSecret, InboundSecret: inboundSecret, TrustProxy: true},
			not: []string{"level=WARN"}},
		{name: "insecure: the caller warns", cfg: Config{Insecure: true}, not: []string{"level=WARN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			tt.cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			if _, err := New(tt.cfg, &fakeIntake{}); err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.want {
				if !strings.Contains(logs.String(), s) {
					t.Errorf("logs lack %q:\n%s", s, logs.String())
				}
			}
			for _, s := range tt.not {
				if strings.Contains(logs.String(), s) {
					t.Errorf("logs contain %q:\n%s", s, logs.String())
				}
			}
		})
	}
}

// Logs carry masked numbers and never bodies, at any level, whether the
// request is accepted or refused.
func TestLogsMaskNumbersAndBodies(t *testing.T) {
	var logs syncBuffer
	cfg := fullConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	in := &fakeIntake{}
	h := newHandler(t, cfg, in)

	const secretBody = "please+stop+texting+me+Zq7"
	tw := form(twilioStop, "Body", secretBody)
	sn := strings.Replace(sinchText, `"STOP"`, `"please stop texting me Zq7"`, 1)
	requests := []*http.Request{
		post(twilioURL, tw, map[string]string{"X-Twilio-Signature": signTwilio(t, twilioToken, twilioURL, tw)}),
		post(twilioURL, tw, map[string]string{"X-Twilio-Signature": "forged"}),
		post(twilioURL, form(tw, "MessageSid", "-"), map[string]string{"X-Twilio-Signature": signTwilio(t, twilioToken, twilioURL, form(tw, "MessageSid", "-"))}),
		post(twilioStatusURL, twilioOptedOut, map[string]string{"X-Twilio-Signature": signTwilio(t, twilioToken, twilioStatusURL, twilioOptedOut)}),
		post(publicBase+PathSinch, sn, sinchHeaders(sinchSecret, sn, "n-1", testNow)),
		post(publicBase+PathInbound, genericStop, map[string]string{httpchannel.SignatureHeader: httpchannel.Sign(inboundSecret, []byte(genericStop))}),
	}
	for _, r := range requests {
		serve(h, r)
	}
	out := logs.String()
	for _, leak := range []string{"4155550123", "Zq7", "stop please"} {
		if strings.Contains(out, leak) {
			t.Errorf("logs contain %q:\n%s", leak, out)
		}
	}
	for _, want := range []string{"*******0123", "message_id=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9", "invalid X-Twilio-Signature", `missing field \"MessageSid\"`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
}
