package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

const threeSteps = `{"name": "welcome", "category": "marketing",
	"sender": ` + testkit.AnyHourSender + `,
	"steps": [{"sms": "Hi {{.first_name}}, welcome!"}, {"wait": "3s"}, {"sms": "Code {{.code}}"}]}`

const (
	ada   = "+14155550101"
	grace = "+14155550102"
	alan  = "+14155550103"
)

// A 3-step journey for 3 recipients: one receives both SMS, one opted out
// before the start receives none, one opted out during the wait receives
// only the first.
func TestJourneyHonoursConsent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	def := testkit.MustJourney(threeSteps)
	optOut := func(number string) {
		t.Helper()
		if _, err := e.App.Store.Record(ctx, contract.ConsentChange{RecipientKey: e.Key(number), Scope: "+15550001111", To: contract.OptedOut, Source: contract.SourceAdmin}); err != nil {
			t.Fatal(err)
		}
	}
	optOut(grace)

	sum := e.Launch("run1", def, "phone,first_name,code\n"+ada+",Ada,A1\n"+grace+",Grace,G1\n"+alan+",Alan,L1\n")
	if sum.Started != 3 || len(sum.Skipped) != 0 {
		t.Fatalf("summary: %+v", sum)
	}
	testkit.Eventually(t, 20*time.Second, "first SMS to Alan", func() bool { return len(e.SentTo(alan)) == 1 })
	optOut(alan)

	want := map[string]struct {
		bodies  []string
		state   string
		summary string
	}{
		ada:   {[]string{"Hi Ada, welcome!" + footer, "Code A1" + footer}, "completed", "sent 2"},
		grace: {nil, "skipped", "sent 0, skipped at step 0: opted_out"},
		alan:  {[]string{"Hi Alan, welcome!" + footer}, "skipped", "sent 1, skipped at step 2: opted_out"},
	}
	for number, w := range want {
		res := e.Result("run1", number)
		if res.State != w.state || res.Summary != w.summary {
			t.Errorf("%s: state %q summary %q, want %q %q", number, res.State, res.Summary, w.state, w.summary)
		}
		if got := e.SentTo(number); !slices.Equal(got, w.bodies) {
			t.Errorf("%s: SMS %q, want %q", number, got, w.bodies)
		}
	}
	if n := e.Twilio.Calls(); n != 3 {
		t.Errorf("provider calls = %d, want 3", n)
	}

	// Re-running the same run ID starts nothing new and sends nothing more.
	again := e.Launch("run1", def, "phone,first_name,code\n"+ada+",Ada,A1\n"+grace+",Grace,G1\n"+alan+",Alan,L1\n")
	if again.Started != 0 || again.AlreadyStarted != 3 {
		t.Fatalf("re-run summary: %+v", again)
	}
	time.Sleep(500 * time.Millisecond)
	if n := e.Twilio.Calls(); n != 3 {
		t.Errorf("provider calls after re-run = %d, want 3", n)
	}
}

// A provider that is rate limiting, then failing, still gets the step
// delivered exactly once.
func TestJourneyRetriesProviderErrors(t *testing.T) {
	e := newEnv(t)
	def := testkit.MustJourney(`{"name": "retry", "category": "transactional",
		"sender": ` + testkit.AnyHourSender + `,
		"steps": [{"sms": "Your code is {{.code}}"}]}`)
	e.Twilio.Fail(1, 429, `{"code": 20429, "message": "Too Many Requests", "status": 429}`)
	e.Twilio.Fail(1, 503, `<html>Service Unavailable</html>`)
	e.Launch("r", def, "phone,code\n"+ada+",123\n")
	res := e.Result("r", ada)
	if res.Summary != "sent 1" {
		t.Fatalf("summary %q", res.Summary)
	}
	if got := e.SentTo(ada); len(got) != 1 {
		t.Fatalf("accepted %d messages, want 1", len(got))
	}
	if n := e.Twilio.Calls(); n != 3 {
		t.Errorf("provider calls = %d, want 3 (429, 503, success)", n)
	}
}

// A recipient the provider reports as opted out (21610) is recorded as
// opted out and the journey skips.
func TestJourneyProviderOptOut(t *testing.T) {
	e := newEnv(t)
	def := testkit.MustJourney(threeSteps)
	e.Twilio.OptOut(ada)
	e.Launch("r", def, "phone,first_name,code\n"+ada+",Ada,A1\n")
	res := e.Result("r", ada)
	if res.State != "skipped" || res.Reason != "opted_out_at_provider" {
		t.Fatalf("result %+v", res)
	}
	d, err := e.App.Store.Check(context.Background(), e.Key(ada), "+15550001111", contract.ConsentRule{})
	if err != nil || d.Allowed {
		t.Fatalf("consent after 21610: %+v, %v", d, err)
	}
}

// footer is what stopline appends to marketing bodies without opt-out
// instructions. The e2e journeys allow sending at any hour (quiet_hours
// 00:00-24:00) so the tests do not depend on the time of day.
const footer = "\nReply STOP to opt out."
