package activities_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/workflows/contract"
)

// Frequency caps at the send: a state's cap (Florida, 3 per 24 hours) and
// a program's own cap from the senders file count capped (marketing) sends
// per recipient across journeys; a full cap defers without a provider
// call; transactional sends and HELP replies are neither capped nor
// counted.
func TestSendSMSFrequencyCaps(t *testing.T) {
	const florida, california = "+13055550123", "+14155550123"
	registry, err := senders.Parse([]byte(`{"senders": [
		{"provider": "twilio", "from": "+14155550100", "type": "long_code", "program": "acme", "frequency_cap": {"max": 2, "per": "1h"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	type send struct {
		number   string
		category contract.Category
		capped   bool
		want     contract.SendStatus
	}
	marketing := func(number string, want contract.SendStatus) send {
		return send{number, "marketing", true, want}
	}
	tests := []struct {
		name     string
		registry *senders.Registry
		sends    []send
		until    time.Duration // the deferred send's wait, about
	}{
		{"Florida: 3 per 24 hours", nil, []send{
			marketing(florida, contract.LedgerSent), marketing(florida, contract.LedgerSent),
			{florida, "transactional", false, contract.LedgerSent}, // not counted
			marketing(florida, contract.LedgerSent), marketing(florida, activities.Deferred),
			{florida, "transactional", false, contract.LedgerSent}, // not capped
		}, 24 * time.Hour},
		{"California: no state cap", nil, []send{
			marketing(california, contract.LedgerSent), marketing(california, contract.LedgerSent),
			marketing(california, contract.LedgerSent), marketing(california, contract.LedgerSent),
		}, 0},
		{"the program's cap: 2 per hour", registry, []send{
			marketing(california, contract.LedgerSent), marketing(california, contract.LedgerSent), marketing(california, activities.Deferred),
		}, time.Hour},
		{"the strictest of state and program", registry, []send{
			marketing(florida, contract.LedgerSent), marketing(florida, contract.LedgerSent), marketing(florida, activities.Deferred),
		}, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.acts.Registry = tt.registry
			accepted := 0
			for i, s := range tt.sends {
				in := h.input(0)
				in.LedgerKey = fmt.Sprintf("journey/run%d/rkey", i) // one journey per send
				in.To, in.RecipientKey, in.Category, in.FrequencyCap = s.number, h.acts.Keyer.Key(s.number), s.category, s.capped
				res, err := h.send(in)
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != s.want {
					t.Fatalf("send %d: %+v, want %s", i, res, s.want)
				}
				if res.Status == contract.LedgerSent {
					accepted++
				}
				if res.Status == activities.Deferred {
					if res.Reason != activities.ReasonFrequencyCap || time.Until(res.DeferredUntil) < tt.until-time.Minute || time.Until(res.DeferredUntil) > tt.until {
						t.Errorf("send %d: %+v, want %s until about %v from now", i, res, activities.ReasonFrequencyCap, tt.until)
					}
				}
			}
			if n := h.fake.Calls(); n != accepted {
				t.Errorf("provider calls = %d, want %d (none for deferred sends)", n, accepted)
			}
			// Replies to HELP are never capped.
			reply, err := h.reply(activities.ReplyInput{Key: "SMhelp", Kind: "help", Provider: "twilio", To: tt.sends[0].number,
				Sender: from, RecipientKey: h.acts.Keyer.Key(tt.sends[0].number), ReceivedAt: time.Now()})
			if err != nil || reply.Status != contract.LedgerSent {
				t.Errorf("HELP reply: %+v, %v; want sent", reply, err)
			}
		})
	}
}

// A deferred send goes once the cap's period has passed (a state period
// shortened as e2e tests do).
func TestSendSMSCapFrees(t *testing.T) {
	h := newHarness(t)
	h.acts.StateCapPeriod = time.Second
	in := h.input(0)
	in.To, in.RecipientKey, in.FrequencyCap = "+13055550123", h.acts.Keyer.Key("+13055550123"), true
	var deferred activities.SendResult
	for i := range 4 {
		in.LedgerKey = fmt.Sprintf("journey/run%d/rkey", i)
		res, err := h.send(in)
		if err != nil {
			t.Fatal(err)
		}
		deferred = res
	}
	if deferred.Status != activities.Deferred {
		t.Fatalf("fourth send %+v, want deferred", deferred)
	}
	time.Sleep(time.Until(deferred.DeferredUntil) + 100*time.Millisecond)
	if res, err := h.send(in); err != nil || res.Status != contract.LedgerSent {
		t.Errorf("after the period: %+v, %v; want sent", res, err)
	}
	if n := h.fake.Calls(); n != 4 {
		t.Errorf("provider calls = %d, want 4", n)
	}
}

func (h *harness) reply(in activities.ReplyInput) (activities.SendResult, error) {
	env := newActivityEnv()
	env.RegisterActivity(h.acts)
	val, err := env.ExecuteActivity(h.acts.SendReply, in)
	if err != nil {
		return activities.SendResult{}, err
	}
	var res activities.SendResult
	return res, val.Get(&res)
}
