package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
)

// dealJourney is one marketing SMS, sendable at any hour.
const dealJourney = `{"name": "deal", "category": "marketing",
	"sender": ` + testkit.AnyHourSender + `,
	"steps": [{"sms": "Deal of the day: 20% off"}]}`

// Issue 11, through the real webhook path with default settings (no senders
// file): each class of clear revocation, sent as a signed Twilio inbound,
// opts out, so a marketing journey started afterwards sends nothing. An
// unclear reply gets one clarification and is not an opt-out; a sentence
// that merely contains a keyword changes nothing.
func TestReasonablePersonDefault(t *testing.T) {
	e := newEnv(t, stack.Webhooks)
	classes := []struct {
		class  string
		bodies []string
	}{
		{"courtesy", []string{"STOP please", "Stop. Thank you", "stop pls", "STOP SVP", "stop merci"}},
		{"object", []string{"Stop texting me", "stop sending me messages", "Unsubscribe me"}},
		{"emphasis", []string{"STOP NOW"}},
		{"question", []string{"Stop!!! Who is this"}},
		{"signature", []string{"STOP\n\nSent from my iPhone"}},
		{"french and spanish", []string{"Arrêtez svp", "désabonner", "me désinscrire", "baja por favor"}},
		{"phrases", []string{"no more texts", "remove me from your list", "leave me alone", "wrong number", "no más mensajes", "ne plus recevoir"}},
	}
	number := func(i int) string { return fmt.Sprintf("+1415555%04d", 6000+i) }
	var csv strings.Builder
	csv.WriteString("phone\n")
	n := 0
	for _, c := range classes {
		for range c.bodies {
			fmt.Fprintf(&csv, "%s\n", number(n))
			n++
		}
	}
	unclear, sentence := number(n), number(n+1)
	fmt.Fprintf(&csv, "%s\n%s\n", unclear, sentence)

	n = 0
	for _, c := range classes {
		t.Run(c.class, func(t *testing.T) {
			for _, body := range c.bodies {
				to := number(n)
				n++
				if code := e.Inbound(to, body); code != 200 {
					t.Fatalf("%q answered %d", body, code)
				}
				if e.consentOf(to).Allowed {
					t.Errorf("%q: not opted out", body)
				}
				events, err := e.App.Store.Events(context.Background(), e.Key(to))
				if err != nil || len(events) != 1 || events[0].Rule == "" || events[0].Keyword == "" || events[0].RawText != "" {
					t.Errorf("%q: events %+v, %v; want one with a rule and keyword, no text", body, events, err)
				}
			}
		})
	}
	if code := e.Inbound(unclear, "why?"); code != 200 {
		t.Fatalf("why? answered %d", code)
	}
	if code := e.Inbound(sentence, "I can't stop smiling"); code != 200 {
		t.Fatalf("sentence answered %d", code)
	}
	testkit.Eventually(t, 30*time.Second, "clarification", func() bool { return len(e.SentTo(unclear)) == 1 })
	if got := e.SentTo(unclear)[0]; !strings.HasSuffix(got, "Reply STOP to stop these messages.") {
		t.Errorf("clarification %q", got)
	}

	e.Launch("deal", testkit.MustJourney(dealJourney), csv.String())
	for i := range n {
		to := number(i)
		if res := e.Result("deal", to); res.State != workflows.StateSkipped || !strings.HasPrefix(res.Summary, "sent 0") {
			t.Errorf("journey to %s: %+v", to, res)
		}
		if slices.ContainsFunc(e.SentTo(to), func(b string) bool { return strings.Contains(b, "Deal of the day") }) {
			t.Errorf("journey texted %s after the opt-out: %q", to, e.SentTo(to))
		}
	}
	for _, to := range []string{unclear, sentence} {
		if res := e.Result("deal", to); res.Summary != "sent 1" {
			t.Errorf("journey to %s: %+v, want it sent", to, res)
		}
		if !e.consentOf(to).Allowed {
			t.Errorf("%s opted out", to)
		}
	}
	if got := e.SentTo(sentence); len(got) != 1 {
		t.Errorf("to the sentence's sender: %q, want the deal only", got)
	}
	// The clarification is the only reply: one per unclear message.
	if got := e.SentTo(unclear); len(got) != 2 {
		t.Errorf("to the unclear sender: %q, want the clarification and the deal", got)
	}
	var rule string
	if err := e.App.Store.Pool().QueryRow(context.Background(),
		`SELECT coalesce(rule, '') FROM inbound_messages WHERE intent = $1`, "suggest_opt_out").Scan(&rule); err != nil || rule != "unclear" {
		t.Errorf("unclear inbound rule %q, %v", rule, err)
	}
}
