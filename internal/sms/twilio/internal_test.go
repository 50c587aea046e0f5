package twilio

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/stopline/stopline/internal/sms"
)

// The transport must reach APIURL's host under its path prefix, with
// twilio-go's basic auth intact.
func TestTransportRewritesToAPIURL(t *testing.T) {
	var (
		mu               sync.Mutex
		gotPath, gotHost string
		gotUser          string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotPath, gotHost = r.URL.Path, r.Host
		gotUser, _, _ = r.BasicAuth()
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid":"SM00000000000000000000000000000001","status":"queued"}`))
	}))
	defer srv.Close()

	tests := []struct {
		name, apiURL, wantPath string
	}{
		{"bare host", srv.URL, "/2010-04-01/Accounts/AC1/Messages.json"},
		{"path prefix", srv.URL + "/gw/twilio", "/gw/twilio/2010-04-01/Accounts/AC1/Messages.json"},
		{"path prefix with slash", srv.URL + "/gw/", "/gw/2010-04-01/Accounts/AC1/Messages.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Config{AccountSID: "AC1", AuthToken: "testtoken", APIURL: tt.apiURL})
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Send(t.Context(), sms.Message{To: "+15005550006", From: "+15005550001", Body: "hi"})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.MessageID != "SM00000000000000000000000000000001" {
				t.Errorf("MessageID = %q", res.MessageID)
			}
			mu.Lock()
			defer mu.Unlock()
			if gotPath != tt.wantPath {
				t.Errorf("path = %q, want %q", gotPath, tt.wantPath)
			}
			if want := strings.TrimPrefix(srv.URL, "http://"); gotHost != want {
				t.Errorf("Host = %q, want %q", gotHost, want)
			}
			if gotUser != "AC1" {
				t.Errorf("basic auth user = %q, want AC1", gotUser)
			}
		})
	}
}

// A 2xx whose body cannot be read still means Twilio created the message:
// Send must not report a failure that would lead to a second send.
func TestSendAcceptedButUnreadable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid":"SM0`)) // cut off
	}))
	defer srv.Close()
	s, err := New(Config{AccountSID: "AC1", AuthToken: "testtoken", APIURL: srv.URL, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Send(t.Context(), sms.Message{To: "+15005550006", From: "+15005550001", Body: "hi"})
	if err != nil || res.Status != "accepted" {
		t.Errorf("Send = %+v, %v; want accepted without error", res, err)
	}
}

func TestKindFor(t *testing.T) {
	tests := []struct {
		code, status int
		want         sms.Kind
	}{
		{21610, 400, sms.OptedOut},
		{21211, 400, sms.InvalidNumber},
		{21612, 400, sms.InvalidNumber},
		{21614, 400, sms.InvalidNumber},
		{21635, 400, sms.InvalidNumber},
		{20429, 429, sms.RateLimited},
		{0, 429, sms.RateLimited},
		{21611, 400, sms.RateLimited},
		{20003, 401, sms.Permanent},
		{21408, 400, sms.Permanent},
		{21606, 400, sms.Permanent},
		{20500, 500, sms.Temporary},
		{0, 503, sms.Temporary},
		{0, 408, sms.Temporary},
		{0, 404, sms.Permanent},
	}
	for _, tt := range tests {
		if got := kindFor(tt.code, tt.status); got != tt.want {
			t.Errorf("kindFor(%d, %d) = %s, want %s", tt.code, tt.status, got, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in, to, want string
	}{
		{"e164", "The 'To' number +15005550006 is not valid.", "+15005550006", "The 'To' number ***0006 is not valid."},
		{"without plus", "number 15005550006 unreachable", "+15005550006", "number ***0006 unreachable"},
		{"reformatted", "number +1 (500) 555-0006 unreachable", "+15005550006", "number ***0006 unreachable"},
		{"url encoded", "GET /Messages.json?To=%2B15005550006", "+15005550006", "GET /Messages.json?To=%2B***0006"},
		{"other number too", "from +15005550001 to +15005550006", "+15005550006", "from ***0001 to ***0006"},
		{"short to", "code 12345 for 12345", "12345", "code *** for ***"},
		{"error codes stay", "ApiError 21610: unsubscribed", "+15005550006", "ApiError 21610: unsubscribed"},
		{"empty to", "nothing to hide", "", "nothing to hide"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sms.Redact(tt.in, tt.to); got != tt.want {
				t.Errorf("redact(%q, %q) = %q, want %q", tt.in, tt.to, got, tt.want)
			}
		})
	}
}

// fuzzTo is the recipients FuzzRedact tries: E.164, or bare digits long
// enough not to occur by chance in a mask's last 4 digits.
var fuzzTo = regexp.MustCompile(`^\+[0-9]{1,15}$|^[0-9]{5,15}$`)

// FuzzRedact checks that no provider text, however it embeds the number,
// survives redaction with the recipient number in it.
func FuzzRedact(f *testing.F) {
	f.Add("The 'To' number +15005550006 is not valid", "+15005550006")
	f.Add("+1+15005550006 15005550006", "+15005550006")
	f.Add("1234 +1234 +12345678", "+1234")
	f.Add("", "+1")
	f.Fuzz(func(t *testing.T, text, to string) {
		if !fuzzTo.MatchString(to) {
			t.Skip()
		}
		got := sms.Redact(text, to)
		if strings.Contains(got, to) {
			t.Errorf("redact(%q, %q) = %q still holds the number", text, to, got)
		}
	})
}

// An ambiguous attempt is found even when Twilio's Smart Encoding changed
// the body, and not when it is another message.
func TestMatchesSmartEncodedBody(t *testing.T) {
	m := sms.Message{To: "+14155550123", From: "+15550001111", Body: "It’s here — “Spring sale”…\u00a0Reply STOP to opt out."}
	msg := func(to, from, body, direction string) openapi.ApiV2010Message {
		return openapi.ApiV2010Message{To: &to, From: &from, Body: &body, Direction: &direction}
	}
	tests := []struct {
		name string
		msg  openapi.ApiV2010Message
		want bool
	}{
		{"same body", msg(m.To, m.From, m.Body, "outbound-api"), true},
		{"smart encoded", msg(m.To, m.From, `It's here - "Spring sale"... Reply STOP to opt out.`, "outbound-api"), true},
		{"trailing newline", msg(m.To, m.From, m.Body+"\n", "outbound-api"), true},
		{"other text", msg(m.To, m.From, `It's here - "Summer sale"... Reply STOP to opt out.`, "outbound-api"), false},
		{"other recipient", msg("+14155550124", m.From, m.Body, "outbound-api"), false},
		{"other sender", msg(m.To, "+15550002222", m.Body, "outbound-api"), false},
		{"inbound", msg(m.To, m.From, m.Body, "inbound"), false},
	}
	for _, tt := range tests {
		if got := matches(tt.msg, m); got != tt.want {
			t.Errorf("%s: matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}
