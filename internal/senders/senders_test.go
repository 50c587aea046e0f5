package senders

import (
	"os"
	"strings"
	"testing"
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
