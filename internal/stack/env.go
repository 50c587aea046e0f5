package stack

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/sms/smstest"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/internal/webhook"
	"github.com/stopline/stopline/workflows"
)

// Env is a Stack of one test: it closes when the test ends, and its
// helpers fail the test instead of returning errors.
type Env struct {
	*Stack
	T testing.TB
}

// New starts a stack for a test (see Start).
func New(t testing.TB, o Options, adjust ...func(*app.Config)) *Env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, o, adjust...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &Env{Stack: s, T: t}
}

// Launch starts the journey for an inline CSV audience; every start must
// succeed.
func (e *Env) Launch(runID string, def *journey.Definition, csv string) *launch.Summary {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := launch.Run(ctx, strings.NewReader(csv), launch.Options{RunID: e.Run(runID), Journey: def, Region: "US", Keyer: e.Keyer}, e.Starter())
	if err != nil {
		e.T.Fatal(err)
	}
	if len(sum.Failed) > 0 {
		e.T.Fatalf("launch %s: %d starts failed, first: %v", runID, len(sum.Failed), sum.Failed[0])
	}
	return sum
}

// StartJourney starts one journey for an E.164 number without a CSV; safe
// to call from several goroutines.
func (e *Env) StartJourney(runID string, def *journey.Definition, number string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key := e.Key(number)
	_, err := e.Starter().Start(ctx, workflows.JourneyID(e.Run(runID), key), workflows.JourneyInput{
		RunID: e.Run(runID), Journey: *def, Phone: number, RecipientKey: key,
	})
	return err
}

// Result waits for a journey to end and returns its result.
func (e *Env) Result(runID, number string) workflows.JourneyResult {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var res workflows.JourneyResult
	if err := e.Client().GetWorkflow(ctx, workflows.JourneyID(e.Run(runID), e.Key(number)), "").Get(ctx, &res); err != nil {
		e.T.Fatalf("journey of %s: %v", phone.Mask(number), err)
	}
	return res
}

// PublicURL is what signed webhooks claim Twilio called; the requests
// themselves go to the app's local listener.
const PublicURL = "https://sms.stopline.test"

// Webhooks makes the app serve the webhook bridge on a free local port,
// checking Twilio signatures against PublicURL.
func Webhooks(c *app.Config) {
	c.HTTPAddr = "127.0.0.1:0"
	c.Webhooks = webhook.Config{PublicURL: PublicURL, TwilioAuthToken: smstest.AuthToken}
}

var sidSeq atomic.Int64

// NewMessageSid is a MessageSid no other inbound of this process has.
func NewMessageSid() string { return fmt.Sprintf("SM%032d", sidSeq.Add(1)) }

// TwilioInbound is the form Twilio posts for an SMS from a number to
// testkit.Sender (the fields stopline reads; Twilio sends more).
func TwilioInbound(messageSid, from, body string) url.Values {
	return url.Values{
		"MessageSid": {messageSid}, "AccountSid": {smstest.AccountSID},
		"From": {from}, "To": {testkit.Sender}, "Body": {body}, "NumMedia": {"0"}, "ApiVersion": {"2010-04-01"},
	}
}

// SignTwilio signs a form as Twilio signs it for PublicURL.
func SignTwilio(form url.Values) string {
	return smstest.TwilioSignature(smstest.AuthToken, PublicURL+webhook.PathTwilio, form)
}

// TwilioRequest is a signed Twilio inbound webhook to the app (see Webhooks).
func (s *Stack) TwilioRequest(form url.Values) *http.Request {
	req, err := http.NewRequest(http.MethodPost, "http://"+s.App.HTTPAddr()+webhook.PathTwilio, strings.NewReader(form.Encode()))
	if err != nil {
		panic(err) // the URL is the app's own listener
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", SignTwilio(form))
	return req
}

// Inbound posts a signed Twilio inbound SMS from a number to
// testkit.Sender, with extra form fields as name, value pairs, and returns
// the status code.
func (e *Env) Inbound(from, body string, extra ...string) int {
	e.T.Helper()
	form := TwilioInbound(NewMessageSid(), from, body)
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return e.PostTwilio(form)
}

// PostTwilio posts a signed Twilio inbound webhook and returns the status
// code.
func (e *Env) PostTwilio(form url.Values) int {
	e.T.Helper()
	resp, err := http.DefaultClient.Do(e.TwilioRequest(form))
	if err != nil {
		e.T.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
