package admin

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

// TestAccess fills every table for two people and checks that the access
// report of one holds all of theirs and nothing of the other's.
func TestAccess(t *testing.T) {
	st, keyer, ctx := pgtest.NewStore(t), testkit.DevKeyer(), testContext(t)
	const person, other, sender = "+14155550177", "+14155550166", "+15550001111"
	for i, num := range []string{person, other} {
		key, tag := keyer.Key(num), []string{"person", "other"}[i]
		if _, err := st.Record(ctx, contract.ConsentChange{RecipientKey: key, Scope: sender, To: contract.OptedOut, Source: contract.SourceAdmin, Note: "note of " + tag}); err != nil {
			t.Fatal(err)
		}
		in := contract.Inbound{Provider: "twilio", MessageID: "SM-" + tag, From: num, To: sender, Body: "body of " + tag,
			RecipientKey: key, Scope: sender, ReceivedAt: time.Now()}
		if _, _, _, err := st.SaveInbound(ctx, in); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.BeginAttempt(ctx, "journey/r/"+key, 0, key, "twilio"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RegisterJourney(ctx, store.ActiveJourney{WorkflowID: "journey/r/" + key, Scope: sender, Category: "marketing"}, key); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveSandboxMessage(ctx, store.SandboxMessage{MessageID: "sandbox-" + tag, To: num, Sender: sender, Body: "sms to " + tag}); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name, ask   string
		wantPhone   string
		wantSandbox int
	}{
		{"by number", "(415) 555-0177", person, 1},
		{"by recipient key", keyer.Key(person), "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Access(ctx, st, keyer, tt.ask, "US")
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{"consent": len(r.Consent), "events": len(r.Events), "inbound": len(r.InboundMessages),
				"sends": len(r.Sends), "journeys": len(r.RunningJourneys), "sandbox": len(r.SandboxMessages)}
			want := map[string]int{"consent": 1, "events": 1, "inbound": 1, "sends": 1, "journeys": 1, "sandbox": tt.wantSandbox}
			for k, n := range want {
				if counts[k] != n {
					t.Errorf("%s: %d entries, want %d", k, counts[k], n)
				}
			}
			if r.Phone != tt.wantPhone || r.RecipientKey != keyer.Key(person) {
				t.Errorf("phone %q, key %q", r.Phone, r.RecipientKey)
			}
			doc, _ := json.Marshal(r)
			for _, s := range []string{"body of person", "note of person", "SM-person"} {
				if !strings.Contains(string(doc), s) {
					t.Errorf("report lacks %q: %s", s, doc)
				}
			}
			for _, s := range []string{other, "other", keyer.Key(other)} {
				if strings.Contains(string(doc), s) {
					t.Errorf("report holds %q of another person: %s", s, doc)
				}
			}
		})
	}

	// Someone stopline never saw: every category searched, all empty.
	r, err := Access(ctx, st, keyer, "+14155550199", "US")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(r)
	for _, field := range []string{"consent", "consent_events", "inbound_messages", "sends", "running_journeys", "sandbox_messages"} {
		if !strings.Contains(string(doc), `"`+field+`":[]`) {
			t.Errorf("%s is not an empty list: %s", field, doc)
		}
	}
	if _, err := Access(ctx, st, keyer, "not a number", "US"); err == nil || !strings.Contains(err.Error(), "phone") {
		t.Errorf("bad number: %v, want an error naming the phone", err)
	}

	// Forgotten, the texts read "erased" and are flagged so: a message may
	// say "erased" itself. The other person's report flags nothing.
	if _, err := st.Forget(ctx, keyer.Key(other), other, "dpo@example.com", ""); err != nil {
		t.Fatal(err)
	}
	if r, err = Access(ctx, st, keyer, other, "US"); err != nil {
		t.Fatal(err)
	}
	if m := r.InboundMessages; len(m) != 1 || !m[0].Erased || m[0].Body != store.Erased || m[0].From != store.Erased {
		t.Errorf("inbound of the forgotten = %+v; want it erased and flagged", m)
	}
	flagged := 0
	for _, e := range r.Events {
		if e.Erased && e.Note == store.Erased {
			flagged++
		}
	}
	if flagged != 1 {
		t.Errorf("events of the forgotten = %+v; want the one with a note erased and flagged", r.Events)
	}
	if r, err = Access(ctx, st, keyer, person, "US"); err != nil {
		t.Fatal(err)
	}
	if doc, _ := json.Marshal(r); strings.Contains(string(doc), `"erased"`) {
		t.Errorf("report of someone not forgotten flags something erased: %s", doc)
	}
}
