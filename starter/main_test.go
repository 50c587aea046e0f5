package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

func TestCheckOptIn(t *testing.T) {
	reg, err := senders.Parse([]byte(`{"senders": [
		{"provider": "twilio", "from": "+15550001111", "type": "long_code", "program": "club", "double_opt_in": true},
		{"provider": "twilio", "from": "+15550002222", "type": "long_code"}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	def := func(from string, steps ...journey.Step) *journey.Definition {
		return &journey.Definition{Name: "j", Category: contract.CategoryMarketing,
			Sender: journey.Sender{Provider: "twilio", From: from, Type: contract.SenderLongCode}, Steps: steps}
	}
	ask, send := journey.Step{OptIn: "Reply YES"}, journey.Step{SMS: "Hi"}
	tests := []struct {
		def  *journey.Definition
		want string // "" for no error
	}{
		{def("+15550001111", ask, send), ""},
		{def("+15550002222", send), ""},
		{def("+15550002222", send, ask), `steps[1].opt_in: sender "+15550002222" has no double opt-in in the senders file`},
		{def("+15559999999", ask), `steps[0].opt_in: sender "+15559999999" has no double opt-in in the senders file`},
	}
	for _, tt := range tests {
		got := ""
		if err := checkOptIn(tt.def, reg); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("checkOptIn(%s) = %q, want %q", tt.def.Sender.From, got, tt.want)
		}
	}
}

// Without RECIPIENT_KEY_SECRET only -dev may use the development secret:
// keys made with it outside development match no journey, so a staff
// opt-out would be recorded and block nothing.
func TestSecretRequiredOutsideDev(t *testing.T) {
	t.Setenv("RECIPIENT_KEY_SECRET", "")
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1") // nothing to signal
	dbURL := pgtest.NewDatabase(t)
	t.Setenv("DATABASE_URL", dbURL)
	st, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	const number, sender = "+14155550101", "+15550001111"
	tests := []struct {
		args    []string
		wantErr bool
	}{
		{[]string{"-key", number}, true},
		{[]string{"-journey", "../examples/quick.json", "-audience", "../examples/audience.csv"}, true},
		{[]string{"-list", "-run-id", "r1"}, true},
		{[]string{"consent", "optout", number, "-scope", sender}, true},
		{[]string{"consent", "show", number}, true},
		{[]string{"-dev", "-key", number}, false},
		{[]string{"consent", "optout", "-dev", number, "-scope", sender, "-note", "dev"}, false},
	}
	for _, tt := range tests {
		err := run(tt.args)
		if tt.wantErr != (err != nil && strings.Contains(err.Error(), "RECIPIENT_KEY_SECRET is not set")) {
			t.Errorf("run(%q) = %v, want an error naming RECIPIENT_KEY_SECRET: %v", tt.args, err, tt.wantErr)
		}
	}
	// Only the -dev opt-out was recorded.
	var events int
	if err := st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM consent_events`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events != 1 {
		t.Errorf("consent events = %d, want 1 (the -dev opt-out only)", events)
	}
}

// Outside -dev the starter refuses to dial Temporal without PAYLOAD_KEYS,
// unless PAYLOAD_ENCRYPTION=off says plain text is meant.
func TestPayloadKeysRequiredOutsideDev(t *testing.T) {
	t.Setenv("RECIPIENT_KEY_SECRET", "starter-test-secret-0123456789")
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1") // refuses connections
	const keys = "k1:c3RvcGxpbmUgZGV2ZWxvcG1lbnQga2V5LCBwdWJsaWM="
	tests := []struct {
		keys, encryption string
		dev              bool
		want             string
	}{
		{"", "", false, "PAYLOAD_KEYS is not set"},
		{"", "", true, "cannot reach Temporal"},
		{"", "off", false, "cannot reach Temporal"},
		{keys, "", false, "cannot reach Temporal"},
		{"k1:short", "", false, "PAYLOAD_KEYS: entry 1"},
		{keys, "maybe", false, `PAYLOAD_ENCRYPTION "maybe"`},
	}
	for _, tt := range tests {
		t.Setenv("PAYLOAD_KEYS", tt.keys)
		t.Setenv("PAYLOAD_ENCRYPTION", tt.encryption)
		args := []string{"-list", "-run-id", "r1"}
		if tt.dev {
			args = append(args, "-dev")
		}
		if err := run(args); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("PAYLOAD_KEYS=%q PAYLOAD_ENCRYPTION=%q dev=%v: %v, want an error containing %q", tt.keys, tt.encryption, tt.dev, err, tt.want)
		}
	}
}
