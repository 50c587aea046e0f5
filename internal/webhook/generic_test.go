package webhook

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/sms/httpchannel"
	"github.com/stopline/stopline/workflows/contract"
)

const genericStop = `{"id":"gw-7f3a","from":"+14155550123","to":"+15005550006","body":"stop please",` +
	`"received_at":"2026-03-01T11:59:30+01:00","carrier":"example","extra":{"nested":[1,2]}}`

var genericInbound = contract.Inbound{
	Provider: "http", MessageID: "gw-7f3a", From: "+14155550123", To: "+15005550006", Body: "stop please",
	ReceivedAt: time.Date(2026, 3, 1, 10, 59, 30, 0, time.UTC),
}

func TestGeneric(t *testing.T) {
	sign := func(body string) map[string]string {
		return map[string]string{"Content-Type": "application/json", httpchannel.SignatureHeader: httpchannel.Sign(inboundSecret, []byte(body))}
	}
	tests := []struct {
		name      string
		cfg       func(*Config)
		body      string
		header    map[string]string // default: signed with inboundSecret
		intakeErr error
		wantCode  int
		wantErr   string
		want      *contract.Inbound
	}{
		{name: "signed", body: genericStop, wantCode: 200, want: &genericInbound},
		{name: "no received_at, empty body", body: `{"id":"1","from":"+14155550123","to":"+15005550006"}`, wantCode: 200,
			want: &contract.Inbound{Provider: "http", MessageID: "1", From: "+14155550123", To: "+15005550006", ReceivedAt: testNow}},
		{name: "escaped NUL dropped", body: `{"id":"1","from":"a","to":"b","body":"ST\u0000OP"}`, wantCode: 200,
			want: &contract.Inbound{Provider: "http", MessageID: "1", From: "a", To: "b", Body: "STOP", ReceivedAt: testNow}},

		{name: "unsigned", body: genericStop, header: map[string]string{}, wantCode: 403, wantErr: "missing X-Stopline-Signature"},
		{name: "wrong secret", body: genericStop,
			header:   map[string]string{httpchannel.SignatureHeader: httpchannel.Sign("other", []byte(genericStop))},
			wantCode: 403, wantErr: "invalid X-Stopline-Signature"},
		{name: "bare hex without sha256=", body: genericStop,
			header:   map[string]string{httpchannel.SignatureHeader: strings.TrimPrefix(httpchannel.Sign(inboundSecret, []byte(genericStop)), "sha256=")},
			wantCode: 403},
		{name: "body tampered", body: strings.Replace(genericStop, "stop", "start", 1), header: sign(genericStop), wantCode: 403},
		{name: "insecure", cfg: func(c *Config) { c.Insecure = true }, body: genericStop, header: map[string]string{},
			wantCode: 200, want: &genericInbound},
		{name: "no secret configured", cfg: func(c *Config) { c.InboundSecret = "" }, body: genericStop,
			wantCode: 503, wantErr: "INBOUND_WEBHOOK_SECRET is not set"},

		{name: "missing id", body: `{"from":"+14155550123","to":"+15005550006","body":"STOP"}`, wantCode: 400, wantErr: `missing field "id"`},
		{name: "missing from", body: `{"id":"1","to":"+15005550006","body":"STOP"}`, wantCode: 400, wantErr: `missing field "from"`},
		{name: "missing to", body: `{"id":"1","from":"+14155550123","body":"STOP"}`, wantCode: 400, wantErr: `missing field "to"`},
		{name: "id as number", body: `{"id":1,"from":"a","to":"b"}`, wantCode: 400, wantErr: `field "id" must be a string, not number`},
		{name: "body as array", body: `{"id":"1","from":"a","to":"b","body":["STOP"]}`, wantCode: 400, wantErr: `field "body" must be a string, not array`},
		{name: "bad received_at", body: `{"id":"1","from":"a","to":"b","received_at":"1709294400"}`, wantCode: 400, wantErr: "invalid received_at"},
		{name: "not JSON", body: `id=1&from=a`, wantCode: 400, wantErr: "invalid JSON"},
		{name: "empty", body: ``, wantCode: 400, wantErr: "invalid JSON"},

		{name: "intake unavailable", body: genericStop, intakeErr: fmt.Errorf("x: %w", ErrUnavailable), wantCode: 503},
		{name: "intake bug", body: genericStop, intakeErr: errors.New("boom"), wantCode: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{InboundSecret: inboundSecret}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			hdr := tt.header
			if hdr == nil {
				hdr = sign(tt.body)
			}
			in := &fakeIntake{err: tt.intakeErr}
			w := serve(newHandler(t, cfg, in), post(publicBase+PathInbound, tt.body, hdr))
			checkAnswer(t, w, tt.wantCode, tt.wantErr)
			got, _ := in.calls()
			switch {
			case w.Code == 200:
				if w.Body.String() != "{}" {
					t.Errorf("body = %q, want {}", w.Body.String())
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

func TestGenericRedelivery(t *testing.T) {
	in := &fakeIntake{}
	h := newHandler(t, Config{InboundSecret: inboundSecret}, in)
	hdr := map[string]string{httpchannel.SignatureHeader: httpchannel.Sign(inboundSecret, []byte(genericStop))}
	for i := range 2 {
		if w := serve(h, post(publicBase+PathInbound, genericStop, hdr)); w.Code != 200 {
			t.Fatalf("delivery %d: %d %q", i+1, w.Code, w.Body.String())
		}
	}
	if got, _ := in.calls(); len(got) != 2 || got[0].MessageID != got[1].MessageID {
		t.Fatalf("intake got %+v, want the message twice", got)
	}
}
