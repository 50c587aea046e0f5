package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stopline/stopline/workflows/contract"
)

// Sinch MO fixtures, shaped like the SMS REST API's inbound callbacks.
const (
	sinchText = `{"type":"mo_text","id":"01FC66621VHDBN119Z8PMV1QPA","from":"14155550123","to":"12345",` +
		`"body":"STOP","operator_id":"310260","sent_at":"2026-03-01T11:59:57.000Z","received_at":"2026-03-01T11:59:58.542Z",` +
		`"client_reference":"ref-1"}`
	sinchBinary = `{"type":"mo_binary","id":"01FC66621VHDBN119Z8PMV1QPB","from":"14155550123","to":"12345",` +
		`"body":"AAECAwQ=","udh":"0605040B8423F0","received_at":"2026-03-01T11:59:58Z"}`
	sinchMedia = `{"type":"mo_media","id":"01FC66621VHDBN119Z8PMV1QPC","from":"14155550123","to":"12345",` +
		`"body":{"subject":"pic","message":"STOP","media":[{"url":"https://media.example.com/1.jpg","contentType":"image/jpeg","status":"Uploaded","code":1400}]},` +
		`"received_at":"2026-03-01T11:59:58Z"}`
	sinchReport = `{"type":"delivery_report_sms","batch_id":"01FC66621XXXXX119Z8PMV1QPQ","statuses":[{"code":0,"status":"Delivered","count":1}],"total_message_count":1}`
)

var sinchTextInbound = contract.Inbound{
	Provider: "sinch", MessageID: "01FC66621VHDBN119Z8PMV1QPA", From: "14155550123", To: "12345",
	Body: "STOP", Type: "mo_text", ReceivedAt: time.Date(2026, 3, 1, 11, 59, 58, 542e6, time.UTC),
}

func TestSinch(t *testing.T) {
	const nonce = "b6f6d2e5-0d2c-4bd2-9a4c-2f5b4c9e0a11"
	signed := func(body string) map[string]string { return sinchHeaders(sinchSecret, body, nonce, testNow) }
	tests := []struct {
		name      string
		cfg       func(*Config) // applied to a config with SinchSecret
		body      string
		header    map[string]string
		intakeErr error
		wantCode  int
		wantErr   string
		want      *contract.Inbound // nil with 200: acknowledged, not passed on
	}{
		{name: "mo_text STOP", body: sinchText, header: signed(sinchText), wantCode: 200, want: &sinchTextInbound},
		{name: "mo_binary not text", body: sinchBinary, header: signed(sinchBinary), wantCode: 200,
			want: &contract.Inbound{Provider: "sinch", MessageID: "01FC66621VHDBN119Z8PMV1QPB", From: "14155550123", To: "12345",
				Body: "AAECAwQ=", Type: "mo_binary", NumMedia: 1, ReceivedAt: time.Date(2026, 3, 1, 11, 59, 58, 0, time.UTC)}},
		{name: "mo_media caption", body: sinchMedia, header: signed(sinchMedia), wantCode: 200,
			want: &contract.Inbound{Provider: "sinch", MessageID: "01FC66621VHDBN119Z8PMV1QPC", From: "14155550123", To: "12345",
				Body: "STOP", Type: "mo_media", NumMedia: 1, ReceivedAt: time.Date(2026, 3, 1, 11, 59, 58, 0, time.UTC)}},
		{name: "no received_at: now", body: `{"type":"mo_text","id":"a","from":"1","to":"2","body":""}`, cfg: insecure,
			wantCode: 200, want: &contract.Inbound{Provider: "sinch", MessageID: "a", From: "1", To: "2", Type: "mo_text", ReceivedAt: testNow}},
		{name: "delivery report acknowledged", body: sinchReport, header: signed(sinchReport), wantCode: 200},

		// Signatures.
		{name: "unsigned", body: sinchText, wantCode: 403, wantErr: "missing x-sinch-webhook-signature header"},
		{name: "missing nonce", body: sinchText, header: without(signed(sinchText), "x-sinch-webhook-signature-nonce"),
			wantCode: 403, wantErr: "missing x-sinch-webhook-signature-nonce"},
		{name: "missing algorithm", body: sinchText, header: without(signed(sinchText), "x-sinch-webhook-signature-algorithm"),
			wantCode: 403},
		{name: "wrong algorithm", body: sinchText, header: set(signed(sinchText), "x-sinch-webhook-signature-algorithm", "HmacSHA1"),
			wantCode: 403, wantErr: "unsupported signature algorithm"},
		{name: "wrong secret", body: sinchText, header: sinchHeaders("other", sinchText, nonce, testNow),
			wantCode: 403, wantErr: "invalid x-sinch-webhook-signature"},
		{name: "body tampered", body: strings.Replace(sinchText, "STOP", "START", 1), header: signed(sinchText), wantCode: 403},
		{name: "nonce swapped", body: sinchText, header: set(signed(sinchText), "x-sinch-webhook-signature-nonce", "other"), wantCode: 403},
		{name: "6 minutes old", body: sinchText, header: sinchHeaders(sinchSecret, sinchText, nonce, testNow.Add(-6*time.Minute)),
			wantCode: 403, wantErr: "stale signature timestamp"},
		{name: "6 minutes ahead", body: sinchText, header: sinchHeaders(sinchSecret, sinchText, nonce, testNow.Add(6*time.Minute)),
			wantCode: 403, wantErr: "stale signature timestamp"},
		{name: "4m59s old", body: sinchText, header: sinchHeaders(sinchSecret, sinchText, nonce, testNow.Add(-299*time.Second)),
			wantCode: 200, want: &sinchTextInbound},
		{name: "timestamp not Unix seconds", body: sinchText, header: rfc3339Signed(sinchText, nonce),
			wantCode: 403, wantErr: "invalid signature timestamp"},
		{name: "no secret: not configured", cfg: unsignedSinch, body: sinchText,
			wantCode: 503, wantErr: "sinch webhook is not configured: SINCH_WEBHOOK_SECRET is not set"},
		{name: "no secret: signed by anyone", cfg: unsignedSinch, body: sinchText, header: sinchHeaders("", sinchText, nonce, testNow),
			wantCode: 503},
		{name: "insecure skips the check", cfg: insecure, body: sinchText,
			wantCode: 200, want: &sinchTextInbound},

		// Bad input (signed).
		{name: "from as object", body: `{"type":"mo_text","id":"a","from":{"type":"number","endpoint":"+14155550123"},"to":"12345","body":"STOP"}`,
			wantCode: 400, wantErr: `field "from" must be a string, not object`},
		{name: "to as number", body: `{"type":"mo_text","id":"a","from":"14155550123","to":12345,"body":"STOP"}`,
			wantCode: 400, wantErr: `field "to" must be a string, not number`},
		{name: "missing id", body: `{"type":"mo_text","from":"14155550123","to":"12345","body":"STOP"}`,
			wantCode: 400, wantErr: `missing field "id"`},
		{name: "null from", body: `{"type":"mo_text","id":"a","from":null,"to":"12345","body":"STOP"}`,
			wantCode: 400, wantErr: `missing field "from"`},
		{name: "missing type", body: `{"id":"a","from":"14155550123","to":"12345","body":"STOP"}`,
			wantCode: 400, wantErr: `missing field "type"`},
		{name: "mo_text body object", body: `{"type":"mo_text","id":"a","from":"1","to":"2","body":{"message":"STOP"}}`,
			wantCode: 400, wantErr: `field "body" must be a string`},
		{name: "bad received_at", body: `{"type":"mo_text","id":"a","from":"1","to":"2","body":"x","received_at":"yesterday"}`,
			wantCode: 400, wantErr: `invalid received_at "yesterday"`},
		{name: "truncated JSON", body: `{"type":"mo_text","id":"a"`, wantCode: 400, wantErr: "invalid JSON"},
		{name: "array", body: `[` + sinchText + `]`, wantCode: 400, wantErr: "invalid JSON: want an object, got array"},
		{name: "trailing data", body: sinchText + `{}`, wantCode: 400, wantErr: "invalid JSON"},

		{name: "intake unavailable", body: sinchText, header: signed(sinchText),
			intakeErr: fmt.Errorf("pg: %w", ErrUnavailable), wantCode: 503},
		{name: "intake bug", body: sinchText, header: signed(sinchText), intakeErr: errors.New("boom"), wantCode: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{SinchSecret: sinchSecret}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			hdr := tt.header
			if hdr == nil && tt.wantCode == 400 { // bad-input rows are signed
				hdr = signed(tt.body)
			}
			in := &fakeIntake{err: tt.intakeErr}
			w := serve(newHandler(t, cfg, in), post(publicBase+PathSinch, tt.body, hdr))

			checkAnswer(t, w, tt.wantCode, tt.wantErr)
			got, _ := in.calls()
			switch {
			case w.Code == 200:
				if w.Body.String() != "{}" || w.Header().Get("Content-Type") != "application/json" {
					t.Errorf("answer %q (%s), want {} as application/json", w.Body.String(), w.Header().Get("Content-Type"))
				}
				if tt.want == nil {
					if len(got) != 0 {
						t.Errorf("intake got %+v, want nothing", got)
					}
					return
				}
				if len(got) != 1 {
					t.Fatalf("intake got %d messages, want 1", len(got))
				}
				checkInbound(t, got[0], *tt.want)
			case tt.intakeErr == nil && len(got) != 0:
				t.Errorf("refused request reached the intake: %+v", got)
			}
		})
	}
}

func unsignedSinch(c *Config) { c.SinchSecret = "" }

func insecure(c *Config) { c.Insecure = true }

func without(h map[string]string, key string) map[string]string {
	delete(h, key)
	return h
}

func set(h map[string]string, key, value string) map[string]string {
	h[key] = value
	return h
}

// rfc3339Signed is correctly signed but with a timestamp that is not Unix
// seconds.
func rfc3339Signed(body, nonce string) map[string]string {
	ts := testNow.Format(time.RFC3339)
	h := sinchHeaders(sinchSecret, body, nonce, testNow)
	h["x-sinch-webhook-signature-timestamp"] = ts
	h["x-sinch-webhook-signature"] = SignSinch(sinchSecret, []byte(body), nonce, ts)
	return h
}

func TestSinchReplay(t *testing.T) {
	in := &fakeIntake{}
	now := testNow
	h := newHandler(t, Config{SinchSecret: sinchSecret, Now: func() time.Time { return now }}, in)
	hdr := sinchHeaders(sinchSecret, sinchText, "nonce-1", testNow)

	if w := serve(h, post(publicBase+PathSinch, sinchText, hdr)); w.Code != 200 {
		t.Fatalf("first delivery: %d %q", w.Code, w.Body.String())
	}
	now = testNow.Add(4 * time.Minute) // timestamp still fresh
	w := serve(h, post(publicBase+PathSinch, sinchText, hdr))
	if w.Code != 403 || !strings.Contains(w.Body.String(), "nonce already used") {
		t.Fatalf("replay: %d %q, want 403 nonce already used", w.Code, w.Body.String())
	}
	// A genuine redelivery is signed afresh: it reaches the intake, which
	// deduplicates on the message ID.
	if w := serve(h, post(publicBase+PathSinch, sinchText, sinchHeaders(sinchSecret, sinchText, "nonce-2", now))); w.Code != 200 {
		t.Fatalf("redelivery: %d %q", w.Code, w.Body.String())
	}
	if got, _ := in.calls(); len(got) != 2 || got[0].MessageID != got[1].MessageID {
		t.Fatalf("intake got %+v, want the message twice", got)
	}
}

// A nonce used on a callback answered 503 is released, in case Sinch
// retries with the same signature headers.
func TestSinchNonceReleasedOnUnavailable(t *testing.T) {
	in := &fakeIntake{err: ErrUnavailable}
	h := newHandler(t, Config{SinchSecret: sinchSecret}, in)
	hdr := sinchHeaders(sinchSecret, sinchText, "nonce-1", testNow)
	if w := serve(h, post(publicBase+PathSinch, sinchText, hdr)); w.Code != 503 {
		t.Fatalf("status = %d, want 503", w.Code)
	}
	in.setErr(nil)
	if w := serve(h, post(publicBase+PathSinch, sinchText, hdr)); w.Code != 200 {
		t.Fatalf("retry: status = %d %q, want 200", w.Code, w.Body.String())
	}
}

// Concurrent deliveries of one signed callback: exactly one gets through.
func TestSinchReplayConcurrent(t *testing.T) {
	in := &fakeIntake{}
	h := newHandler(t, Config{SinchSecret: sinchSecret}, in)
	hdr := sinchHeaders(sinchSecret, sinchText, "nonce-1", testNow)
	var wg sync.WaitGroup
	codes := make([]int, 16)
	for i := range codes {
		wg.Go(func() { codes[i] = serve(h, post(publicBase+PathSinch, sinchText, hdr)).Code })
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		switch c {
		case 200:
			ok++
		case 403:
		default:
			t.Errorf("status %d", c)
		}
	}
	if got, _ := in.calls(); ok != 1 || len(got) != 1 {
		t.Fatalf("%d answered 200 and the intake got %d, want 1 and 1", ok, len(got))
	}
}

func TestNonceCache(t *testing.T) {
	c := newNonceCache(2)
	exp := testNow.Add(SinchMaxSkew)
	steps := []struct {
		nonce string
		now   time.Time
		want  claimResult
	}{
		{"a", testNow, claimOK},
		{"a", testNow.Add(time.Minute), claimReplay},
		{"b", testNow, claimOK},
		{"c", testNow, claimFull}, // full of live nonces: refuse rather than forget one
		{"c", exp, claimOK},       // a and b expired and were swept
		{"a", exp, claimOK},       // an expired nonce may come back
		{"d", exp, claimFull},
	}
	for i, s := range steps {
		if got := c.claim(s.nonce, exp.Add(s.now.Sub(testNow)), s.now); got != s.want {
			t.Fatalf("step %d: claim(%q) = %d, want %d", i, s.nonce, got, s.want)
		}
	}
}

func TestSinchCacheFullAnswers503(t *testing.T) {
	in := &fakeIntake{}
	s, err := newServer(Config{SinchSecret: sinchSecret, Now: func() time.Time { return testNow }, Logger: discard}, in)
	if err != nil {
		t.Fatal(err)
	}
	s.nonces = newNonceCache(1)
	h := s.handler()
	if w := serve(h, post(publicBase+PathSinch, sinchText, sinchHeaders(sinchSecret, sinchText, "n1", testNow))); w.Code != 200 {
		t.Fatalf("first: %d", w.Code)
	}
	w := serve(h, post(publicBase+PathSinch, sinchText, sinchHeaders(sinchSecret, sinchText, "n2", testNow)))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "replay cache full") {
		t.Fatalf("second: %d %q, want 503 replay cache full", w.Code, w.Body.String())
	}
	if got, _ := in.calls(); len(got) != 1 {
		t.Fatalf("intake got %d, want 1", len(got))
	}
}

func TestSignSinch(t *testing.T) {
	// Computed independently: printf '%s' 'body.nonce.1700000000' | openssl dgst -sha256 -hmac secret -binary | base64
	const want = "H9NVmQh/s0RFml11ub2nQM6bUbRrV5X8v5LJ/oQycXY="
	got := SignSinch("secret", []byte("body"), "nonce", "1700000000")
	if got != want {
		t.Errorf("SignSinch = %q, want %q", got, want)
	}
}
