package admin

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

const testToken = "s3cret-admin-token-0123456789"

// do sends a request to h; token "" sends no Authorization header.
func do(t *testing.T, h http.Handler, method, target, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, rec.Body.String())
	}
	return body.Error
}

func TestHandlerAuth(t *testing.T) {
	t.Parallel()
	store := pgtest.NewStore(t)
	keyer := testkit.DevKeyer()
	enabled := NewHandler(Config{Store: store, Keyer: keyer, Token: testToken})
	disabled := NewHandler(Config{Store: store, Keyer: keyer}) // no token: disabled
	target := "/v1/consent/" + keyer.Key("+14155550123")
	tests := []struct {
		name    string
		h       http.Handler
		method  string
		target  string
		auth    string
		status  int
		wantErr string
	}{
		{"disabled", disabled, "GET", target, "Bearer " + testToken, 503, "admin API disabled: set ADMIN_TOKEN"},
		{"disabled, no token", disabled, "GET", target, "", 503, "admin API disabled: set ADMIN_TOKEN"},
		{"no token", enabled, "GET", target, "", 401, "missing bearer token: send Authorization: Bearer <ADMIN_TOKEN>"},
		{"no token, POST", enabled, "POST", "/v1/consent/optout", "", 401, "missing bearer token: send Authorization: Bearer <ADMIN_TOKEN>"},
		{"no token, unknown path", enabled, "GET", "/v1/nothing", "", 401, "missing bearer token: send Authorization: Bearer <ADMIN_TOKEN>"},
		{"empty bearer", enabled, "GET", target, "Bearer ", 401, "missing bearer token: send Authorization: Bearer <ADMIN_TOKEN>"},
		{"basic auth", enabled, "GET", target, "Basic " + testToken, 401, "missing bearer token: send Authorization: Bearer <ADMIN_TOKEN>"},
		{"wrong token", enabled, "GET", target, "Bearer wrong", 401, "invalid bearer token"},
		{"token prefix", enabled, "GET", target, "Bearer " + testToken[:10], 401, "invalid bearer token"},
		{"token plus more", enabled, "GET", target, "Bearer " + testToken + "x", 401, "invalid bearer token"},
		{"right token", enabled, "GET", target, "Bearer " + testToken, 200, ""},
		{"scheme in lower case", enabled, "GET", target, "bearer " + testToken, 200, ""},
		{"right token, unknown path", enabled, "DELETE", "/v1/consent/optout", "Bearer " + testToken, 404, "no such endpoint: DELETE /v1/consent/optout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, tt.h, tt.method, tt.target, tt.auth, "")
			if rec.Code != tt.status {
				t.Fatalf("status = %d; want %d (%s)", rec.Code, tt.status, rec.Body.String())
			}
			if tt.wantErr != "" {
				if got := errorOf(t, rec); got != tt.wantErr {
					t.Errorf("error = %q; want %q", got, tt.wantErr)
				}
			}
			if tt.status == 401 && rec.Header().Get("WWW-Authenticate") != `Bearer realm="stopline-admin"` {
				t.Errorf("WWW-Authenticate = %q", rec.Header().Get("WWW-Authenticate"))
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q; want no-store", rec.Header().Get("Cache-Control"))
			}
		})
	}
}

func TestHandlerOptOutOptIn(t *testing.T) {
	t.Parallel()
	store := pgtest.NewStore(t)
	keyer := testkit.DevKeyer()
	var logs bytes.Buffer
	var mu sync.Mutex
	var notified []contract.ConsentChange
	h := NewHandler(Config{
		Store: store, Keyer: keyer, Token: testToken,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		OnChange: func(_ context.Context, c contract.ConsentChange) {
			mu.Lock()
			defer mu.Unlock()
			notified = append(notified, c)
		},
	})
	auth := "Bearer " + testToken
	key := keyer.Key("+14155550123")
	const sender, other = "+15550001111", "+15550002222"

	post := func(path, body string, want ChangeResponse) {
		t.Helper()
		rec := do(t, h, "POST", path, auth, body)
		if rec.Code != 200 {
			t.Fatalf("POST %s %s: %d %s", path, body, rec.Code, rec.Body.String())
		}
		var got ChangeResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("POST %s %s = %+v; want %+v", path, body, got, want)
		}
	}

	post("/v1/consent/optout", `{"phone": "+14155550123", "scope": "+15550001111", "note": "called support"}`,
		ChangeResponse{RecipientKey: key, Scope: sender, State: contract.OptedOut, Changed: true})
	if mustAllowed(t, store, key, sender) {
		t.Error("after the API opt-out, Store.Check still allows the sender")
	}
	if !mustAllowed(t, store, key, other) {
		t.Error("the opt-out reached another sender's scope")
	}
	// National format, default region US: the same recipient, already out.
	post("/v1/consent/optout", `{"phone": "(415) 555-0123", "scope": "+15550001111"}`,
		ChangeResponse{RecipientKey: key, Scope: sender, State: contract.OptedOut, Changed: false})
	post("/v1/consent/optin", `{"phone": "+14155550123", "scope": "+15550001111", "note": "asked to resubscribe"}`,
		ChangeResponse{RecipientKey: key, Scope: sender, State: contract.OptedIn, Changed: true})
	if !mustAllowed(t, store, key, sender) {
		t.Error("after the API opt-in, Store.Check still refuses")
	}
	post("/v1/consent/optout", `{"phone": "+14155550123", "scope": "*"}`,
		ChangeResponse{RecipientKey: key, Scope: "*", State: contract.OptedOut, Changed: true})
	if mustAllowed(t, store, key, other) {
		t.Error(`after an opt-out in "*", another sender is still allowed`)
	}

	ev := mustEvents(t, store, key)
	if len(ev) != 3 {
		t.Fatalf("%d events; want 3 (the repeated opt-out adds none)", len(ev))
	}
	wantEv := []struct {
		scope    string
		from, to contract.ConsentState
		note     string
	}{
		{sender, contract.ConsentUnknown, contract.OptedOut, "called support"},
		{sender, contract.OptedOut, contract.OptedIn, "asked to resubscribe"},
		{"*", contract.ConsentUnknown, contract.OptedOut, ""},
	}
	for i, w := range wantEv {
		e := ev[i]
		if e.Scope != w.scope || e.From != w.from || e.To != w.to || e.Note != w.note || e.Source != contract.SourceAdmin {
			t.Errorf("event %d = %+v; want %+v from admin", i, e, w)
		}
	}
	mu.Lock()
	if len(notified) != 3 {
		t.Errorf("OnChange called %d times; want 3 (once per change)", len(notified))
	}
	mu.Unlock()

	if strings.Contains(logs.String(), "4155550123") {
		t.Errorf("logs contain the phone number:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "phone=+*******0123") {
		t.Errorf("logs lack the masked number:\n%s", logs.String())
	}
}

func TestHandlerBadRequests(t *testing.T) {
	t.Parallel()
	store := pgtest.NewStore(t)
	h := NewHandler(Config{Store: store, Keyer: testkit.DevKeyer(), Token: testToken})
	auth := "Bearer " + testToken
	tests := []struct {
		name, method, target, body, want string
	}{
		{"empty body", "POST", "/v1/consent/optout", "", `invalid JSON body: empty (want {"phone": ..., "scope": ...})`},
		{"not JSON", "POST", "/v1/consent/optout", "phone=+14155550123", "invalid JSON body: invalid character 'p' looking for beginning of value"},
		{"unknown field", "POST", "/v1/consent/optout", `{"phone": "+14155550123", "scope": "*", "reason": "x"}`, `unknown field "reason"`},
		{"number as a number", "POST", "/v1/consent/optin", `{"phone": 14155550123, "scope": "*"}`, "phone: want a string, got number"},
		{"two objects", "POST", "/v1/consent/optout", `{"phone": "+14155550123", "scope": "*"} {}`, "invalid JSON body: more than one object"},
		{"no phone", "POST", "/v1/consent/optout", `{"scope": "*"}`, "phone: required"},
		{"bad phone", "POST", "/v1/consent/optout", `{"phone": "+1555", "scope": "*"}`,
			"phone: not a valid phone number (use E.164 such as +14155550123, or set region for a national number)"},
		{"national number in another region", "POST", "/v1/consent/optout", `{"phone": "(415) 555-0123", "scope": "*", "region": "FR"}`,
			"phone: not a valid phone number (use E.164 such as +14155550123, or set region for a national number)"},
		{"no scope", "POST", "/v1/consent/optout", `{"phone": "+14155550123"}`,
			`scope: required: a sender scope such as "+15550001111", or "*" for every sender`},
		{"control character in scope", "POST", "/v1/consent/optout", `{"phone": "+14155550123", "scope": "a\u0007"}`,
			`scope "a\a" contains control characters`},
		{"formula in scope", "POST", "/v1/consent/optout", `{"phone": "+14155550123", "scope": "=HYPERLINK(\"http://x\")"}`,
			fmt.Sprintf(notAScope, `"=HYPERLINK(\"http://x\")"`)},
		{"note too long", "POST", "/v1/consent/optout", `{"phone": "+14155550123", "scope": "*", "note": "` + strings.Repeat("n", 1001) + `"}`,
			"note longer than 1000 characters"},
		{"body too large", "POST", "/v1/consent/optout", `{"phone": "+14155550123", "scope": "*", "note": "` + strings.Repeat("n", 70000) + `"}`,
			"request body larger than 65536 bytes"},
		{"lookup: bad phone", "POST", "/v1/consent/lookup", `{"phone": "12"}`,
			"phone: not a valid phone number (use E.164 such as +14155550123, or set region for a national number)"},
		{"lookup: unknown field", "POST", "/v1/consent/lookup", `{"number": "+14155550123"}`, `unknown field "number"`},
		{"show: a phone number in the URL", "GET", "/v1/consent/+14155550123", "",
			`want a recipient key in the URL; look a phone number up with POST /v1/consent/lookup {"phone": ...}`},
		{"export: bad since", "GET", "/v1/consent/export?since=yesterday", "", "since: want an RFC 3339 time such as 2026-01-02T15:04:05Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, h, tt.method, tt.target, auth, tt.body)
			if rec.Code != 400 {
				t.Fatalf("status = %d; want 400 (%s)", rec.Code, rec.Body.String())
			}
			if got := errorOf(t, rec); got != tt.want {
				t.Errorf("error = %q; want %q", got, tt.want)
			}
			if strings.Contains(rec.Body.String(), "555-0123") || strings.Contains(rec.Body.String(), "+1555\"") {
				t.Errorf("response echoes the phone number: %s", rec.Body.String())
			}
		})
	}
}

func TestHandlerShowAndExport(t *testing.T) {
	t.Parallel()
	store := pgtest.NewStore(t)
	keyer := testkit.DevKeyer()
	h := NewHandler(Config{Store: store, Keyer: keyer, Token: testToken})
	auth := "Bearer " + testToken
	key := keyer.Key("+14155550123")
	ctx := testContext(t)
	for _, c := range []contract.ConsentChange{
		{RecipientKey: key, Scope: "+15550001111", To: contract.OptedOut, Source: contract.SourceKeyword, RawText: "STOP", Provider: "twilio", ProviderMessageID: "SM1", Sender: "+15550001111"},
		{RecipientKey: key, Scope: "*", To: contract.OptedOut, Source: contract.SourceAdmin, Note: "wrote to support"},
		{RecipientKey: keyer.Key("+14155550199"), Scope: "*", To: contract.OptedOut, Source: contract.SourceImport},
	} {
		if _, err := store.Record(ctx, c); err != nil {
			t.Fatal(err)
		}
	}

	lookups := []struct{ method, target, body string }{
		{"POST", "/v1/consent/lookup", `{"phone": "+14155550123"}`},
		{"POST", "/v1/consent/lookup", `{"phone": "(415) 555-0123", "region": "us"}`},
		{"POST", "/v1/consent/lookup", `{"phone": "` + key + `"}`},
		{"GET", "/v1/consent/" + key, ""},
	}
	for _, l := range lookups {
		target := l.method + " " + l.body
		rec := do(t, h, l.method, l.target, auth, l.body)
		if rec.Code != 200 {
			t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body.String())
		}
		var got ShowResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.RecipientKey != key || len(got.States) != 2 || len(got.Events) != 2 {
			t.Fatalf("GET %s = %+v; want 2 states and 2 events of %s", target, got, key)
		}
		// States are sorted by scope: "*" before "+".
		if s := got.States[0]; s.Scope != "*" || s.State != contract.OptedOut || s.Source != "admin" || s.UpdatedAt.IsZero() {
			t.Errorf("state 0 = %+v", s)
		}
		if s := got.States[1]; s.Scope != "+15550001111" || s.State != contract.OptedOut || s.Source != "keyword" {
			t.Errorf("state 1 = %+v", s)
		}
		if e := got.Events[0]; e.RawText != "STOP" || e.Provider != "twilio" || e.ProviderMessageID != "SM1" || e.To != "opted_out" || e.From != "" {
			t.Errorf("event 0 = %+v", e)
		}
		if e := got.Events[1]; e.Note != "wrote to support" || e.Source != "admin" || e.Scope != "*" {
			t.Errorf("event 1 = %+v", e)
		}
	}

	// Someone who never changed anything: empty lists, not null.
	rec := do(t, h, "POST", "/v1/consent/lookup", auth, `{"phone": "+14155550100"}`)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"states":[],"events":[]`) {
		t.Errorf("unknown recipient: %d %s", rec.Code, rec.Body.String())
	}

	rec = do(t, h, "GET", "/v1/consent/export?since=2000-01-01T00:00:00Z", auth, "")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("export: %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[0][0] != "id" || rows[3][5] != "import" {
		t.Errorf("export rows = %q; want the header and 3 events, the last from import", rows)
	}
	rec = do(t, h, "GET", "/v1/consent/export?since=2999-01-01T00:00:00Z", auth, "")
	if rec.Code != 200 || strings.Count(rec.Body.String(), "\n") != 1 {
		t.Errorf("export from the future: %d %q; want the header only", rec.Code, rec.Body.String())
	}
}

// TestSetConsentInputErrors checks that what the starter's consent
// subcommands get back for bad input is an InputError naming the field,
// before any database call (the store is nil here).
func TestSetConsentInputErrors(t *testing.T) {
	tests := []struct {
		req  ChangeRequest
		want string
	}{
		{ChangeRequest{Scope: "*"}, "phone: required"},
		{ChangeRequest{Phone: "+1 415 CALL", Scope: "*"}, "phone: not a valid phone number (use E.164 such as +14155550123, or set region for a national number)"},
		{ChangeRequest{Phone: "+14155550123", Scope: " "}, `scope: required: a sender scope such as "+15550001111", or "*" for every sender`},
		{ChangeRequest{Phone: "+14155550123", Scope: strings.Repeat("s", 101)}, "scope longer than 100 characters"},
	}
	for _, tt := range tests {
		_, err := SetConsent(context.Background(), nil, testkit.DevKeyer(), nil, tt.req, contract.OptedOut)
		ie, ok := errors.AsType[InputError](err)
		if !ok || string(ie) != tt.want {
			t.Errorf("SetConsent(%+v) error = %v; want InputError %q", tt.req, err, tt.want)
		}
	}
}

func TestRecipientKey(t *testing.T) {
	keyer := testkit.DevKeyer()
	key := keyer.Key("+14155550123")
	for _, in := range []string{"+14155550123", "(415) 555-0123", key} {
		if got, err := RecipientKey(keyer, in, "US"); err != nil || got != key {
			t.Errorf("RecipientKey(%q) = %q, %v; want %q", in, got, err, key)
		}
	}
	if _, err := RecipientKey(keyer, "R"+key[1:], "US"); err == nil {
		t.Error("a key in upper case was accepted; keys are lower case")
	}
}

// With the senders file, staff name a program or one of its senders and the
// change lands in the program's scope, the one journeys check; a recorded
// confirmation (a signed form) completes a double opt-in.
func TestHandlerProgramScopes(t *testing.T) {
	t.Parallel()
	store := pgtest.NewStore(t)
	keyer := testkit.DevKeyer()
	reg, err := senders.Parse([]byte(`{"senders": [
		{"provider": "twilio", "from": "+15550001111", "type": "long_code", "program": "acme", "double_opt_in": true},
		{"provider": "twilio", "from": "+15550002222", "type": "long_code", "program": "acme", "double_opt_in": true}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(Config{Store: store, Keyer: keyer, Token: testToken, Senders: reg, Logger: slog.New(slog.DiscardHandler)})
	key := keyer.Key("+14155550123")
	tests := []struct {
		path, body string
		want       ChangeResponse
		marketing  bool // allowed afterwards under the program's marketing rule
	}{
		{"/v1/consent/optout", `{"phone": "+14155550123", "scope": "+15550002222", "note": "called"}`,
			ChangeResponse{RecipientKey: key, Scope: "program:acme", State: contract.OptedOut, Changed: true}, false},
		{"/v1/consent/optin", `{"phone": "+14155550123", "scope": "acme"}`,
			ChangeResponse{RecipientKey: key, Scope: "program:acme", State: contract.OptedIn, Changed: true}, false},
		{"/v1/consent/confirm", `{"phone": "+14155550123", "scope": "acme", "note": "signed form"}`,
			ChangeResponse{RecipientKey: key, Scope: "program:acme", State: contract.OptInConfirmed, Changed: true}, true},
	}
	for _, tt := range tests {
		rec := do(t, h, "POST", tt.path, "Bearer "+testToken, tt.body)
		var got ChangeResponse
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &got) != nil || got != tt.want {
			t.Fatalf("POST %s %s: %d %s; want %+v", tt.path, tt.body, rec.Code, rec.Body.String(), tt.want)
		}
		d, err := store.Check(context.Background(), key, "program:acme", contract.ConsentRule{NeedConfirmed: true})
		if err != nil || d.Allowed != tt.marketing {
			t.Errorf("after %s: marketing allowed %v (%v), want %v", tt.path, d.Allowed, err, tt.marketing)
		}
	}
}
