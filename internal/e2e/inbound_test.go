package e2e

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/sms/smstest"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/internal/webhook"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

func (e *env) consentOf(number string) contract.Decision {
	e.T.Helper()
	d, err := e.App.Store.Check(context.Background(), e.Key(number), testkit.Sender, contract.ConsentRule{})
	if err != nil {
		e.T.Fatal(err)
	}
	return d
}

// optOutView queries the recipient's Recipient workflow.
func (e *env) optOutView(number string) contract.RecipientState {
	e.T.Helper()
	var st contract.RecipientState
	v, err := e.Client().QueryWorkflow(context.Background(), workflows.RecipientID(e.Key(number)), "", contract.QueryConsent)
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		e.T.Fatal(err)
	}
	return st
}

const longJourney = `{"name": "drip", "category": "marketing",
	"sender": ` + testkit.AnyHourSender + `,
	"steps": [{"sms": "Hi {{.first_name}}"}, {"wait": "1h"}, {"sms": "Later"}]}`

func TestSignedStopStopsJourneysAndConfirmsOnce(t *testing.T) {
	e := newEnv(t, stack.Webhooks)
	e.Launch("a", testkit.MustJourney(longJourney), "phone,first_name\n"+ada+",Ada\n")
	e.Launch("b", testkit.MustJourney(longJourney), "phone,first_name\n"+ada+",Ada\n")
	testkit.Eventually(t, 20*time.Second, "first SMS of both journeys", func() bool { return len(e.SentTo(ada)) == 2 })

	if code := e.Inbound(ada, "Stop."); code != 200 {
		t.Fatalf("STOP answered %d", code)
	}
	stoppedAt := time.Now()
	if d := e.consentOf(ada); d.Allowed {
		t.Fatal("consent not recorded before the 2xx")
	}
	for _, run := range []string{"a", "b"} {
		res := e.Result(run, ada)
		if res.State != workflows.StateStopped || res.Summary != "sent 1, stopped: opted_out at step 1" {
			t.Errorf("journey %s: %+v", run, res)
		}
	}
	t.Logf("both journeys stopped %v after the STOP's 2xx", time.Since(stoppedAt).Round(time.Millisecond))
	testkit.Eventually(t, 30*time.Second, "confirmation", func() bool { return len(e.SentTo(ada)) == 3 })

	// A redelivery of the same STOP (same MessageSid) changes nothing.
	events, _ := e.App.Store.Events(context.Background(), e.Key(ada))
	// The text stays in inbound_messages; the event says why (issue 11).
	if len(events) != 1 || events[0].To != contract.OptedOut || events[0].RawText != "" || events[0].Rule != "exact" || events[0].Keyword != "STOP" {
		t.Fatalf("events: %+v", events)
	}
	form := url.Values{"MessageSid": {"SMdup"}, "From": {ada}, "To": {testkit.Sender}, "Body": {"STOP"}}
	if e.PostTwilio(form) != 200 || e.PostTwilio(form) != 200 {
		t.Fatal("redelivery not 2xx")
	}
	time.Sleep(time.Second)
	got := e.SentTo(ada)
	if len(got) != 4 { // the first STOP's confirmation and the new STOP message's own, no more
		t.Fatalf("SMS to recipient: %q", got)
	}
	if !strings.Contains(got[2], "unsubscribed") {
		t.Errorf("confirmation %q", got[2])
	}
	if v := e.optOutView(ada); v.Scopes[testkit.Sender] != "opted_out" {
		t.Errorf("consent query: %+v", v)
	}
}

func TestHelpStartAndProviderHandledStop(t *testing.T) {
	e := newEnv(t, stack.Webhooks)

	// HELP is answered even to an opted-out recipient.
	e.Inbound(grace, "STOP")
	testkit.Eventually(t, 30*time.Second, "STOP confirmation", func() bool { return len(e.SentTo(grace)) == 1 })
	e.Inbound(grace, "help")
	testkit.Eventually(t, 30*time.Second, "HELP reply", func() bool { return len(e.SentTo(grace)) == 2 })
	if h := e.SentTo(grace)[1]; !strings.Contains(h, "Msg & data rates may apply") || !strings.Contains(h, "STOP") {
		t.Errorf("HELP reply %q", h)
	}

	// START gives consent back: a new journey sends.
	e.Inbound(grace, "START")
	testkit.Eventually(t, 30*time.Second, "START recorded", func() bool { return e.consentOf(grace).Allowed })
	testkit.Eventually(t, 30*time.Second, "START confirmation", func() bool { return len(e.SentTo(grace)) == 3 })
	e.Launch("after-start", testkit.MustJourney(threeSteps), "phone,first_name,code\n"+grace+",Grace,G\n")
	if res := e.Result("after-start", grace); res.Summary != "sent 2" {
		t.Errorf("journey after START: %+v", res)
	}

	// Twilio Advanced Opt-Out already replied: stopline must not.
	if code := e.Inbound(alan, "STOP", "OptOutType", "STOP"); code != 200 {
		t.Fatalf("answered %d", code)
	}
	testkit.Eventually(t, 30*time.Second, "opt-out workflow handled it", func() bool {
		v, err := e.Client().QueryWorkflow(context.Background(), workflows.RecipientID(e.Key(alan)), "", contract.QueryConsent)
		var st contract.RecipientState
		return err == nil && v.Get(&st) == nil && len(st.Recent) == 1
	})
	if e.consentOf(alan).Allowed {
		t.Error("provider-handled STOP not recorded")
	}
	if got := e.SentTo(alan); len(got) != 0 {
		t.Errorf("stopline replied after Twilio did: %q", got)
	}
}

func TestUnsignedWebhookRecordsNothing(t *testing.T) {
	e := newEnv(t, stack.Webhooks)
	form := url.Values{"MessageSid": {"SMforged"}, "From": {ada}, "To": {testkit.Sender}, "Body": {"STOP"}}
	req, _ := http.NewRequest(http.MethodPost, "http://"+e.App.HTTPAddr()+webhook.PathTwilio, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", smstest.TwilioSignature(smstest.AuthToken, "http://"+e.App.HTTPAddr()+webhook.PathTwilio, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("signature for the wrong URL answered %d", resp.StatusCode)
	}
	if !e.consentOf(ada).Allowed {
		t.Fatal("a forged STOP changed consent")
	}
}

// A STOP that waits for the recipient's lock (a send to them is in flight)
// commits after a HELP that came later, so the re-driver delivers the HELP's
// higher inbound ID first. The STOP must still cancel the journey and be
// confirmed, not be taken for a redelivery.
func TestStopCommittedAfterLaterHelp(t *testing.T) {
	const num = "+14155556101"
	e := newEnv(t, stack.Webhooks)
	e.Twilio.SetDelay(3 * time.Second) // the first send holds the recipient's lock this long
	e.Launch("drip", testkit.MustJourney(longJourney), "phone,first_name\n"+num+",Ada\n")
	testkit.Eventually(t, 20*time.Second, "first send in flight", func() bool { return e.Twilio.Calls() == 1 })

	stopDone := make(chan time.Time, 1)
	go func() {
		if code := e.Inbound(num, "STOP"); code != 200 {
			t.Errorf("STOP answered %d", code)
		}
		stopDone <- time.Now()
	}()
	time.Sleep(300 * time.Millisecond)
	if code := e.Inbound(num, "HELP"); code != 200 {
		t.Fatalf("HELP answered %d", code)
	}
	helpAt := time.Now()
	stopAt := <-stopDone
	if !stopAt.After(helpAt) {
		t.Fatalf("the STOP was answered before the HELP (%v): the race this test is about did not happen", helpAt.Sub(stopAt))
	}
	msgs, err := e.App.Store.InboundMessages(context.Background(), e.Key(num))
	slices.SortFunc(msgs, func(a, b contract.Inbound) int { return cmp.Compare(a.ID, b.ID) })
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, m.Body)
	}
	if err != nil || strings.Join(bodies, ",") != "STOP,HELP" {
		t.Fatalf("inbound messages by ID: %q, %v; want STOP then HELP", bodies, err)
	}

	if res := e.Result("drip", num); res.State != workflows.StateStopped || res.Summary != "sent 1, stopped: opted_out at step 1" {
		t.Errorf("journey: %+v", res)
	}
	testkit.Eventually(t, 20*time.Second, "HELP reply and STOP confirmation", func() bool { return len(e.SentTo(num)) == 3 })
	if got := e.SentTo(num); !strings.Contains(got[1]+got[2], "unsubscribed") || !strings.Contains(got[1]+got[2], "Msg & data rates") {
		t.Errorf("SMS to recipient: %q", got)
	}
	e.replay(workflows.RecipientID(e.Key(num)), "optout-stop-after-later-help")
	e.replay(workflows.JourneyID(e.Run("drip"), e.Key(num)), "journey-stopped-by-late-stop")
}
