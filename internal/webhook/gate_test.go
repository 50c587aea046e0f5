package webhook

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stopline/stopline/workflows/contract"
)

// heldIntake holds every Inbound call until released.
type heldIntake struct {
	fakeIntake
	entered chan string // bodies, as calls enter
	release chan struct{}
}

func (h *heldIntake) Inbound(ctx context.Context, m contract.Inbound) error {
	h.entered <- m.Body
	<-h.release
	return h.fakeIntake.Inbound(ctx, m)
}

// Intake capacity: plain messages take the shared slots only, and wait a
// bounded time for one before a 503 with Retry-After; keywords also take
// the slots kept for them.
func TestIntakeSlots(t *testing.T) {
	in := &heldIntake{entered: make(chan string, 10), release: make(chan struct{})}
	const wait = 200 * time.Millisecond
	h := newHandler(t, Config{PublicURL: publicBase, TwilioAuthToken: twilioToken, IntakeSlots: 2, KeywordSlots: 1, IntakeWait: wait}, in)
	type answer struct {
		body       string
		code       int
		retryAfter string
		took       time.Duration
	}
	answers := make(chan answer, 10)
	var wg sync.WaitGroup
	send := func(body string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw := form(twilioStop, "Body", url.QueryEscape(body), "MessageSid", "SM"+url.QueryEscape(body))
			start := time.Now()
			w := serve(h, post(twilioURL, raw, map[string]string{"X-Twilio-Signature": signTwilio(t, twilioToken, twilioURL, raw)}))
			answers <- answer{body, w.Code, w.Header().Get("Retry-After"), time.Since(start)}
		}()
	}
	entered := func(want string) {
		t.Helper()
		select {
		case got := <-in.entered:
			if got != want {
				t.Fatalf("intake entered by %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%q never reached the intake", want)
		}
	}
	send("hello 1")
	entered("hello 1")
	send("hello 2")
	entered("hello 2") // the shared slots are taken
	send("hello 3")    // waits, then is refused
	a := <-answers
	if a.body != "hello 3" || a.code != http.StatusServiceUnavailable || a.retryAfter == "" || a.took < wait || a.took > wait+2*time.Second {
		t.Fatalf("plain message over the cap: %+v, want 503 with Retry-After after about %v", a, wait)
	}
	send("STOP")
	entered("STOP") // the kept slot
	send("HELP")    // every slot taken: refused too, after the wait
	if a := <-answers; a.body != "HELP" || a.code != http.StatusServiceUnavailable {
		t.Fatalf("keyword over every slot: %+v, want 503", a)
	}
	close(in.release)
	wg.Wait()
	close(answers)
	for a := range answers {
		if a.code != 200 {
			t.Errorf("%q: %d, want 200", a.body, a.code)
		}
	}
	if got, _ := in.calls(); len(got) != 3 {
		t.Errorf("intake committed %d messages, want 3", len(got))
	}
}
