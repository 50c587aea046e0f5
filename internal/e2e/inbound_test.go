package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/consent"
	"github.com/stopline/stopline/internal/sms/smstest"
	"github.com/stopline/stopline/internal/webhook"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// publicURL is what the signed webhooks claim Twilio called; the requests
// themselves go to the test's local listener.
const publicURL = "https://sms.stopline.test"

const sender = "+15550001111"

var sidSeq atomic.Int64

func withWebhooks(c *app.Config) {
	c.HTTPAddr = "127.0.0.1:0"
	c.Webhooks = webhook.Config{PublicURL: publicURL, TwilioAuthToken: smstest.AuthToken}
}

// inbound posts a signed Twilio inbound SMS and returns the status code.
func (e *env) inbound(from, body string, extra ...string) int {
	e.t.Helper()
	form := url.Values{
		"MessageSid": {fmt.Sprintf("SM%032d", sidSeq.Add(1))}, "AccountSid": {smstest.AccountSID},
		"From": {from}, "To": {sender}, "Body": {body}, "NumMedia": {"0"}, "ApiVersion": {"2010-04-01"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return e.postTwilio(form)
}

func (e *env) postTwilio(form url.Values) int {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+e.app.HTTPAddr()+webhook.PathTwilio, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", smstest.TwilioSignature(smstest.AuthToken, publicURL+webhook.PathTwilio, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (e *env) consentOf(number string) consent.Decision {
	e.t.Helper()
	d, err := e.app.Store.Check(context.Background(), e.key(number), sender, consent.Rule{})
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// optOutView queries the recipient's OptOut workflow.
func (e *env) optOutView(number string) contract.OptOutState {
	e.t.Helper()
	var st contract.OptOutState
	v, err := temporalClient.QueryWorkflow(context.Background(), workflows.OptOutID(e.key(number)), "", contract.QueryConsent)
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

const longJourney = `{"name": "drip", "category": "marketing",
	"sender": ` + anyHourSender + `,
	"steps": [{"sms": "Hi {{.first_name}}"}, {"wait": "1h"}, {"sms": "Later"}]}`

func TestSignedStopStopsJourneysAndConfirmsOnce(t *testing.T) {
	e := newEnv(t, withWebhooks)
	e.launch("a", mustJourney(t, longJourney), "phone,first_name\n"+ada+",Ada\n")
	e.launch("b", mustJourney(t, longJourney), "phone,first_name\n"+ada+",Ada\n")
	eventually(t, 20*time.Second, "first SMS of both journeys", func() bool { return len(e.sentTo(ada)) == 2 })

	if code := e.inbound(ada, "Stop."); code != 200 {
		t.Fatalf("STOP answered %d", code)
	}
	stoppedAt := time.Now()
	if d := e.consentOf(ada); d.Allowed {
		t.Fatal("consent not recorded before the 2xx")
	}
	for _, run := range []string{"a", "b"} {
		res := e.result(run, ada)
		if res.State != workflows.StateStopped || res.Summary != "sent 1, stopped: opted_out at step 1" {
			t.Errorf("journey %s: %+v", run, res)
		}
	}
	t.Logf("both journeys stopped %v after the STOP's 2xx", time.Since(stoppedAt).Round(time.Millisecond))
	eventually(t, 10*time.Second, "confirmation", func() bool { return len(e.sentTo(ada)) == 3 })

	// A redelivery of the same STOP (same MessageSid) changes nothing.
	events, _ := e.app.Store.Events(context.Background(), e.key(ada))
	// The text stays in inbound_messages; the event says why (issue 11).
	if len(events) != 1 || events[0].To != consent.OptedOut || events[0].RawText != "" || events[0].Rule != "exact" || events[0].Keyword != "STOP" {
		t.Fatalf("events: %+v", events)
	}
	form := url.Values{"MessageSid": {"SMdup"}, "From": {ada}, "To": {sender}, "Body": {"STOP"}}
	if e.postTwilio(form) != 200 || e.postTwilio(form) != 200 {
		t.Fatal("redelivery not 2xx")
	}
	time.Sleep(time.Second)
	got := e.sentTo(ada)
	if len(got) != 4 { // the first STOP's confirmation and the new STOP message's own, no more
		t.Fatalf("SMS to recipient: %q", got)
	}
	if !strings.Contains(got[2], "unsubscribed") {
		t.Errorf("confirmation %q", got[2])
	}
	if v := e.optOutView(ada); v.Scopes[sender] != "opted_out" {
		t.Errorf("consent query: %+v", v)
	}
}

func TestHelpStartAndProviderHandledStop(t *testing.T) {
	e := newEnv(t, withWebhooks)

	// HELP is answered even to an opted-out recipient.
	e.inbound(grace, "STOP")
	eventually(t, 10*time.Second, "STOP confirmation", func() bool { return len(e.sentTo(grace)) == 1 })
	e.inbound(grace, "help")
	eventually(t, 10*time.Second, "HELP reply", func() bool { return len(e.sentTo(grace)) == 2 })
	if h := e.sentTo(grace)[1]; !strings.Contains(h, "Msg & data rates may apply") || !strings.Contains(h, "STOP") {
		t.Errorf("HELP reply %q", h)
	}

	// START gives consent back: a new journey sends.
	e.inbound(grace, "START")
	eventually(t, 10*time.Second, "START recorded", func() bool { return e.consentOf(grace).Allowed })
	eventually(t, 10*time.Second, "START confirmation", func() bool { return len(e.sentTo(grace)) == 3 })
	e.launch("after-start", mustJourney(t, threeSteps), "phone,first_name,code\n"+grace+",Grace,G\n")
	if res := e.result("after-start", grace); res.Summary != "sent 2" {
		t.Errorf("journey after START: %+v", res)
	}

	// Twilio Advanced Opt-Out already replied: stopline must not.
	if code := e.inbound(alan, "STOP", "OptOutType", "STOP"); code != 200 {
		t.Fatalf("answered %d", code)
	}
	eventually(t, 10*time.Second, "opt-out workflow handled it", func() bool {
		v, err := temporalClient.QueryWorkflow(context.Background(), workflows.OptOutID(e.key(alan)), "", contract.QueryConsent)
		var st contract.OptOutState
		return err == nil && v.Get(&st) == nil && len(st.Recent) == 1
	})
	if e.consentOf(alan).Allowed {
		t.Error("provider-handled STOP not recorded")
	}
	if got := e.sentTo(alan); len(got) != 0 {
		t.Errorf("stopline replied after Twilio did: %q", got)
	}
}

func TestUnsignedWebhookRecordsNothing(t *testing.T) {
	e := newEnv(t, withWebhooks)
	form := url.Values{"MessageSid": {"SMforged"}, "From": {ada}, "To": {sender}, "Body": {"STOP"}}
	req, _ := http.NewRequest(http.MethodPost, "http://"+e.app.HTTPAddr()+webhook.PathTwilio, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", smstest.TwilioSignature(smstest.AuthToken, "http://"+e.app.HTTPAddr()+webhook.PathTwilio, form))
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
	e := newEnv(t, withWebhooks)
	e.twilio.SetDelay(3 * time.Second) // the first send holds the recipient's lock this long
	e.launch("drip", mustJourney(t, longJourney), "phone,first_name\n"+num+",Ada\n")
	eventually(t, 20*time.Second, "first send in flight", func() bool { return e.twilio.Calls() == 1 })

	stopDone := make(chan time.Time, 1)
	go func() {
		if code := e.inbound(num, "STOP"); code != 200 {
			t.Errorf("STOP answered %d", code)
		}
		stopDone <- time.Now()
	}()
	time.Sleep(300 * time.Millisecond)
	if code := e.inbound(num, "HELP"); code != 200 {
		t.Fatalf("HELP answered %d", code)
	}
	helpAt := time.Now()
	stopAt := <-stopDone
	if !stopAt.After(helpAt) {
		t.Fatalf("the STOP was answered before the HELP (%v): the race this test is about did not happen", helpAt.Sub(stopAt))
	}
	rows, err := e.app.Store.Pool().Query(context.Background(), `SELECT body FROM inbound_messages WHERE from_number = $1 ORDER BY id`, num)
	if err != nil {
		t.Fatal(err)
	}
	bodies, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || strings.Join(bodies, ",") != "STOP,HELP" {
		t.Fatalf("inbound messages by ID: %q, %v; want STOP then HELP", bodies, err)
	}

	if res := e.result("drip", num); res.State != workflows.StateStopped || res.Summary != "sent 1, stopped: opted_out at step 1" {
		t.Errorf("journey: %+v", res)
	}
	eventually(t, 20*time.Second, "HELP reply and STOP confirmation", func() bool { return len(e.sentTo(num)) == 3 })
	if got := e.sentTo(num); !strings.Contains(got[1]+got[2], "unsubscribed") || !strings.Contains(got[1]+got[2], "Msg & data rates") {
		t.Errorf("SMS to recipient: %q", got)
	}
	e.replay(workflows.OptOutID(e.key(num)), "optout-stop-after-later-help")
	e.replay(workflows.JourneyID(e.run("drip"), e.key(num)), "journey-stopped-by-late-stop")
}
