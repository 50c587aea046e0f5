package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// An opt-out staff record through the admin API goes through the
// recipient's Recipient workflow, like a STOP: the waiting journey is
// cancelled at once, no reply goes out, and the workflow's consent query
// lists the change.
func TestStaffOptOutThroughRecipientWorkflow(t *testing.T) {
	token := strings.Repeat("t", 32)
	e := newEnv(t, stack.Webhooks, func(c *app.Config) { c.AdminAddr, c.AdminToken = "127.0.0.1:0", token })
	def := testkit.MustJourney(`{"name": "welcome", "category": "marketing", "sender": ` + testkit.AnyHourSender + `,
		"steps": [{"sms": "Hi"}, {"wait": "1h"}, {"sms": "Bye"}]}`)
	if err := e.StartJourney("staff", def, ada); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "first SMS", func() bool { return len(e.SentTo(ada)) == 1 })

	body := `{"phone": "` + ada + `", "scope": "+15550001111", "note": "called support"}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+e.App.AdminAddr()+"/v1/consent/optout", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin optout: %d", resp.StatusCode)
	}

	if res := e.Result("staff", ada); res.State != workflows.StateStopped || res.Summary != "sent 1, stopped: opted_out at step 1" {
		t.Errorf("journey: state %q summary %q", res.State, res.Summary)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var st contract.RecipientState
	v, err := e.Client().QueryWorkflow(ctx, workflows.RecipientID(e.Key(ada)), "", contract.QueryConsent)
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		t.Fatalf("consent query: %v", err)
	}
	if len(st.Recent) != 1 || st.Recent[0].Source != "admin" || st.Recent[0].Intent != contract.IntentOptOut ||
		st.Recent[0].Cancelled != 1 || st.Recent[0].Reply != "" || st.Scopes["+15550001111"] != "opted_out" {
		t.Errorf("consent query: %+v", st)
	}
	if got := e.SentTo(ada); len(got) != 1 {
		t.Errorf("SMS after the staff opt-out: %q", got)
	}
}
