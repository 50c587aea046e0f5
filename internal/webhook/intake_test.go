package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/webhook"
	"github.com/stopline/stopline/workflows/contract"
)

// Senders A and B form program "acme", C is program "other", D has none.
// E is program "club" with double opt-in; F is program "bank", whose STOP
// blocks marketing only.
const sendersFile = `{"senders": [
	{"provider": "twilio", "from": "+15550000005", "type": "long_code", "program": "club", "double_opt_in": true, "confirm_keywords": ["YES", "Y", "OUI"]},
	{"provider": "twilio", "from": "+15550000006", "type": "long_code", "program": "bank", "stop_blocks": "marketing"},
	{"provider": "twilio", "from": "+15550000001", "type": "long_code", "program": "acme"},
	{"provider": "twilio", "from": "+15550000002", "type": "long_code", "program": "acme"},
	{"provider": "twilio", "from": "+15550000003", "type": "long_code", "program": "other"},
	{"provider": "twilio", "from": "+15550000004", "type": "toll_free"},
	{"provider": "twilio", "from": "12345", "type": "short_code"}
]}`

const (
	senderA, senderB, senderC, senderD = "+15550000001", "+15550000002", "+15550000003", "+15550000004"
	shortCode                          = "12345"
	senderE, senderF                   = "+15550000005", "+15550000006"
)

type fixture struct {
	store  *store.Store
	intake *webhook.DurableIntake
	acts   *activities.Activities
	seq    int
}

func newFixture(t *testing.T) *fixture {
	reg, err := senders.Parse([]byte(sendersFile))
	if err != nil {
		t.Fatal(err)
	}
	keyer, err := phone.NewKeyer([]byte("intake-test-secret-0123"))
	if err != nil {
		t.Fatal(err)
	}
	store := pgtest.NewStore(t)
	return &fixture{
		store:  store,
		intake: &webhook.DurableIntake{Store: store, Registry: reg, Keyer: keyer},
		acts:   &activities.Activities{Store: store, Registry: reg, Keyer: keyer},
	}
}

func (f *fixture) text(t *testing.T, from, to, body string) {
	t.Helper()
	f.textTwilio(t, from, to, body, "")
}

// textTwilio texts as Twilio with Advanced Opt-Out reports it: optOutType
// is the keyword Twilio acted on ("" when it did not).
func (f *fixture) textTwilio(t *testing.T, from, to, body, optOutType string) {
	t.Helper()
	f.inbound(t, contract.Inbound{From: from, To: to, Body: body, OptOutType: optOutType})
}

// inbound delivers m as a new Twilio message.
func (f *fixture) inbound(t *testing.T, m contract.Inbound) {
	t.Helper()
	f.seq++
	m.Provider, m.MessageID, m.ReceivedAt = "twilio", fmt.Sprintf("SM%d", f.seq), time.Now()
	if err := f.intake.Inbound(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) allowed(t *testing.T, number, sender string) bool {
	t.Helper()
	return f.allowedFor(t, number, sender, contract.CategoryMarketing)
}

func (f *fixture) allowedFor(t *testing.T, number, sender string, category contract.Category) bool {
	t.Helper()
	d, err := f.acts.CheckConsent(context.Background(), activities.ConsentQuery{RecipientKey: f.acts.Keyer.Key(number), Scope: sender, Category: category})
	if err != nil {
		t.Fatal(err)
	}
	return d.Allowed
}

// The scope matrix: which senders a keyword to one sender affects.
func TestScopeMatrix(t *testing.T) {
	tests := []struct {
		name  string
		texts [][3]string // (to, body, Twilio's OptOutType), in order
		want  map[string]bool
	}{
		{"STOP to A blocks program acme only", [][3]string{{senderA, "STOP"}},
			map[string]bool{senderA: false, senderB: false, senderC: true, senderD: true}},
		{"STOP to D blocks D only", [][3]string{{senderD, "stop"}},
			map[string]bool{senderA: true, senderB: true, senderC: true, senderD: false}},
		{"STOPALL blocks every sender", [][3]string{{senderC, "STOPALL"}},
			map[string]bool{senderA: false, senderB: false, senderC: false, senderD: false}},
		{"START to B after STOP to A re-enables acme", [][3]string{{senderA, "STOP"}, {senderB, "START"}},
			map[string]bool{senderA: true, senderB: true, senderC: true, senderD: true}},
		{"START to A after STOPALL re-enables acme only", [][3]string{{senderC, "STOP ALL"}, {senderA, "START"}},
			map[string]bool{senderA: true, senderB: true, senderC: false, senderD: false}},
		{"STOP, START, STOP in quick succession ends opted out", [][3]string{{senderA, "STOP"}, {senderA, "START"}, {senderA, "STOP"}},
			map[string]bool{senderA: false, senderB: false, senderC: true, senderD: true}},
		{"a keyword to a short code without keyword handling changes nothing", [][3]string{{shortCode, "STOP"}},
			map[string]bool{senderA: true, senderB: true, senderC: true, senderD: true}},
		{"a sentence changes nothing", [][3]string{{senderA, "I can't stop smiling"}},
			map[string]bool{senderA: true, senderB: true, senderC: true, senderD: true}},
		{"STOP handled by Twilio blocks program acme only", [][3]string{{senderA, "Stop", "STOP"}},
			map[string]bool{senderA: false, senderB: false, senderC: true, senderD: true}},
		{"STOPALL handled by Twilio as a STOP still blocks every sender", [][3]string{{senderC, "STOPALL", "STOP"}},
			map[string]bool{senderA: false, senderB: false, senderC: false, senderD: false}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			number := fmt.Sprintf("+1415555%04d", 3000+i)
			for _, m := range tt.texts {
				f.textTwilio(t, number, m[0], m[1], m[2])
			}
			for sender, want := range tt.want {
				if got := f.allowed(t, number, sender); got != want {
					t.Errorf("%s may send: %v, want %v", sender, got, want)
				}
			}
		})
	}
}

// A redelivered message (same provider message ID) is stored once and
// changes consent once; every accepted keyword waits for its signal.
func TestRedeliveryIsIdempotent(t *testing.T) {
	f := newFixture(t)
	m := contract.Inbound{Provider: "twilio", MessageID: "SMdup", From: "+14155550100", To: senderD, Body: "STOP", ReceivedAt: time.Now()}
	for range 3 {
		if err := f.intake.Inbound(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	events, err := f.store.Events(context.Background(), f.acts.Keyer.Key("+14155550100"))
	if err != nil || len(events) != 1 {
		t.Fatalf("events %+v, %v; want one", events, err)
	}
	if n, err := f.store.PendingSignalCount(context.Background()); err != nil || n != 1 {
		t.Fatalf("pending signals %d, %v; want 1", n, err)
	}
}

// With the store unreachable the intake reports ErrUnavailable (the bridge
// answers 503), never success.
func TestIntakeUnavailable(t *testing.T) {
	f := newFixture(t)
	f.store.Close()
	err := f.intake.Inbound(context.Background(), contract.Inbound{Provider: "twilio", MessageID: "SMx", From: "+14155550100", To: senderA, Body: "STOP", ReceivedAt: time.Now()})
	if !errors.Is(err, webhook.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

// lastInbound is the stored intent and signal flag of the newest message.
func (f *fixture) lastInbound(t *testing.T) (intent string, signal bool) {
	t.Helper()
	err := f.store.Pool().QueryRow(context.Background(),
		`SELECT intent, signal_pending FROM inbound_messages ORDER BY id DESC LIMIT 1`).Scan(&intent, &signal)
	if err != nil {
		t.Fatal(err)
	}
	return intent, signal
}

// Double opt-in through keywords: START asks, the sender's confirm word
// confirms; marketing needs the confirmation, transactional does not.
func TestDoubleOptInKeywords(t *testing.T) {
	f := newFixture(t)
	const ada, bob = "+14155553101", "+14155553102"
	type want struct {
		intent                   string
		signal                   bool
		marketing, transactional bool
	}
	steps := []struct {
		from, to, body string
		want           want
	}{
		{ada, senderE, "Y", want{"none", false, false, true}},               // nothing to confirm: a plain message
		{ada, senderE, "START", want{"opt_in_pending", true, false, true}},  // asked to confirm
		{ada, senderE, "Oui !", want{"confirm", true, true, true}},          // a configured confirm word
		{ada, senderE, "yes", want{"none", false, true, true}},              // already confirmed
		{ada, senderE, "START", want{"opt_in", true, true, true}},           // stays confirmed
		{ada, senderE, "STOP", want{"opt_out", true, false, false}},         //
		{ada, senderE, "Y", want{"none", false, false, false}},              // a YES does not undo a STOP
		{ada, senderE, "UNSTOP", want{"opt_in_pending", true, false, true}}, // asked again
		{ada, senderE, "Y", want{"confirm", true, true, true}},              //
		{bob, senderE, "Yes", want{"opt_in_pending", true, false, true}},    // YES with no open request is an opt-in: asked to confirm
		{bob, senderE, "yes!", want{"confirm", true, true, true}},
		{bob, senderA, "YES", want{"opt_in", true, true, true}},   // no double opt-in on A: YES is an opt-in keyword
		{bob, senderA, "START", want{"opt_in", true, true, true}}, //
	}
	for i, st := range steps {
		f.text(t, st.from, st.to, st.body)
		intent, signal := f.lastInbound(t)
		got := want{intent, signal, f.allowedFor(t, st.from, st.to, contract.CategoryMarketing), f.allowedFor(t, st.from, st.to, contract.CategoryTransactional)}
		if got != st.want {
			t.Errorf("step %d: %q to %s: got %+v, want %+v", i, st.body, st.to, got, st.want)
		}
	}
}

// A program whose STOP blocks marketing only: transactional messages go on,
// also after STOPALL; other programs are unaffected by the setting.
func TestMarketingOnlyStop(t *testing.T) {
	f := newFixture(t)
	const ada, bob = "+14155553201", "+14155553202"
	f.text(t, ada, senderF, "STOP")
	f.text(t, bob, senderC, "STOP ALL")
	tests := []struct {
		number, sender string
		category       contract.Category
		want           bool
	}{
		{ada, senderF, contract.CategoryMarketing, false},
		{ada, senderF, contract.CategoryTransactional, true},
		{bob, senderF, contract.CategoryMarketing, false},
		{bob, senderF, contract.CategoryTransactional, true},
		{bob, senderC, contract.CategoryTransactional, false},
		{bob, senderA, contract.CategoryTransactional, false},
	}
	for _, tt := range tests {
		if got := f.allowedFor(t, tt.number, tt.sender, tt.category); got != tt.want {
			t.Errorf("%s from %s to %s: allowed %v, want %v", tt.category, tt.sender, tt.number, got, tt.want)
		}
	}
}

// A number in a Twilio messaging service: Twilio sends both To and
// MessagingServiceSid, and journeys may send from either, so a keyword
// reaches both scopes, whichever of them the senders file knows.
func TestMessagingServiceNumber(t *testing.T) {
	const service, number = "MG00000000000000000000000000000009", "+15550000009"
	tests := []struct {
		name     string
		to       string
		blocked  []string // sender scopes that may no longer send after the STOP
		unharmed []string
	}{
		{"neither configured", number, []string{service, number}, []string{senderA}},
		{"number in program acme, service unconfigured", senderA, []string{service, senderA, senderB}, []string{senderC, number}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			from := fmt.Sprintf("+1415555%04d", 3100+i)
			f.inbound(t, contract.Inbound{From: from, To: tt.to, MessagingServiceSID: service, Body: "STOP"})
			for _, s := range tt.blocked {
				if f.allowed(t, from, s) {
					t.Errorf("after STOP, %s may still send", s)
				}
			}
			for _, s := range tt.unharmed {
				if !f.allowed(t, from, s) {
					t.Errorf("after STOP, %s may not send", s)
				}
			}
			f.inbound(t, contract.Inbound{From: from, To: tt.to, MessagingServiceSID: service, Body: "START"})
			for _, s := range tt.blocked {
				if !f.allowed(t, from, s) {
					t.Errorf("after START, %s may not send", s)
				}
			}
			// One scope opted out already (a STOP from before both scopes
			// were kept, or from staff): a new STOP still reaches the other.
			if _, err := f.store.Record(t.Context(), contract.ConsentChange{RecipientKey: f.acts.Keyer.Key(from), Scope: f.acts.Registry.ConsentScope(service),
				To: contract.OptedOut, Source: contract.SourceAdmin}); err != nil {
				t.Fatal(err)
			}
			f.inbound(t, contract.Inbound{From: from, To: tt.to, MessagingServiceSID: service, Body: "STOP"})
			for _, s := range tt.blocked {
				if f.allowed(t, from, s) {
					t.Errorf("after the second STOP, %s may still send", s)
				}
			}
			f.inbound(t, contract.Inbound{From: from, To: tt.to, MessagingServiceSID: service, Body: "START"})
			for _, s := range tt.blocked {
				if !f.allowed(t, from, s) {
					t.Errorf("after START, %s may not send", s)
				}
			}
		})
	}
}

// Every decision is explainable (issue 11): the inbound row and the consent
// event record the rule and the keyword; the text is in the inbound row
// only, not in the append-only events.
func TestIntakeRecordsRule(t *testing.T) {
	tests := []struct {
		body                         string
		intent, rule, keyword, event string // event: the consent event's to-state, "" for none
	}{
		{"STOP", "opt_out", "exact", "STOP", "opted_out"},
		{"Stop texting me", "opt_out", "object", "STOP", "opted_out"},
		{"STOP please", "opt_out", "courtesy", "STOP", "opted_out"},
		{"Stop!!! Who is this", "opt_out", "question", "STOP", "opted_out"},
		{"remove me from your list", "opt_out", "phrase", "REMOVE", "opted_out"},
		{"STOP\n\nSent from my iPhone", "opt_out", "exact+signature_stripped", "STOP", "opted_out"},
		{"Arrêtez svp", "opt_out", "courtesy", "ARRETEZ", "opted_out"},
		{"why?", "suggest_opt_out", "unclear", "WHY", ""},
		{"I can't stop smiling", "none", "", "", ""},
	}
	for i, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			f := newFixture(t)
			number := fmt.Sprintf("+1415555%04d", 4000+i)
			f.text(t, number, senderD, tt.body)
			msgs, err := f.store.InboundMessages(context.Background(), f.acts.Keyer.Key(number))
			if err != nil || len(msgs) == 0 {
				t.Fatalf("inbound messages: %d, %v", len(msgs), err)
			}
			m := msgs[len(msgs)-1]
			intent, rule, keyword, body := string(m.Intent), m.Rule, m.Keyword, m.Body
			if intent != tt.intent || rule != tt.rule || keyword != tt.keyword || body != tt.body {
				t.Errorf("inbound row = %q, %q, %q, %q; want %q, %q, %q, %q", intent, rule, keyword, body, tt.intent, tt.rule, tt.keyword, tt.body)
			}
			events, err := f.store.Events(context.Background(), f.acts.Keyer.Key(number))
			if err != nil {
				t.Fatal(err)
			}
			if tt.event == "" {
				if len(events) != 0 {
					t.Errorf("events = %+v, want none", events)
				}
				return
			}
			if len(events) != 1 {
				t.Fatalf("events = %+v, want one", events)
			}
			if e := events[0]; string(e.To) != tt.event || e.Rule != tt.rule || e.Keyword != tt.keyword || e.RawText != "" {
				t.Errorf("event = %+v; want to %q, rule %q, keyword %q, no text", e, tt.event, tt.rule, tt.keyword)
			}
		})
	}
}
