package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/testkit"
)

// TestNoSMSAfterStop races STOPs against sends: 200 recipients with 5
// journeys each, every journey sending and waiting, and each recipient's
// STOP posted through the signed Twilio webhook at a random moment. The
// fake Twilio records when it accepted each message. Counted over three
// seeded runs: messages accepted after their recipient's STOP got its 2xx
// (other than the one confirmation), duplicate messages, and STOPs that were
// not applied. Each must be zero.
func TestNoSMSAfterStop(t *testing.T) {
	recipients, journeys := 200, 5
	if testing.Short() {
		recipients = 40
	}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			raceRun(t, seed, recipients, journeys)
		})
	}
}

func raceRun(t *testing.T, seed uint64, recipients, journeys int) {
	e := newEnv(t, stack.Webhooks)
	rng := rand.New(rand.NewPCG(seed, seed))
	e.Twilio.SetDelay(5 * time.Millisecond) // keep sends in flight long enough to race

	numbers := make([]string, recipients)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+1415555%04d", 2000+i)
	}
	defs := make([]*journey.Definition, journeys)
	for j := range defs {
		defs[j] = testkit.MustJourney(fmt.Sprintf(`{"name": "race%d", "category": "marketing",
			"sender": `+testkit.AnyHourSender+`,
			"steps": [{"sms": "j%d s0"}, {"wait": "1s"}, {"sms": "j%d s2"}, {"wait": "2s"}, {"sms": "j%d s4"}]}`, j, j, j, j))
	}

	// Each recipient's 5 journeys start together; its STOP follows its
	// first accepted message after a random delay of up to 4 s, while the
	// journeys send or wait (each runs about 3 s plus sending time).
	stopDelay := make([]time.Duration, recipients)
	for i := range stopDelay {
		stopDelay[i] = time.Duration(rng.Int64N(int64(4 * time.Second)))
	}
	var (
		mu      sync.Mutex
		stopped = map[string]time.Time{} // number -> when its STOP was answered 2xx
		wg      sync.WaitGroup
		sem     = make(chan struct{}, 16)
	)
	start := time.Now()
	for i, num := range numbers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			for j, def := range defs {
				if err := e.StartJourney(fmt.Sprintf("race%d", j), def, num); err != nil {
					t.Errorf("start: %v", err)
				}
			}
			<-sem
			deadline := time.Now().Add(2 * time.Minute)
			for len(e.SentTo(num)) == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(stopDelay[i])
			if code := e.Inbound(num, "STOP"); code != 200 {
				t.Errorf("STOP answered %d", code)
				return
			}
			mu.Lock()
			stopped[num] = time.Now()
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("launched %d journeys and posted %d STOPs in %v", recipients*journeys, recipients, time.Since(start).Round(time.Millisecond))

	states := map[string]int{}
	for _, num := range numbers {
		for j := range defs {
			states[e.Result(fmt.Sprintf("race%d", j), num).State]++
		}
	}

	afterStop, duplicates, confirmations := 0, 0, map[string]int{}
	seen := map[string]bool{}
	for _, m := range e.Twilio.Accepted() {
		if strings.Contains(m.Body, "unsubscribed") {
			confirmations[m.To]++
			continue
		}
		if key := m.To + "|" + m.Body; seen[key] {
			duplicates++
		} else {
			seen[key] = true
		}
		if m.At.After(stopped[m.To]) {
			afterStop++
			t.Errorf("%q accepted %v after the STOP's 2xx", m.Body, m.At.Sub(stopped[m.To]))
		}
	}
	notApplied, wrongConfirmations := 0, 0
	for _, num := range numbers {
		if e.consentOf(num).Allowed {
			notApplied++
		}
	}
	// Confirmations queue behind journey work on this one busy worker.
	waitFor(90*time.Second, func() bool {
		confirmations = map[string]int{}
		for _, m := range e.Twilio.Accepted() {
			if strings.Contains(m.Body, "unsubscribed") {
				confirmations[m.To]++
			}
		}
		return len(confirmations) == recipients
	})
	for _, num := range numbers {
		if confirmations[num] != 1 {
			wrongConfirmations++
			if wrongConfirmations <= 3 {
				describeOptOut(t, e, num)
			}
		}
	}
	t.Logf("seed %d: %d journeys (%v), %d messages accepted: sent after STOP %d, duplicates %d, STOPs not applied %d, recipients without exactly one confirmation %d",
		seed, recipients*journeys, states, len(seen), afterStop, duplicates, notApplied, wrongConfirmations)
	if afterStop+duplicates+notApplied+wrongConfirmations != 0 {
		t.Fatal("guarantee violated")
	}
}
