package main

import (
	"testing"

	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/senders"
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
		return &journey.Definition{Name: "j", Category: journey.CategoryMarketing,
			Sender: journey.Sender{Provider: "twilio", From: from, Type: journey.TypeLongCode}, Steps: steps}
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
