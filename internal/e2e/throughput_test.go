package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/testkit"
)

// A sender's max_per_second holds across worker processes: two workers
// (two app instances on one task queue) send 100 journeys' messages from a
// sender limited to 5 per second. The server's limiter is a token bucket
// whose burst is the rate (matching's ratelimit_manager.go: burst =
// ceil(rps)), so a second after a lull may hold the refilled bucket plus
// that second's own: the documented tolerance is one rate more, plus
// rateTolerance for the jitter between dispatch and the provider call. The
// whole takes at least (100 - 2×5) / 5 s from start to last send,
// less dispatchJitter between first and last accept time. A
// HELP to the limited sender meanwhile is answered before the campaign
// ends: replies do not queue behind it. The workers wait only 2 s for a
// provider's worker (ProviderWait), far less than the backlog: a send held
// back by the rate is not counted as waiting_provider.
func TestSenderMaxPerSecond(t *testing.T) {
	const (
		limited = "+15550004444"
		rate    = 5
		sends   = 100
		// Accept times trail dispatch by the call's latency, which moves a
		// send into the next second now and then.
		rateTolerance = 2
		// The same latency, at a load average of 20, moved the first and
		// last accept times up to a second against dispatch.
		dispatchJitter = 2 * time.Second
	)
	path := filepath.Join(t.TempDir(), "senders.json")
	cfg := fmt.Sprintf(`{"senders": [{"provider": "twilio", "from": %q, "type": "long_code", "max_per_second": %d}]}`, limited, rate)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var shared app.Config
	e := newEnv(t, stack.Webhooks, func(c *app.Config) { c.SendersFile, c.ProviderWait = path, 2*time.Second; shared = *c })
	shared.HTTPAddr, shared.AdminAddr = "", "" // the second worker serves no HTTP
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	second, err := app.Start(ctx, shared)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Stop)

	def := testkit.MustJourney(`{"name": "burst", "category": "marketing",
		"sender": {"provider": "twilio", "from": "` + limited + `", "type": "long_code", "quiet_hours": {"start": "00:00", "end": "24:00", "legal_override": "test journeys run at any hour"}},
		"steps": [{"sms": "Flash sale"}]}`)
	numbers := make([]string, sends)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+1415558%04d", i)
	}
	start := time.Now()
	var (
		wg  sync.WaitGroup
		sem = make(chan struct{}, 16)
	)
	for _, n := range numbers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := e.StartJourney("burst", def, n); err != nil {
				t.Errorf("start: %v", err)
			}
		}()
	}
	wg.Wait()

	// A HELP while the campaign queues: its reply bypasses the limit.
	testkit.Eventually(t, 30*time.Second, "the campaign under way", func() bool { return len(e.Twilio.Accepted()) >= 10 })
	helper := "+14155559999"
	if code := e.Inbound(helper, "HELP", "To", limited); code != 200 {
		t.Fatalf("HELP answered %d", code)
	}
	helpAt := time.Now()
	// The check that it did not queue is against the campaign's last send
	// (below); this wait only has to outlast a loaded machine.
	testkit.Eventually(t, 30*time.Second, "the HELP reply", func() bool { return len(e.SentTo(helper)) == 1 })
	helpTook := time.Since(helpAt)
	helpedAt := time.Now()
	for _, m := range e.Twilio.Accepted() {
		if m.To == helper {
			helpedAt = m.At
		}
	}

	for _, n := range numbers {
		if res := e.Result("burst", n); res.Summary != "sent 1" {
			t.Errorf("journey of %s: %s", n, res.Summary)
		}
	}
	took := time.Since(start)

	perSecond := map[int64]int{}
	var first, last time.Time
	for _, m := range e.Twilio.Accepted() {
		if m.From != limited || m.To == helper {
			continue
		}
		perSecond[m.At.Unix()]++
		if first.IsZero() || m.At.Before(first) {
			first = m.At
		}
		if m.At.After(last) {
			last = m.At
		}
	}
	busiest := slices.Max(slices.Collect(maps.Values(perSecond)))
	var seconds []int
	for _, sec := range slices.Sorted(maps.Keys(perSecond)) {
		seconds = append(seconds, perSecond[sec])
	}
	t.Logf("sends per second: %v", seconds)
	t.Logf("%d sends at max %d/s by 2 workers: %v (first to last accepted %v); busiest second %d; HELP reply in %v",
		sends, rate, took.Round(time.Millisecond), last.Sub(first).Round(time.Millisecond), busiest, helpTook.Round(time.Millisecond))
	least := time.Duration(sends-2*rate) * time.Second / rate // a burst of up to 2×rate is allowed (below)
	if took < least || last.Sub(first) < least-dispatchJitter {
		t.Errorf("took %v, first to last send %v; want at least %v (less %v between sends) at %d/s", took, last.Sub(first), least, dispatchJitter, rate)
	}
	if busiest > 2*rate+rateTolerance {
		t.Errorf("busiest second held %d sends, want at most %d (rate and burst) + %d", busiest, 2*rate, rateTolerance)
	}
	if !helpedAt.Before(last) {
		t.Errorf("HELP reply accepted at %v, after the campaign's last send (%v): it queued behind it", helpedAt, last)
	}
	const waiting = `stopline_sms_total{category="marketing",outcome="waiting_provider",provider="twilio"}`
	if n := sample(e.scrape(), waiting) + sample(scrapeOf(second.Metrics.Handler()), waiting); n != 0 {
		t.Errorf("%v sends counted waiting_provider behind the sender's rate; want 0 (every worker has the provider)", n)
	}
}

// scrapeOf is what h serves on GET /metrics, for a worker without HTTP.
func scrapeOf(h http.Handler) string {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}
