package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/metrics"
	"github.com/stopline/stopline/internal/sms/smstest"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/internal/webhook"
	"github.com/stopline/stopline/workflows"
)

// scrape returns the worker's GET /metrics.
func (e *env) scrape() string {
	e.T.Helper()
	resp, err := http.Get("http://" + e.App.MetricsAddr() + "/metrics")
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		e.T.Fatalf("GET /metrics: %d %v\n%s", resp.StatusCode, err, b)
	}
	return string(b)
}

// sample is the value of one series (name{labels} as served, labels in
// alphabetical order), 0 if absent.
func sample(scrape, series string) float64 {
	for _, l := range strings.Split(scrape, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// One worker runs every path the dashboard and the alerts watch: journeys
// sending (one send retried after a 429), a send skipped for an opt-out, one
// deferred by quiet hours, STOP and HELP with their replies, a forged
// webhook. Then:
//   - every metric name in deploy/grafana/stopline.json and
//     deploy/prometheus/alerts.yml is on /metrics, so renaming a metric
//     breaks this test rather than the dashboard;
//   - each fact is counted exactly once, although the worker's cache was
//     purged mid-journey so the journeys replayed their histories, and the
//     histories were replayed again afterwards.
func TestMetricsCoverDashboardAndAlerts(t *testing.T) {
	e := newEnv(t, stack.Webhooks)
	const (
		optedOut = "+14155557010"
		deferred = "+14155557011"
		helper   = "+14155557012"
	)
	drip := testkit.MustJourney(`{"name": "drip", "category": "marketing", "sender": ` + testkit.AnyHourSender + `,
		"steps": [{"sms": "Hi {{.first_name}}"}, {"wait": "3s"}, {"sms": "Later"}]}`)
	recipients := []string{"+14155557001", "+14155557002", "+14155557003"}
	csv := "phone,first_name\n"
	for _, r := range recipients {
		csv += r + ",R\n"
	}
	e.Twilio.Fail(1, 429, `{"code": 20429, "message": "Too Many Requests", "status": 429}`)
	e.Launch("drip", drip, csv)
	testkit.Eventually(t, 30*time.Second, "first SMS to everyone", func() bool { return len(e.Twilio.Accepted()) == len(recipients) })
	// The journeys' next workflow tasks replay their histories from the
	// start: what they counted must not be counted again.
	worker.PurgeStickyWorkflowCache()

	// A STOP, then a journey to that recipient: skipped.
	if code := e.Inbound(optedOut, "STOP"); code != 200 {
		t.Fatalf("STOP answered %d", code)
	}
	// Once the STOP was handled, so its cancellation cannot stop the journey first.
	testkit.Eventually(t, 20*time.Second, "the STOP handled", func() bool { return sample(e.scrape(), "stopline_optout_cancel_seconds_count") == 1 })
	late := testkit.MustJourney(`{"name": "late", "category": "marketing", "sender": ` + testkit.AnyHourSender + `, "steps": [{"sms": "Hi"}]}`)
	if err := e.StartJourney("late", late, optedOut); err != nil {
		t.Fatal(err)
	}
	if res := e.Result("late", optedOut); res.State != workflows.StateSkipped {
		t.Fatalf("journey after STOP: %+v", res)
	}

	// A journey held by quiet hours, then stopped by its recipient.
	quiet := testkit.MustJourney(`{"name": "quiet", "category": "marketing",
		"sender": {"provider": "twilio", "from": "` + testkit.Sender + `", "type": "long_code", "quiet_hours": ` + closedHours(time.Now()) + `},
		"steps": [{"sms": "Deal"}]}`)
	if err := e.StartJourney("quiet", quiet, deferred); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the quiet-hours deferral", func() bool { return !e.status("quiet", deferred).DeferredUntil.IsZero() })
	if code := e.Inbound(deferred, "STOP"); code != 200 {
		t.Fatalf("STOP answered %d", code)
	}
	if res := e.Result("quiet", deferred); res.State != workflows.StateStopped {
		t.Fatalf("deferred journey after STOP: %+v", res)
	}

	if code := e.Inbound(helper, "HELP"); code != 200 {
		t.Fatalf("HELP answered %d", code)
	}
	forged := url.Values{"MessageSid": {"SMforged"}, "AccountSid": {smstest.AccountSID}, "From": {helper}, "To": {testkit.Sender}, "Body": {"START"}}
	resp, err := http.PostForm("http://"+e.App.HTTPAddr()+webhook.PathTwilio, forged)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned webhook answered %d", resp.StatusCode)
	}

	for _, r := range recipients {
		if res := e.Result("drip", r); res.Summary != "sent 2" {
			t.Fatalf("drip to %s: %+v", r, res)
		}
	}
	replies := `stopline_replies_total{kind="confirmation",outcome="sent"}`
	testkit.Eventually(t, 20*time.Second, "the STOP confirmations and the HELP reply", func() bool {
		out := e.scrape()
		return sample(out, replies) == 2 && sample(out, `stopline_replies_total{kind="help",outcome="sent"}`) == 1
	})

	out := e.scrape()
	names := dashboardAndAlertMetrics(t)
	for _, name := range names {
		if !regexp.MustCompile(`(?m)^` + name + `[{ ]`).MatchString(out) {
			t.Errorf("%s (used by the dashboard or the alerts) is not on /metrics", name)
		}
	}
	t.Logf("%d metric names of the dashboard and alerts checked", len(names))

	const sms = `stopline_sms_total{category="marketing",outcome="%s",provider="twilio"}`
	want := map[string]float64{
		fmt.Sprintf(sms, metrics.SMSSent):               6,
		fmt.Sprintf(sms, metrics.SMSSkippedOptedOut):    1,
		fmt.Sprintf(sms, metrics.SMSDeferredQuietHours): 1,
		replies: 2,
		`stopline_provider_errors_total{code="20429",provider="twilio"}`:                                      1,
		`stopline_inbound_total{intent="opt_out",outcome="committed",provider="twilio",rule="exact"}`:         2,
		`stopline_inbound_total{intent="help",outcome="committed",provider="twilio",rule="exact"}`:            1,
		`stopline_inbound_total{intent="unknown",outcome="rejected_signature",provider="twilio",rule="none"}`: 1,
		`stopline_optout_cancel_seconds_count`:                                                                2,
		// Only the second STOP had a running journey to close.
		`stopline_optout_closed_seconds_count`:           1,
		`stopline_journeys_active{category="marketing"}`: 0,
		`stopline_redriver_pending`:                      0,
	}
	check := func(when string, out string) {
		t.Helper()
		for series, n := range want {
			if got := sample(out, series); got != n {
				t.Errorf("%s: %s = %v, want %v", when, series, got, n)
			}
		}
	}
	check("after the run", out)
	if sample(out, `stopline_consent_check_seconds_count{outcome="allowed"}`) < 6 {
		t.Errorf("consent checks not measured:\n%s", grepLines(out, "stopline_consent"))
	}
	if misses := sumOf(out, "temporal_sticky_cache_miss_total"); misses == 0 {
		t.Error("no workflow task replayed after the cache purge: the replay part of this test did not happen")
	}

	for _, r := range recipients {
		e.replay(workflows.JourneyID(e.Run("drip"), e.Key(r)), "journey-counted-once")
	}
	check("after replaying the histories", e.scrape())
}

// closedHours are quiet hours for the "quiet" journey whose one-hour window
// is closed at now in America/Los_Angeles (the test numbers' zone).
func closedHours(now time.Time) string {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		panic(err)
	}
	start := (now.In(la).Hour() + 2) % 24
	return fmt.Sprintf(`{"start": "%02d:00", "end": "%02d:00", "legal_override": "test: a window that is closed now"}`, start, start+1)
}

var metricName = regexp.MustCompile(`\b(?:stopline|temporal)_[a-z0-9_]+`)

// dashboardAndAlertMetrics lists the metric names the shipped dashboard
// and alert rules query.
func dashboardAndAlertMetrics(t *testing.T) []string {
	seen := map[string]bool{}
	var names []string
	for _, f := range []string{"../../deploy/grafana/stopline.json", "../../deploy/prometheus/alerts.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range metricName.FindAllString(string(b), -1) {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	if len(names) < 10 {
		t.Fatalf("only %d metric names found in the dashboard and alerts: %v", len(names), names)
	}
	return names
}

// sumOf adds up every series of a metric.
func sumOf(scrape, name string) float64 {
	var sum float64
	for _, l := range strings.Split(scrape, "\n") {
		if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
			f, _ := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
			sum += f
		}
	}
	return sum
}

func grepLines(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The scrape reads Postgres (the re-driver backlog, active_journeys) on
// every call: time it with journeys waiting in the worker (200, or
// STOPLINE_SCRAPE_JOURNEYS) and 10,000 registered as running (the rest
// inserted directly). The timing is logged, not asserted.
func TestScrapeWithManyWaitingJourneys(t *testing.T) {
	const registered = 10000
	started := 200
	if n, err := strconv.Atoi(os.Getenv("STOPLINE_SCRAPE_JOURNEYS")); err == nil && n > 0 && n <= registered {
		started = n
	}
	e := newEnv(t, stack.Webhooks)
	wait := testkit.MustJourney(`{"name": "wait", "category": "marketing", "sender": ` + testkit.AnyHourSender + `,
		"steps": [{"wait": "1h"}, {"sms": "Later"}]}`)
	var csv strings.Builder
	csv.WriteString("phone\n")
	for i := range started {
		fmt.Fprintf(&csv, "+1415%07d\n", 5560000+i)
	}
	begin := time.Now()
	e.Launch("wait", wait, csv.String())
	launched := time.Since(begin)
	testkit.Eventually(t, 5*time.Minute, "the journeys waiting", func() bool {
		n, err := e.App.Store.ActiveJourneyCounts(context.Background())
		return err == nil && n["marketing"] == started
	})
	t.Logf("%d journeys started in %v, all waiting after %v", started, launched.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))
	_, err := e.App.Store.Pool().Exec(context.Background(), `INSERT INTO active_journeys (workflow_id, recipient_key, scope, category)
		SELECT 'journey/filler/' || i, 'filler' || i, '+15550001111', 'marketing' FROM generate_series(1, $1) i`, registered-started)
	if err != nil {
		t.Fatal(err)
	}

	const scrapes = 20
	took := make([]time.Duration, scrapes)
	var out string
	for i := range took {
		start := time.Now()
		out = e.scrape()
		took[i] = time.Since(start)
	}
	slices.Sort(took)
	active := `stopline_journeys_active{category="marketing"}`
	if got := sample(out, active); got != registered {
		t.Fatalf("%s = %v, want %d", active, got, registered)
	}
	t.Logf("GET /metrics with %d journeys waiting, %d registered: median %v, max %v over %d scrapes, %d bytes",
		started, registered, took[scrapes/2].Round(time.Microsecond), took[scrapes-1].Round(time.Microsecond), scrapes, len(out))
}

// With -metrics-addr, /metrics is served there and not on the public
// listener.
func TestMetricsOnOwnListener(t *testing.T) {
	e := newEnv(t, stack.Webhooks, func(c *app.Config) { c.MetricsAddr = "127.0.0.1:0" })
	if e.App.MetricsAddr() == e.App.HTTPAddr() {
		t.Fatalf("metrics served on the HTTP listener %s", e.App.HTTPAddr())
	}
	if out := e.scrape(); !strings.Contains(out, "# TYPE stopline_optout_cancel_seconds histogram") {
		t.Errorf("metrics listener serves no stopline metrics:\n%.500s", out)
	}
	resp, err := http.Get("http://" + e.App.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on the public listener: %d, want 404", resp.StatusCode)
	}
}
