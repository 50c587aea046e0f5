package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/journey"
)

func TestSummaries(t *testing.T) {
	now := time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC) // 20:00 in Los Angeles
	tests := []struct{ got, want string }{
		{smsSummary(2, "marketing"), "SMS step 2 (marketing)"},
		{openSummary(1), "is cancelled send step 1 open in the ledger?"},
		{settleSummary(1), "settle cancelled send step 1 (ask the provider, never send)"},
		{waitSummary(1, journey.Step{Wait: "24h"}), "wait 24h (step 1)"},
		{quietHoursSummary(0, now, now.Add(12*time.Hour), []string{"America/Los_Angeles"}), "quiet hours until 08:00 America/Los_Angeles (step 0)"},
		{quietHoursSummary(0, now, now.Add(12*time.Hour), []string{"America/Los_Angeles", "America/New_York"}),
			"quiet hours until 08:00 America/Los_Angeles, 11:00 America/New_York (step 0)"},
		{quietHoursSummary(2, now, now.Add(36*time.Hour), nil), "quiet hours until Jun 2 15:00 UTC (step 2)"},
		{awaitYesSummary(0, now, now.Add(48*time.Hour)), "await YES until Jun 3 03:00 UTC (step 0)"},
		{capSummary(3, now, now.Add(time.Hour), "frequency_cap"), "frequency cap until 04:00 UTC (step 3)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// The journey's summary and details name its steps, never their text or
// the recipient's attributes.
func TestStaticDetailsHoldNoMessageText(t *testing.T) {
	def, err := journey.Parse([]byte(`{"name": "welcome", "category": "marketing",
		"sender": {"provider": "twilio", "from": "+15550001111", "type": "long_code"},
		"steps": [{"sms": "Hi {{.first_name}}, code SECRET42"}, {"wait": "24h"}, {"sms": "Bye {{.first_name}}"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	got := StaticSummary(def, "welcome-1") + "\n" + StaticDetails(def, "welcome-1")
	for _, want := range []string{"welcome · run welcome-1 · 3 steps", "0. SMS step 0 (marketing)", "1. wait 24h (step 1)", "2. SMS step 2 (marketing)"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary and details lack %q:\n%s", want, got)
		}
	}
	for _, secret := range []string{"SECRET42", "first_name", "Hi ", "Bye"} {
		if strings.Contains(got, secret) {
			t.Errorf("summary and details hold message text %q:\n%s", secret, got)
		}
	}
}
