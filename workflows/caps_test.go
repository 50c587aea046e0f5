package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/workflows/contract"
)

// A frequency cap: a send comes back Deferred until the oldest counted
// send leaves the cap's 24 hours. The journey waits on a durable timer
// (time skipping: no test waits a day), shows why in the status query,
// then checks the window and consent and sends again.
func TestJourneyWaitsOutFrequencyCap(t *testing.T) {
	// Miami, EDT (UTC-4): 15:00 UTC is 11:00, inside Florida's 08:00-20:00.
	start := time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		category contract.Category
		frees    time.Time // the first send's DeferredUntil; zero: not capped
		secondAt time.Time
	}{
		{"frees in the window: sends then", contract.CategoryMarketing,
			start.Add(22 * time.Hour), start.Add(22 * time.Hour)},
		{"the full 24 hours", contract.CategoryMarketing,
			start.Add(24 * time.Hour), start.Add(24 * time.Hour)},
		// 23:00 EDT: Florida's window is closed; it opens at 08:00 in all
		// of Florida's zones (the panhandle's CDT: 13:00 UTC).
		{"frees at night: waits for the window too", contract.CategoryMarketing,
			time.Date(2026, 6, 2, 3, 0, 0, 0, time.UTC), time.Date(2026, 6, 2, 13, 0, 0, 0, time.UTC)},
		{"transactional is not capped", contract.CategoryTransactional, time.Time{}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.env.SetStartTime(start)
			in := input()
			in.Journey.Category = tt.category
			in.Journey.Steps = in.Journey.Steps[:1]
			in.Phone, in.State = "+13055550123", "FL"
			calls := 0
			w.send = func(_ context.Context, s activities.SendInput) (activities.SendResult, error) {
				if calls++; calls == 1 && !tt.frees.IsZero() {
					return activities.SendResult{Status: activities.Deferred, Reason: activities.ReasonFrequencyCap, DeferredUntil: tt.frees}, nil
				}
				return activities.SendResult{Status: contract.LedgerSent, MessageID: "SM1"}, nil
			}
			var during contract.JourneyStatus
			w.env.RegisterDelayedCallback(func() {
				if v, err := w.env.QueryWorkflow(contract.QueryStatus); err == nil {
					_ = v.Get(&during)
				}
			}, time.Hour)
			res, err := w.run(in)
			if err != nil {
				t.Fatal(err)
			}
			if res.Summary != "sent 1" || res.DeferredUntil != (time.Time{}) || res.DeferredReason != "" {
				t.Errorf("result %+v", res)
			}
			marketing := tt.category == contract.CategoryMarketing
			if s := w.sends[0]; s.FrequencyCap != marketing || marketing && s.State != "FL" {
				t.Errorf("send input FrequencyCap=%v State=%q, want %v, FL", s.FrequencyCap, s.State, marketing)
			}
			if tt.frees.IsZero() {
				w.wantEvents("register", "check", "send 0", "deregister "+workflowID)
				return
			}
			w.wantEvents("register", "check", "send 0", "check", "send 0", "deregister "+workflowID)
			if len(w.sentAt) != 2 || !w.sentAt[1].Equal(tt.secondAt) {
				t.Errorf("sends at %v, want the second at %v", w.sentAt, tt.secondAt)
			}
			if !during.DeferredUntil.Equal(tt.frees) || during.DeferredReason != activities.ReasonFrequencyCap {
				t.Errorf("status an hour in: deferred_until %v reason %q, want %v %q",
					during.DeferredUntil, during.DeferredReason, tt.frees, activities.ReasonFrequencyCap)
			}
		})
	}
}
