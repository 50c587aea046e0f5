package activities_test

import (
	"testing"
	"time"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/workflows/contract"
)

// The reply to STOP and HELP goes to a recipient who has opted out; the
// reply to an opt-in does not, or a START followed by a STOP (handled in
// that order after the STOP committed) would end with "you are subscribed".
// Nor does the clarification asked by an unclear reply ("no", "why?"),
// which the default fuzzy mode sends: after a STOP, only its confirmation.
func TestSendReplyAfterStop(t *testing.T) {
	tests := []struct {
		kind       string
		optedOut   bool
		wantStatus contract.SendStatus
	}{
		{"opt_out", true, contract.LedgerSent},
		{"help", true, contract.LedgerSent},
		{"opt_in", true, contract.LedgerSkipped},
		{"opt_in_pending", true, contract.LedgerSkipped},
		{"confirm", true, contract.LedgerSkipped},
		{"suggest_opt_out", true, contract.LedgerSkipped}, // "why?" after a STOP: nothing but the one confirmation
		{"opt_in", false, contract.LedgerSent},
		{"suggest_opt_out", false, contract.LedgerSent},
		{"opt_in_pending", false, contract.LedgerSent},
		{"confirm", false, contract.LedgerSent},
	}
	for _, tc := range tests {
		name := tc.kind
		if tc.optedOut {
			name += " after STOP"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			if tc.optedOut {
				if _, err := h.store.Record(t.Context(), contract.ConsentChange{
					RecipientKey: h.key, Scope: scope, To: contract.OptedOut, Source: contract.SourceKeyword, RawText: "STOP",
				}); err != nil {
					t.Fatal(err)
				}
			}
			env := newActivityEnv()
			env.RegisterActivity(h.acts)
			val, err := env.ExecuteActivity(h.acts.SendReply, activities.ReplyInput{
				Key: "twilio/SM" + tc.kind, Kind: senders.ReplyKind(tc.kind), Provider: "twilio", To: to, Sender: from,
				RecipientKey: h.key, ReceivedAt: time.Now(),
			})
			if err != nil {
				t.Fatal(err)
			}
			var res activities.SendResult
			if err := val.Get(&res); err != nil {
				t.Fatal(err)
			}
			wantCalls := 0
			if tc.wantStatus == contract.LedgerSent {
				wantCalls = 1
			}
			if res.Status != tc.wantStatus || h.fake.Calls() != wantCalls {
				t.Errorf("reply %+v with %d provider calls; want %s with %d", res, h.fake.Calls(), tc.wantStatus, wantCalls)
			}
		})
	}
}
