package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// The inbound helpers write to testkit.Sender (+15550001111): here it is in the
// double opt-in program "club". bankSender is in program "bank", whose STOP
// blocks marketing only.
const (
	bankSender  = "+15550002222"
	programsCfg = `{"senders": [
		{"provider": "twilio", "from": "+15550001111", "type": "long_code", "program": "club", "double_opt_in": true, "brand": "Club"},
		{"provider": "twilio", "from": "+15550002222", "type": "long_code", "program": "bank", "stop_blocks": "marketing", "brand": "Bank"}
	]}`
)

func withPrograms(t *testing.T) func(*app.Config) {
	path := filepath.Join(t.TempDir(), "senders.json")
	if err := os.WriteFile(path, []byte(programsCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(c *app.Config) { c.SendersFile = path }
}

func marketing(from, steps string) string {
	return `{"name": "club", "category": "marketing",
		"sender": {"provider": "twilio", "from": "` + from + `", "type": "long_code", "quiet_hours": {"start": "00:00", "end": "24:00", "legal_override": "test journeys run at any hour"}},
		"steps": ` + steps + `}`
}

// allowed asks the worker's consent check, as a journey step would.
func (e *env) allowed(number, from string, category contract.Category) bool {
	e.T.Helper()
	d, err := e.App.Activities.CheckConsent(context.Background(), activities.ConsentQuery{RecipientKey: e.Key(number), Scope: from, Category: category})
	if err != nil {
		e.T.Fatal(err)
	}
	return d.Allowed
}

func (e *env) status(runID, number string) contract.JourneyStatus {
	e.T.Helper()
	return e.statusOf(workflows.JourneyID(e.Run(runID), e.Key(number)))
}

// Double opt-in end to end, through signed webhooks and the real worker:
// a journey's opt_in step waits for the recipient's YES; a keyword opt-in is
// pending until confirmed; marketing needs the confirmation.
func TestDoubleOptIn(t *testing.T) {
	e := newEnv(t, stack.Webhooks, withPrograms(t))
	const ada, bob, cy = "+14155554101", "+14155554102", "+14155554103"
	welcome := testkit.MustJourney(marketing(testkit.Sender, `[{"opt_in": "Club: reply YES for member deals."}, {"sms": "Welcome to Club deals"}]`))

	// Ada: the journey asks, waits, and goes on at her YES.
	e.Launch("ask", welcome, "phone\n"+ada+"\n"+bob+"\n")
	testkit.Eventually(t, 20*time.Second, "both opt-in requests", func() bool { return len(e.SentTo(ada)) == 1 && len(e.SentTo(bob)) == 1 })
	if got := e.SentTo(ada)[0]; got != "Club: reply YES for member deals.\nReply STOP to opt out." {
		t.Errorf("opt-in request %q", got)
	}
	testkit.Eventually(t, 30*time.Second, "waiting for the YES", func() bool { return !e.status("ask", ada).ConfirmBy.IsZero() })
	if e.allowed(ada, testkit.Sender, contract.CategoryMarketing) {
		t.Fatal("marketing allowed before the YES")
	}
	if code := e.Inbound(ada, "Yes!"); code != 200 {
		t.Fatalf("YES answered %d", code)
	}
	yesAt := time.Now()
	if res := e.Result("ask", ada); res.State != workflows.StateCompleted || res.Sent != 2 {
		t.Errorf("ada's journey: %+v", res)
	}
	t.Logf("journey went on %v after the YES's 2xx", time.Since(yesAt).Round(time.Millisecond))
	testkit.Eventually(t, 30*time.Second, "welcome and confirmation", func() bool { return len(e.SentTo(ada)) == 3 })
	got := strings.Join(e.SentTo(ada), " | ")
	if !strings.Contains(got, "Welcome to Club deals\nReply STOP to opt out.") || !strings.Contains(got, "Club: Thanks, you are subscribed.") {
		t.Errorf("messages to ada: %q", got)
	}

	// Bob: STOP while the journey waits for his answer stops it.
	if code := e.Inbound(bob, "STOP"); code != 200 {
		t.Fatalf("STOP answered %d", code)
	}
	if res := e.Result("ask", bob); res.State != workflows.StateStopped || res.Summary != "sent 1, stopped: opted_out at step 0" {
		t.Errorf("bob's journey: %+v", res)
	}

	// Cy: START by keyword is pending; a marketing journey is skipped
	// until YES; then it sends.
	direct := testkit.MustJourney(marketing(testkit.Sender, `[{"sms": "Club deal of the day"}]`))
	e.Inbound(cy, "START")
	testkit.Eventually(t, 30*time.Second, "request to confirm", func() bool { return len(e.SentTo(cy)) == 1 })
	if got := e.SentTo(cy)[0]; !strings.HasPrefix(got, "Club: Reply YES to confirm") {
		t.Errorf("reply to START %q", got)
	}
	if !e.allowed(cy, testkit.Sender, contract.CategoryTransactional) || e.allowed(cy, testkit.Sender, contract.CategoryMarketing) {
		t.Error("pending: transactional should be allowed, marketing not")
	}
	e.Launch("before-yes", direct, "phone\n"+cy+"\n")
	if res := e.Result("before-yes", cy); res.Summary != "sent 0, skipped at step 0: not_confirmed" {
		t.Errorf("journey before YES: %+v", res)
	}
	e.Inbound(cy, "y")
	testkit.Eventually(t, 30*time.Second, "confirmation", func() bool { return len(e.SentTo(cy)) == 2 })
	e.Launch("after-yes", direct, "phone\n"+cy+"\n")
	if res := e.Result("after-yes", cy); res.Summary != "sent 1" {
		t.Errorf("journey after YES: %+v", res)
	}
	if v := e.optOutView(cy); v.Scopes["program:club"] != "confirmed" {
		t.Errorf("consent query: %+v", v.Scopes)
	}

	e.replay(workflows.JourneyID(e.Run("ask"), e.Key(ada)), "journey-optin-confirmed")
	e.replay(workflows.JourneyID(e.Run("ask"), e.Key(bob)), "journey-optin-stopped")
	e.replay(workflows.JourneyID(e.Run("before-yes"), e.Key(cy)), "journey-not-confirmed")
	e.replay(workflows.RecipientID(e.Key(cy)), "optout-start-yes")
}

// A program whose STOP blocks marketing only: the STOP cancels the
// marketing journey, the transactional one finishes, and the confirmation
// says so.
func TestMarketingOnlyStop(t *testing.T) {
	e := newEnv(t, stack.Webhooks, withPrograms(t))
	const dan = "+14155554201"
	offers := testkit.MustJourney(marketing(bankSender, `[{"sms": "Bank offer"}, {"wait": "1h"}, {"sms": "Another offer"}]`))
	statements := testkit.MustJourney(`{"name": "statements", "category": "transactional",
		"sender": {"provider": "twilio", "from": "` + bankSender + `", "type": "long_code"},
		"steps": [{"sms": "Your statement is ready"}, {"wait": "3s"}, {"sms": "Payment received"}]}`)
	e.Launch("offers", offers, "phone\n"+dan+"\n")
	e.Launch("statements", statements, "phone\n"+dan+"\n")
	testkit.Eventually(t, 20*time.Second, "first message of both", func() bool { return len(e.SentTo(dan)) == 2 })

	if code := e.Inbound(dan, "STOP", "To", bankSender); code != 200 {
		t.Fatalf("STOP answered %d", code)
	}
	if res := e.Result("offers", dan); res.Summary != "sent 1, stopped: opted_out at step 1" {
		t.Errorf("marketing journey: %+v", res)
	}
	if res := e.Result("statements", dan); res.Summary != "sent 2" {
		t.Errorf("transactional journey: %+v", res)
	}
	testkit.Eventually(t, 30*time.Second, "confirmation", func() bool { return len(e.SentTo(dan)) == 4 })
	var confirmation string
	for _, m := range e.SentTo(dan) {
		if strings.HasPrefix(m, "Bank:") {
			confirmation = m
		}
	}
	if !strings.Contains(confirmation, "no more marketing messages") {
		t.Errorf("confirmation %q, messages %q", confirmation, e.SentTo(dan))
	}
	e.Launch("offers-after", offers, "phone\n"+dan+"\n")
	if res := e.Result("offers-after", dan); res.Summary != "sent 0, skipped at step 0: opted_out" {
		t.Errorf("marketing after STOP: %+v", res)
	}

	e.replay(workflows.JourneyID(e.Run("offers"), e.Key(dan)), "journey-stopped-in-wait")
	e.replay(workflows.JourneyID(e.Run("statements"), e.Key(dan)), "journey-transactional-completed")
}

// TestDoubleOptInRace races YES and STOP against a double opt-in journey:
// 60 recipients each get the opt-in request, then reply YES, YES then STOP
// (0-4 s later, while the deals go out), or STOP then Y (0-100 ms later), at
// random moments. Counted from the fake
// Twilio's log and the consent events: marketing accepted before the
// recipient's confirmation, marketing accepted after their STOP's 2xx,
// duplicates, and wrong final states. Each must be zero.
func TestDoubleOptInRace(t *testing.T) {
	e := newEnv(t, stack.Webhooks, withPrograms(t))
	e.Twilio.SetDelay(5 * time.Millisecond)
	rng := rand.New(rand.NewPCG(7, 7))
	def := testkit.MustJourney(marketing(testkit.Sender, `[{"opt_in": "Join the club? Reply YES"}, {"sms": "deal 1"}, {"wait": "1s"}, {"sms": "deal 2"}]`))
	const n = 60
	numbers := make([]string, n)
	pause := make([][2]time.Duration, n)
	csv := "phone\n"
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+1415555%04d", 5000+i)
		csv += numbers[i] + "\n"
		pause[i] = [2]time.Duration{time.Duration(rng.Int64N(int64(300 * time.Millisecond))), time.Duration(rng.Int64N(int64(4 * time.Second)))}
	}
	e.Launch("race", def, csv)

	var (
		mu      sync.Mutex
		stopped = map[string]time.Time{}
		wg      sync.WaitGroup
	)
	post := func(num, body string) {
		if code := e.Inbound(num, body); code != 200 {
			t.Errorf("%s answered %d", body, code)
		}
	}
	for i, num := range numbers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(2 * time.Minute)
			for len(e.SentTo(num)) == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(pause[i][0])
			stop := func() {
				post(num, "STOP")
				mu.Lock()
				stopped[num] = time.Now()
				mu.Unlock()
			}
			switch i % 3 {
			case 0:
				post(num, "YES")
			case 1:
				post(num, "YES")
				time.Sleep(pause[i][1])
				stop()
			case 2:
				stop()
				time.Sleep(pause[i][1] / 40)
				post(num, "Y")
			}
		}()
	}
	wg.Wait()

	states := map[string]int{}
	for i, num := range numbers {
		res := e.Result("race", num)
		states[res.State]++
		if i%3 == 0 && (res.State != workflows.StateCompleted || res.Sent != 3) {
			t.Errorf("confirmed recipient's journey: %+v", res)
		}
	}
	ctx := context.Background()
	var beforeConfirm, afterStop, duplicates, wrongState, wrongReplies int
	seen := map[string]bool{}
	confirmedAt := map[string]time.Time{}
	for i, num := range numbers {
		events, err := e.App.Store.Events(ctx, e.Key(num))
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			if ev.To == contract.OptInConfirmed && confirmedAt[num].IsZero() {
				confirmedAt[num] = ev.At
			}
		}
		d, err := e.App.Store.Check(ctx, e.Key(num), "program:club", contract.ConsentRule{})
		if err != nil {
			t.Fatal(err)
		}
		if want := []contract.ConsentState{contract.OptInConfirmed, contract.OptedOut, contract.OptedOut}[i%3]; d.State != want {
			wrongState++
			t.Errorf("%s (case %d): state %q, want %q", num, i%3, d.State, want)
		}
	}
	for _, m := range e.Twilio.Accepted() {
		if strings.HasPrefix(m.Body, "Club:") {
			continue
		}
		if key := m.To + "|" + m.Body; seen[key] {
			duplicates++
		} else {
			seen[key] = true
		}
		if !strings.HasPrefix(m.Body, "deal") {
			continue
		}
		if c := confirmedAt[m.To]; c.IsZero() || m.At.Before(c) {
			beforeConfirm++
			t.Errorf("%q accepted for %s before any confirmation", m.Body, m.To)
		}
		if s, ok := stopped[m.To]; ok && m.At.After(s) {
			afterStop++
			t.Errorf("%q accepted %v after the STOP's 2xx", m.Body, m.At.Sub(s))
		}
	}
	// Replies: "Thanks, you are subscribed" for each applied YES unless the
	// STOP came first (it is not sent after a STOP), one STOP confirmation
	// per STOP; none for the Y after a STOP.
	type replyCount struct{ thanks, other int }
	var (
		replies    map[string]replyCount
		thanksLate int
	)
	countReplies := func() {
		replies, thanksLate = map[string]replyCount{}, 0
		for _, m := range e.Twilio.Accepted() {
			if !strings.HasPrefix(m.Body, "Club:") {
				continue
			}
			c := replies[m.To]
			if strings.Contains(m.Body, "Thanks, you are subscribed") {
				c.thanks++
				if s, ok := stopped[m.To]; ok && m.At.After(s) {
					thanksLate++
					t.Logf("%q accepted %v after the STOP's 2xx", m.Body, m.At.Sub(s))
				}
			} else {
				c.other++
			}
			replies[m.To] = c
		}
	}
	waitFor(30*time.Second, func() bool {
		countReplies()
		for i, num := range numbers {
			if c := replies[num]; i%3 == 0 && c.thanks == 0 || i%3 != 0 && c.other == 0 {
				return false
			}
		}
		return true
	})
	countReplies()
	if thanksLate > 0 {
		afterStop += thanksLate
		t.Errorf("%d subscribed replies accepted after the STOP's 2xx", thanksLate)
	}
	thanksBeforeStop := 0
	for i, num := range numbers {
		c := replies[num]
		want := []replyCount{{1, 0}, {c.thanks, 1}, {0, 1}}[i%3]
		if c != want || c.thanks > 1 {
			wrongReplies++
			t.Errorf("%s (case %d): %d subscribed and %d other replies, want %d and %d", num, i%3, c.thanks, c.other, want.thanks, want.other)
		}
		if i%3 == 1 {
			thanksBeforeStop += c.thanks
		}
	}
	t.Logf("YES then STOP: %d of %d got the subscribed reply before their STOP", thanksBeforeStop, (n+1)/3)
	deals := 0
	for key := range seen {
		if strings.Contains(key, "|deal") {
			deals++
		}
	}
	t.Logf("%d recipients (%v): %d messages accepted, %d of them deals; marketing before confirmation %d, after STOP %d, duplicates %d, wrong final state %d, wrong reply count %d",
		n, states, len(seen), deals, beforeConfirm, afterStop, duplicates, wrongState, wrongReplies)
}
