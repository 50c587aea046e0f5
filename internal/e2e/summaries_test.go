package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// TestDevUIShowsStepSummaries reads journeys in the -dev UI as an operator
// does: the run's workflow list (filtered by JourneyRunID) lists the run's
// journey, a journey's page shows its static summary and its steps'
// summaries, decoded through the codec server, and its status query
// answers. A second run held by quiet hours shows why it waits. A missing
// summary fails the test.
func TestDevUIShowsStepSummaries(t *testing.T) {
	chromium := chromiumPath(t)
	a, ui := startDev(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	start := func(runID, journeyJSON, phone string) string {
		t.Helper()
		csv := "phone,first_name,code\n" + phone + "," + zoltanaName + ",4821\n"
		sum, err := launch.Run(ctx, strings.NewReader(csv), launch.Options{RunID: runID, Journey: testkit.MustJourney(journeyJSON), Region: "US", Keyer: a.Keyer},
			launch.TemporalStarter{Client: a.Temporal, TaskQueue: workflows.TaskQueue})
		if err != nil || sum.Started != 1 {
			t.Fatalf("launch %s: %+v, %v", runID, sum, err)
		}
		return workflows.JourneyID(runID, a.Keyer.Key(phone))
	}
	id := start("ui13", privacyJourney, zoltana)
	quietID := start("ui13-quiet", `{"name": "quiet", "category": "marketing",
		"sender": {"provider": "twilio", "from": "`+testkit.Sender+`", "type": "long_code", "quiet_hours": `+closedHours(time.Now())+`},
		"steps": [{"sms": "Deal"}]}`, "+14155557011")

	// Both wait: the first in its wait step, the second for its window.
	var status contract.JourneyStatus
	testkit.Eventually(t, time.Minute, "both journeys waiting", func() bool {
		var q contract.JourneyStatus
		v, err := a.Temporal.QueryWorkflow(ctx, quietID, "", contract.QueryStatus)
		if err != nil || v.Get(&q) != nil || q.DeferredUntil.IsZero() {
			return false
		}
		v, err = a.Temporal.QueryWorkflow(ctx, id, "", contract.QueryStatus)
		return err == nil && v.Get(&status) == nil && !status.WaitingUntil.IsZero()
	})

	browser := newBrowser(ctx, t, chromium)
	base := "http://" + ui + "/namespaces/default/workflows"

	// The list page asks visibility once when it loads and does not poll,
	// and visibility indexes a start a moment after it happens (longer on a
	// loaded machine): the page is opened once the same query lists the
	// journey, as an operator would press Refresh.
	query := `JourneyRunID = "ui13"`
	testkit.Eventually(t, time.Minute, "visibility lists the run's journey", func() bool {
		resp, err := a.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		return err == nil && len(resp.GetExecutions()) == 1
	})
	list := base + "?query=" + url.QueryEscape(query)
	wantList := []string{id}
	text, shot := openPage(browser, t, list, "run list", containsAll(wantList...))
	t.Logf("run list: screenshot %s", shot)
	requireAll(t, "the run's workflow list", text, wantList...)
	if strings.Contains(text, quietID) {
		t.Errorf("the list filtered by JourneyRunID = \"ui13\" shows %s of another run", quietID)
	}

	for _, tt := range []struct {
		name, id  string
		summaries []string
	}{
		{"journey history", id, []string{workflows.StaticSummary(testkit.MustJourney(privacyJourney), "ui13"),
			"SMS step 0 (marketing)", "consent check step 0 (marketing)", "wait 1h (step 1)", "register journey"}},
		{"quiet journey history", quietID, []string{"quiet hours until ", " America/Los_Angeles (step 0)"}},
	} {
		page := base + "/" + url.PathEscape(tt.id) + "/" + runIDOf(ctx, t, a, tt.id)
		text, shot := openPage(browser, t, page+"/history", tt.name, containsAll(tt.summaries...))
		t.Logf("%s: screenshot %s", tt.name, shot)
		requireAll(t, tt.name, text, tt.summaries...)
	}

	// The status query, run from the journey's Queries tab.
	page := base + "/" + url.PathEscape(id) + "/" + runIDOf(ctx, t, a, id) + "/query"
	wantQuery := []string{`"journey"`, `"privacy"`, `"waiting_until"`}
	text, shot = runQuery(browser, t, page, contract.QueryStatus, containsAll(wantQuery...))
	t.Logf("status query: screenshot %s", shot)
	requireAll(t, "the status query", text, wantQuery...)
}

// runQuery opens a journey's Queries tab, picks the query type name, presses
// Run Query, and returns the page's text once done holds (or 30 seconds
// pass) with a screenshot.
func runQuery(browser context.Context, t *testing.T, page, name string, done func(string) bool) (string, string) {
	t.Helper()
	pick := fmt.Sprintf(`(() => {
		const opt = [...document.querySelectorAll('#query-select-select [role="option"], #query-select-select li')].find(o => o.innerText.trim().split('\n')[0].trim() === %q);
		if (!opt) {
			const sel = document.querySelector('[data-testid="query-select-button"]');
			if (!sel) return 'no select';
			sel.click();
			return 'opened: ' + document.body.innerText.slice(-800);
		}
		opt.click();
		const run = [...document.querySelectorAll('button')].find(b => b.innerText.trim() === 'Run Query');
		if (!run) return 'no button';
		run.click();
		return 'ran';
	})()`, name)
	var state string
	text, shot := drivePage(browser, t, page, "status query", done, func(tab context.Context) {
		state, _ = chromedp.Run(tab, chromedp.Evaluate[string](pick))
	})
	if !done(text) {
		t.Logf("status query: last step %q", state)
	}
	return text, shot
}

func runIDOf(ctx context.Context, t *testing.T, a *app.App, id string) string {
	desc, err := a.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	return desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
}

func containsAll(want ...string) func(string) bool {
	return func(text string) bool {
		for _, w := range want {
			if !strings.Contains(text, w) {
				return false
			}
		}
		return true
	}
}

func requireAll(t *testing.T, what, text string, want ...string) {
	t.Helper()
	var missing []string
	for _, w := range want {
		if !strings.Contains(text, w) {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%s: missing %q; page text:\n%s", what, missing, text)
	}
}
