package senders

import (
	"os"
	"strings"
	"testing"

	"github.com/stopline/stopline/internal/keywords"
)

func TestExampleSendersFile(t *testing.T) {
	data, err := os.ReadFile("../../examples/senders.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	s := r.Lookup("+15550001111", "")
	if s.Brand != "Acme" || !s.ProcessesKeywords() {
		t.Fatalf("lookup: %+v", s)
	}
	help, ok, err := s.Reply("help", "en")
	if err != nil || !ok || !strings.Contains(help, "Msg & data rates may apply") || !strings.Contains(help, "help@acme.example") {
		t.Fatalf("help reply %q %v %v", help, ok, err)
	}
	fr := r.Lookup("+33755501234", "")
	if got, _, _ := fr.Reply("opt_out", "fr"); !strings.HasPrefix(got, "Acme France : Vous êtes désinscrit") {
		t.Fatalf("french opt-out reply %q", got)
	}
	// Unknown numbers get defaults: a long code that processes keywords.
	if d := r.Lookup("+15559999999", ""); !d.ProcessesKeywords() || d.Scope() != "+15559999999" {
		t.Fatalf("default sender %+v", d)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ json, err string }{
		{`{"senders": [{"provider": "twilio", "from": "ACME", "type": "alphanumeric"}]}`,
			`senders[0]: alphanumeric sender "ACME" cannot receive messages; keyword handling does not apply (remove it from the senders file)`},
		{`{"senders": [{"provider": "pigeon", "from": "+15550001111", "type": "long_code"}]}`,
			`senders[0].provider: must be one of twilio, sinch, http, sandbox, got "pigeon"`},
		{`{"senders": [{"provider": "twilio", "type": "long_code"}]}`,
			`senders[0]: set exactly one of "from" or "messaging_service_sid"`},
		{`{"senders": [{"provider": "twilio", "from": "+15550001111", "type": "long_code", "replies": {"goodbye": {}}}]}`,
			`senders[0].replies: unknown reply "goodbye" (want opt_out, opt_out_all, opt_out_marketing, opt_in, opt_in_pending, confirmed, help, suggest_opt_out)`},
		{`{"senders": [{"provider": "twilio", "from": "+15550001111", "type": "long_code"}, {"provider": "twilio", "from": "+15550001111", "type": "long_code"}]}`,
			`senders[1]: "+15550001111" is configured twice`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.json))
		if err == nil || err.Error() != tt.err {
			t.Errorf("Parse(%s)\n got %v\nwant %s", tt.json, err, tt.err)
		}
	}
}

func TestConsentPolicyErrors(t *testing.T) {
	const a = `{"provider": "twilio", "from": "+15550001111", "type": "long_code"`
	const b = `{"provider": "twilio", "from": "+15550002222", "type": "long_code"`
	tests := []struct{ json, err string }{
		{`{"senders": [` + a + `, "stop_blocks": "transactional"}]}`,
			`senders[0].stop_blocks: must be "all" or "marketing", got "transactional"`},
		{`{"senders": [` + a + `, "confirm_keywords": ["OK"]}]}`,
			`senders[0].confirm_keywords: only used with "double_opt_in": true`},
		{`{"senders": [` + a + `, "double_opt_in": true, "confirm_keywords": ["Y", "STOP"]}]}`,
			`senders[0].confirm_keywords[1]: "STOP" is empty or an opt-out or help keyword`},
		{`{"senders": [` + a + `, "double_opt_in": true, "confirm_keywords": ["info"]}]}`,
			`senders[0].confirm_keywords[0]: "info" is empty or an opt-out or help keyword`},
		{`{"senders": [` + a + `, "program": "p", "double_opt_in": true}, ` + b + `, "program": "p"}]}`,
			`senders[1].double_opt_in: differs from sender "+15550001111" of program "p"`},
		{`{"senders": [` + a + `, "program": "p"}, ` + b + `, "program": "p", "stop_blocks": "marketing"}]}`,
			`senders[1].stop_blocks: differs from sender "+15550001111" of program "p"`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.json))
		if err == nil || err.Error() != tt.err {
			t.Errorf("Parse(%s)\n got %v\nwant %s", tt.json, err, tt.err)
		}
	}
}

func TestConsentPolicy(t *testing.T) {
	r, err := Parse([]byte(`{"senders": [
		{"provider": "twilio", "from": "+15550001111", "type": "long_code", "program": "club", "double_opt_in": true, "brand": "Club"},
		{"provider": "twilio", "from": "+15550002222", "type": "long_code", "program": "club", "double_opt_in": true},
		{"provider": "twilio", "from": "+15550003333", "type": "long_code", "program": "bank", "stop_blocks": "marketing", "brand": "Bank"},
		{"provider": "twilio", "from": "+15550004444", "type": "long_code", "double_opt_in": true, "confirm_keywords": ["OUI", "O"]}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	// Staff name a program, a program's sender, or any other sender.
	for in, want := range map[string]string{
		"club": "program:club", "+15550002222": "program:club", "program:bank": "program:bank",
		"+15550004444": "+15550004444", "+15559999999": "+15559999999", "*": "*", "nosuchprogram": "nosuchprogram",
	} {
		if got := r.ResolveScope(in); got != want {
			t.Errorf("ResolveScope(%q) = %q, want %q", in, got, want)
		}
	}
	if !r.ScopeSender("program:club").DoubleOptIn || r.ScopeSender("program:club").MarketingOnlyStop() {
		t.Errorf("program club: %+v", r.ScopeSender("program:club"))
	}
	if !r.ScopeSender("program:bank").MarketingOnlyStop() || r.ScopeSender("+15559999999").DoubleOptIn {
		t.Error("bank is marketing-only; unknown scopes get defaults")
	}

	club, custom, bank := r.Lookup("+15550001111", ""), r.Lookup("+15550004444", ""), r.Lookup("+15550003333", "")
	tests := []struct {
		s    Sender
		body string
		want bool
	}{
		{club, "YES", true}, {club, "y", true}, {club, " Yes! ", true}, {club, "ＹＥＳ", true},
		{club, "yes please", false}, {club, "YESS", false}, {club, "", false}, {club, "STOP", false},
		{custom, "oui", true}, {custom, "O", true}, {custom, "YES", false},
		{bank, "YES", false}, // no double opt-in: nothing to confirm
	}
	for _, tt := range tests {
		if got := tt.s.Confirms(tt.body); got != tt.want {
			t.Errorf("%s Confirms(%q) = %v, want %v", tt.s.Scope(), tt.body, got, tt.want)
		}
	}

	replies := []struct {
		s    Sender
		kind ReplyKind
		lang string
		want string
	}{
		{club, "opt_in_pending", "en", "Club: Reply YES to confirm you want our messages."},
		{custom, "opt_in_pending", "fr", "stopline : Répondez OUI pour confirmer votre inscription."},
		{club, "confirmed", "en", "Club: Thanks, you are subscribed."},
		{bank, "opt_out_marketing", "en", "Bank: You will receive no more marketing messages. Messages about your account or orders continue."},
	}
	for _, tt := range replies {
		got, ok, err := tt.s.Reply(tt.kind, tt.lang)
		if err != nil || !ok || !strings.HasPrefix(got, tt.want) {
			t.Errorf("Reply(%s, %s) = %q, %v, %v; want prefix %q", tt.kind, tt.lang, got, ok, err, tt.want)
		}
	}
}

// The fuzzy setting (issue 11): no setting, and senders not in the file,
// read like a reasonable person; off, confirm and opt_out stay explicit
// choices; anything else is refused with its field.
func TestFuzzySetting(t *testing.T) {
	const file = `{"senders": [
		{"provider": "twilio", "from": "+15550000001", "type": "long_code"},
		{"provider": "twilio", "from": "+15550000002", "type": "long_code", "keywords": {"fuzzy": "off"}},
		{"provider": "twilio", "from": "+15550000003", "type": "long_code", "keywords": {"fuzzy": "confirm"}},
		{"provider": "twilio", "from": "+15550000004", "type": "long_code", "keywords": {"fuzzy": "opt_out"}},
		{"provider": "twilio", "from": "+15550000005", "type": "long_code", "keywords": {"fuzzy": "reasonable"}}
	]}`
	r, err := Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]keywords.FuzzyMode{
		"+15550000001": keywords.FuzzyReasonable, "+15550000002": keywords.FuzzyOff, "+15550000003": keywords.FuzzyConfirm,
		"+15550000004": keywords.FuzzyOptOut, "+15550000005": keywords.FuzzyReasonable, "+15559999999": keywords.FuzzyReasonable,
	}
	for addr, mode := range want {
		if got := r.Lookup(addr, "").Keywords.Fuzzy; got != mode {
			t.Errorf("%s: fuzzy %v, want %v", addr, got, mode)
		}
	}
	if in := keywords.Classify("stop please", r.Lookup("+15559999999", "").Keywords); in.Kind != keywords.OptOut {
		t.Errorf("default sender: %+v, want an opt-out", in)
	}
	_, err = Parse([]byte(`{"senders": [{"provider": "twilio", "from": "+15550000001", "type": "long_code", "keywords": {"fuzzy": "maybe"}}]}`))
	if err == nil || !strings.Contains(err.Error(), `unknown fuzzy mode "maybe"`) {
		t.Errorf("bad mode: %v", err)
	}
	s := r.Lookup("+15550000001", "")
	if got, ok, err := s.Reply("suggest_opt_out", "en"); err != nil || !ok || got != "stopline: Reply STOP to stop these messages." {
		t.Errorf("suggest_opt_out reply %q %v %v", got, ok, err)
	}
}

// parseCase parses a senders file of a table case: it returns nil, after
// checking the error, when the case wants one (wantErr != "").
func parseCase(t *testing.T, file, wantErr string) *Registry {
	t.Helper()
	r, err := Parse([]byte(file))
	if wantErr != "" {
		if err == nil || err.Error() != wantErr {
			t.Fatalf("err = %v, want %s", err, wantErr)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}
