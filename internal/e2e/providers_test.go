package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/sms/sinch"
	"github.com/stopline/stopline/internal/sms/smstest"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
)

// Sends go only to workers that have their provider. Two workers share a
// task queue: the first has only Twilio, the second, started later, only
// Sinch. A Sinch journey started while no worker had Sinch waits, visibly
// (waiting_provider in its status; on /metrics, a Sinch send queue with a
// backlog and no pollers), without failing or sending; once the Sinch
// worker starts, it sends its message once. Meanwhile every Twilio send,
// polled by both workers' main queue, lands on the Twilio worker: none
// fails on the other ("no SMS sender configured").
func TestProviderQueues(t *testing.T) {
	const journeys = 20
	fakeSinch := smstest.NewFakeSinch()
	t.Cleanup(fakeSinch.Close)
	var shared app.Config
	e := newEnv(t, stack.Webhooks, func(c *app.Config) { c.ProviderWait = 2 * time.Second; shared = *c })

	hours := `"quiet_hours": {"start": "00:00", "end": "24:00", "legal_override": "test journeys run at any hour"}`
	sinchDef := testkit.MustJourney(`{"name": "via-sinch", "category": "marketing",
		"sender": {"provider": "sinch", "from": "+15550006666", "type": "long_code", ` + hours + `},
		"steps": [{"sms": "Hello from Sinch"}]}`)
	twilioDef := testkit.MustJourney(`{"name": "via-twilio", "category": "marketing",
		"sender": {"provider": "twilio", "from": "` + testkit.Sender + `", "type": "long_code", ` + hours + `},
		"steps": [{"sms": "One"}, {"sms": "Two"}]}`)

	waiting := "+14155557000"
	if err := e.StartJourney("sinch", sinchDef, waiting); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, time.Minute, "the Sinch journey waiting for its provider", func() bool {
		return e.status("sinch", waiting).DeferredReason == "waiting_provider"
	})
	testkit.Eventually(t, time.Minute, "/metrics: a Sinch send queue with a backlog and no pollers", func() bool {
		s := e.scrape()
		return strings.Contains(s, `stopline_provider_queue_pollers{provider="sinch"} 0`+"\n") &&
			sample(s, `stopline_provider_queue_backlog{provider="sinch"}`) >= 1 &&
			sample(s, `stopline_sms_total{category="marketing",outcome="waiting_provider",provider="sinch"}`) == 1
	})
	if n := len(fakeSinch.Accepted()); n != 0 {
		t.Fatalf("%d Sinch messages before any worker had Sinch", n)
	}

	second := shared
	second.HTTPAddr, second.AdminAddr = "", ""
	second.Twilio = shared.Twilio
	second.Twilio.AccountSID = "" // no Twilio here
	second.Sinch = sinch.Config{ServicePlanID: smstest.SinchServicePlanID, APIToken: smstest.SinchAPIToken, APIURL: fakeSinch.URL()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	w2, err := app.Start(ctx, second)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w2.Stop)

	numbers := make([]string, journeys)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+1415557%04d", 100+i)
		if err := e.StartJourney("twilio", twilioDef, numbers[i]); err != nil {
			t.Fatal(err)
		}
	}
	if res := e.Result("sinch", waiting); res.Summary != "sent 1" {
		t.Errorf("Sinch journey: %q, want sent 1", res.Summary)
	}
	if got := fakeSinch.Accepted(); len(got) != 1 || got[0].To != waiting {
		t.Errorf("Sinch accepted %v, want one message to %s", got, waiting)
	}
	for _, n := range numbers {
		if res := e.Result("twilio", n); res.Summary != "sent 2" {
			t.Errorf("Twilio journey of %s: %q, want sent 2", n, res.Summary)
		}
	}
	if n := len(e.Twilio.Accepted()); n != 2*journeys {
		t.Errorf("Twilio accepted %d messages, want %d", n, 2*journeys)
	}
	if st := e.status("sinch", waiting); st.DeferredReason != "" {
		t.Errorf("finished Sinch journey still says %q", st.DeferredReason)
	}
	e.replay(workflows.JourneyID(e.Run("sinch"), e.Key(waiting)), "journey-waited-for-provider")
}
