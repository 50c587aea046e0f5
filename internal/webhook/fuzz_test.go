package webhook

import (
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stopline/stopline/internal/sms/httpchannel"
	"github.com/stopline/stopline/workflows/contract"
)

// Each fuzzer posts a correctly signed body, so the parser behind the
// signature check is what gets exercised. It must not panic, must answer
// 200 or 400 (413 only when oversized), and a 200 must have handed the
// intake a message with an ID, a sender and a recipient, all clean UTF-8.

func checkFuzzAnswer(t *testing.T, code int, body []byte, errBody string) {
	t.Helper()
	switch {
	case code == 200, code == 400:
	case code == 413 && len(body) > MaxBodyBytes:
	default:
		t.Fatalf("status %d (%q) for %q", code, errBody, body)
	}
}

func checkFuzzInbound(t *testing.T, got []contract.Inbound) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("200 but the intake got %d messages", len(got))
	}
	m := got[0]
	if m.MessageID == "" || m.From == "" || m.To == "" {
		t.Fatalf("200 with a required field empty: %+v", m)
	}
	for _, s := range []string{m.MessageID, m.From, m.To, m.Body, m.Type, m.OptOutType, m.MessagingServiceSID} {
		if !utf8.ValidString(s) || strings.Contains(s, "\x00") {
			t.Fatalf("unclean string %q in %+v", s, m)
		}
	}
	if m.NumMedia < 0 || m.ReceivedAt.IsZero() {
		t.Fatalf("bad NumMedia or ReceivedAt: %+v", m)
	}
}

func FuzzTwilioForm(f *testing.F) {
	for _, s := range []string{twilioStop, twilioMMS, form(twilioStop, "NumMedia", "x"), "", "&&=", "a=%zz", "a=1&a=2",
		"MessageSid=SM1&From=%00&To=%FF", "MessageSid=+&From=1&To=2", "MessageSid=1;From=2"} {
		f.Add([]byte(s))
	}
	in := &fakeIntake{}
	h := newHandler(f, Config{PublicURL: publicBase, TwilioAuthToken: twilioToken}, in)
	f.Fuzz(func(t *testing.T, body []byte) {
		in.reset()
		hdr := map[string]string{"X-Twilio-Signature": "unparsable"}
		if _, err := url.ParseQuery(string(body)); err == nil {
			hdr["X-Twilio-Signature"] = signTwilio(t, twilioToken, twilioURL, string(body))
		}
		w := serve(h, post(twilioURL, string(body), hdr))
		checkFuzzAnswer(t, w.Code, body, w.Body.String())
		if got, _ := in.calls(); w.Code == 200 {
			checkFuzzInbound(t, got)
		} else if len(got) != 0 {
			t.Fatalf("%d but the intake got %+v", w.Code, got)
		}
	})
}

func FuzzSinchJSON(f *testing.F) {
	for _, s := range []string{sinchText, sinchBinary, sinchMedia, sinchReport, `{}`, `null`, `[]`, `"x"`,
		`{"type":"mo_media","id":"a","from":"1","to":"2","body":{"message":1}}`,
		`{"type":"mo_text","id":"\u0000","from":"\ud800","to":"2","body":"\u0000"}`,
		`{"type":"x","id":"a","from":"1","to":"2","received_at":"2026-13-01T00:00:00Z"}`} {
		f.Add([]byte(s))
	}
	// The handler outlives one call, so each call gets a fresh nonce and
	// the clock moves a second, letting old nonces expire from the cache.
	var n atomic.Int64
	now := func() time.Time { return testNow.Add(time.Duration(n.Load()) * time.Second) }
	in := &fakeIntake{}
	h := newHandler(f, Config{SinchSecret: sinchSecret, Now: now}, in)
	f.Fuzz(func(t *testing.T, body []byte) {
		in.reset()
		k := n.Add(1)
		w := serve(h, post(publicBase+PathSinch, string(body), sinchHeaders(sinchSecret, string(body), strconv.FormatInt(k, 10), now())))
		checkFuzzAnswer(t, w.Code, body, w.Body.String())
		got, _ := in.calls()
		switch {
		case w.Code != 200:
			if len(got) != 0 {
				t.Fatalf("%d but the intake got %+v", w.Code, got)
			}
		case len(got) == 0: // only delivery reports are acknowledged without intake
			if _, ok, err := parseSinch(body, testNow); ok || err != nil {
				t.Fatalf("200 without intake for a non-report: ok=%v err=%v", ok, err)
			}
		default:
			checkFuzzInbound(t, got)
		}
	})
}

func FuzzGenericJSON(f *testing.F) {
	for _, s := range []string{genericStop, `{"id":"1","from":"a","to":"b"}`, `{}`, `{"id":1}`, `{"id":" ","from":"a","to":"b"}`,
		`{"id":"1","from":"a","to":"b","received_at":"2026-03-01T11:59:30.123456789-07:00"}`} {
		f.Add([]byte(s))
	}
	in := &fakeIntake{}
	h := newHandler(f, Config{InboundSecret: inboundSecret}, in)
	f.Fuzz(func(t *testing.T, body []byte) {
		in.reset()
		w := serve(h, post(publicBase+PathInbound, string(body), map[string]string{httpchannel.SignatureHeader: httpchannel.Sign(inboundSecret, body)}))
		checkFuzzAnswer(t, w.Code, body, w.Body.String())
		if got, _ := in.calls(); w.Code == 200 {
			checkFuzzInbound(t, got)
		} else if len(got) != 0 {
			t.Fatalf("%d but the intake got %+v", w.Code, got)
		}
	})
}
