package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/stopline/stopline/internal/admin"
	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// TestForget erases a person with a journey running and messages stored:
// the journey ends and its history is deleted, no table holds the number
// or a text in readable form, the consent events stay, a later message
// from the number is readable (the intake's cached key was dropped), and a
// new journey to the number is skipped as opted out.
func TestForget(t *testing.T) {
	const (
		number = "+14155550166"
		secret = "Zoltana"
	)
	token := strings.Repeat("t", 32)
	e := newEnv(t, stack.Webhooks, func(c *app.Config) { c.AdminAddr, c.AdminToken = "127.0.0.1:0", token })
	def := testkit.MustJourney(`{"name": "welcome", "category": "marketing", "sender": ` + testkit.AnyHourSender + `,
		"steps": [{"sms": "Hi"}, {"wait": "1h"}, {"sms": "Bye"}]}`)
	if err := e.StartJourney("first", def, number); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "first SMS", func() bool { return len(e.SentTo(number)) == 1 })
	if code := e.Inbound(number, "who is this? "+secret+" here, 415 555 0166"); code != 200 {
		t.Fatalf("inbound: %d", code)
	}
	key := e.Key(number)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if msgs, err := e.App.Store.InboundMessages(ctx, key); err != nil || len(msgs) != 1 || !strings.Contains(msgs[0].Body, secret) {
		t.Fatalf("inbound before forget: %+v, %v", msgs, err)
	}
	journeyID := workflows.JourneyID(e.Run("first"), key)
	if _, err := e.Client().DescribeWorkflowExecution(ctx, journeyID, ""); err != nil {
		t.Fatalf("the journey before forget: %v", err) // or its deletion below would prove nothing
	}

	code, body := call(t, "POST", "http://"+e.App.AdminAddr()+"/v1/consent/forget", token,
		strings.NewReader(`{"phone": "`+number+`", "by": "dpo@example.com", "note": "request 4711"}`))
	var res admin.ForgetResult
	if code != 200 || json.Unmarshal([]byte(body), &res) != nil {
		t.Fatalf("forget: %d %s", code, body)
	}
	if !res.OptedOut || !res.DataKeyDestroyed || res.JourneysCancelled != 1 || res.ExecutionsDeleted < 2 || res.TemporalError != "" {
		t.Errorf("forget = %s; want an opt-out, the key destroyed, the journey cancelled, it and the OptOut workflow deleted", body)
	}

	// The journey has ended (its deletion is checked last: the server
	// carries a delete out in the background).
	if d, err := e.Client().DescribeWorkflowExecution(ctx, journeyID, ""); err == nil && d.WorkflowExecutionInfo.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("journey still running after forget")
	}
	if running, err := e.App.Store.ActiveJourneys(ctx, key, contract.AllScopes); err != nil || len(running) != 0 {
		t.Errorf("registered journeys after forget: %v, %v", running, err)
	}

	// Nothing readable left in any table.
	for _, table := range []string{"consent", "consent_events", "send_ledger", "sandbox_messages", "active_journeys",
		"inbound_messages", "status_optouts", "data_keys", "audit_log"} {
		var all string
		if err := e.App.Store.Pool().QueryRow(ctx, `SELECT coalesce(string_agg(t::text, E'\n'), '') FROM `+table+` t`).Scan(&all); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{number, "4155550166", "5550166", secret, "who is this"} {
			if n := strings.Count(all, s); n != 0 {
				t.Errorf("%s holds %q %d times after forget", table, s, n)
			}
		}
	}
	msgs, err := e.App.Store.InboundMessages(ctx, key)
	if err != nil || len(msgs) != 1 || msgs[0].Body != store.Erased || msgs[0].From != store.Erased {
		t.Errorf("inbound after forget: %+v, %v; want the message, erased", msgs, err)
	}
	if events, err := e.App.Store.Events(ctx, key); err != nil || len(events) == 0 || events[len(events)-1].Scope != contract.AllScopes {
		t.Errorf("events after forget: %+v, %v; want them kept, the last the opt-out from every scope", events, err)
	}

	// The intake had the key cached; the forget dropped it there too, so
	// a later message is sealed under a new key and reads back.
	if code := e.Inbound(number, "new phone, "+secret+" again"); code != 200 {
		t.Fatalf("inbound after forget: %d", code)
	}
	if msgs, err := e.App.Store.InboundMessages(ctx, key); err != nil || len(msgs) != 2 || msgs[1].Body != "new phone, "+secret+" again" {
		t.Errorf("inbound after forget: %+v, %v; want the new message readable", msgs, err)
	}

	// A later journey to the same number computes the same key: skipped.
	if err := e.StartJourney("again", def, number); err != nil {
		t.Fatal(err)
	}
	if res := e.Result("again", number); res.State != workflows.StateSkipped || res.Reason != contract.ReasonOptedOut {
		t.Errorf("journey after forget: %+v; want skipped as opted out", res)
	}
	if got := e.SentTo(number); len(got) != 1 {
		t.Errorf("SMS to the number: %q; want only the first", got)
	}

	// The journey's execution and the per-recipient workflow's are deleted
	// from Temporal, histories and all (20-35 s after the forget on the
	// embedded server).
	for _, id := range []string{journeyID, workflows.RecipientID(key)} {
		testkit.Eventually(t, 90*time.Second, id+" deleted from Temporal", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := e.Client().DescribeWorkflowExecution(ctx, id, "")
			var gone *serviceerror.NotFound
			return errors.As(err, &gone)
		})
	}
}
