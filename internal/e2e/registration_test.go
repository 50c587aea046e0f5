package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
)

// A journey started at the same moment as its recipient's STOP either
// sends nothing, or sent before the STOP committed and is cancelled within
// the latency bound (1 s) of the STOP's 2xx: registration and opt-out are
// ordered by the recipient's lock, so neither can miss the other.
func TestRegistrationRace(t *testing.T) {
	const n = 50
	e := newEnv(t, stack.Webhooks)
	def := testkit.MustJourney(`{"name": "reg", "category": "marketing",
		"sender": ` + testkit.AnyHourSender + `,
		"steps": [{"sms": "hello"}, {"wait": "1h"}, {"sms": "later"}]}`)
	// The races are spread over 5 s so that each is a race between one
	// journey and its STOP, not a burst of 100 requests on the test
	// machine; within a race the STOP lands 0-300 ms after the start, from
	// before the journey registers to after its first send.
	stopAt := make([]time.Time, n)
	var wg sync.WaitGroup
	for i := range n {
		num := fmt.Sprintf("+1415557%04d", i)
		offset := time.Duration(i) * 100 * time.Millisecond
		jitter := time.Duration(i*37%300) * time.Millisecond
		wg.Add(2)
		go func() {
			defer wg.Done()
			time.Sleep(offset)
			if err := e.StartJourney("reg", def, num); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			time.Sleep(offset + jitter)
			if code := e.Inbound(num, "STOP"); code != 200 {
				t.Errorf("STOP answered %d", code)
			}
			stopAt[i] = time.Now()
		}()
	}
	wg.Wait()

	const bound = time.Second
	var slowest time.Duration
	sentNothing, cancelled, late := 0, 0, 0
	for i := range n {
		num := fmt.Sprintf("+1415557%04d", i)
		res := e.Result("reg", num)
		switch {
		case res.Sent == 0:
			sentNothing++
		case res.State == workflows.StateStopped:
			cancelled++
			desc, err := e.Client().DescribeWorkflowExecution(context.Background(), workflows.JourneyID(e.Run("reg"), e.Key(num)), "")
			if err != nil {
				t.Fatal(err)
			}
			took := desc.GetWorkflowExecutionInfo().GetCloseTime().AsTime().Sub(stopAt[i])
			slowest = max(slowest, took)
			if took > bound {
				late++
				t.Errorf("%s: cancelled %v after the STOP's 2xx", num, took)
			}
		default:
			t.Errorf("%s: %+v: neither silent nor cancelled", num, res)
		}
		for _, m := range e.Twilio.Accepted() {
			if m.To == num && m.At.After(stopAt[i]) && !strings.Contains(m.Body, "unsubscribed") {
				t.Errorf("%s: %q accepted after the STOP's 2xx", num, m.Body)
			}
		}
	}
	t.Logf("%d races: %d sent nothing, %d sent before the STOP and were cancelled (slowest %v after the 2xx), %d over the %v bound",
		n, sentNothing, cancelled, slowest.Round(time.Millisecond), late, bound)
}
