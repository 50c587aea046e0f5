package activities_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/workflows/contract"
)

// The harness's sender (from) is in program "bank", whose STOP blocks
// marketing only; clubSender is in the double opt-in program "club".
const clubSender = "+14155550101"

func withPrograms(t *testing.T, h *harness) {
	t.Helper()
	reg, err := senders.Parse([]byte(`{"senders": [
		{"provider": "twilio", "from": "` + from + `", "type": "long_code", "program": "bank", "stop_blocks": "marketing", "brand": "Bank"},
		{"provider": "twilio", "from": "` + clubSender + `", "type": "long_code", "program": "club", "double_opt_in": true}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	h.acts.Registry = reg
}

// The send-time fence applies the program's rules: marketing from a double
// opt-in program needs a confirmation (its opt-in request does not), and a
// marketing-only STOP lets transactional messages through.
func TestSendSMSConsentRules(t *testing.T) {
	h := newHarness(t)
	withPrograms(t, h)
	ctx := context.Background()
	if _, err := h.store.Record(ctx, contract.ConsentChange{RecipientKey: h.key, Scope: "program:bank", To: contract.OptedOut, Source: contract.SourceKeyword}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sender   string
		category contract.Category
		status   contract.SendStatus
		reason   string
	}{
		{from, contract.CategoryMarketing, contract.LedgerSkipped, contract.ReasonOptedOut},
		{from, contract.CategoryTransactional, contract.LedgerSent, ""},
		{clubSender, contract.CategoryMarketing, contract.LedgerSkipped, activities.ReasonNotConfirmed},
		{clubSender, "", contract.LedgerSkipped, activities.ReasonNotConfirmed}, // older inputs: marketing
		{clubSender, contract.CategoryOptInRequest, contract.LedgerSent, ""},
		{clubSender, contract.CategoryTransactional, contract.LedgerSent, ""},
	}
	for i, tt := range tests {
		in := h.input(i)
		in.Scope, in.From, in.Category = tt.sender, tt.sender, tt.category
		calls := h.fake.Calls()
		res, err := h.send(in)
		if err != nil {
			t.Fatalf("%s %q: %v", tt.sender, tt.category, err)
		}
		called := h.fake.Calls() > calls
		if res.Status != tt.status || res.Reason != tt.reason || called != (tt.status == contract.LedgerSent) {
			t.Errorf("%s %q: %+v (provider called: %v), want %s %q", tt.sender, tt.category, res, called, tt.status, tt.reason)
		}
	}
	// A confirmed recipient gets the club's marketing.
	if _, err := h.store.Record(ctx, contract.ConsentChange{RecipientKey: h.key, Scope: "program:club", To: contract.OptInConfirmed, Source: contract.SourceAdmin}); err != nil {
		t.Fatal(err)
	}
	in := h.input(len(tests))
	in.Scope, in.From, in.Category = clubSender, clubSender, contract.CategoryMarketing
	if res, err := h.send(in); err != nil || res.Status != contract.LedgerSent {
		t.Errorf("confirmed: %+v, %v", res, err)
	}
}

// RequestOptIn refuses senders without double opt-in: nobody would read
// the recipient's YES.
func TestRequestOptInNeedsDoubleOptInSender(t *testing.T) {
	h := newHarness(t)
	withPrograms(t, h)
	env := newActivityEnv()
	env.RegisterActivity(h.acts)
	_, err := env.ExecuteActivity(h.acts.RequestOptIn, activities.ConsentQuery{RecipientKey: h.key, Scope: from, Category: contract.CategoryOptInRequest})
	if ae := applicationError(err); ae == nil || ae.Type() != contract.ErrBadInput || !ae.NonRetryable() {
		t.Fatalf("err = %v, want non-retryable BadInput", err)
	}
	val, err := env.ExecuteActivity(h.acts.RequestOptIn, activities.ConsentQuery{RecipientKey: h.key, Scope: clubSender, Category: contract.CategoryOptInRequest})
	var d contract.Decision
	if err == nil {
		err = val.Get(&d)
	}
	if err != nil || !d.Allowed {
		t.Fatalf("club: %+v, %v", d, err)
	}
	if now, _ := h.store.Check(context.Background(), h.key, "program:club", contract.ConsentRule{}); now.State != contract.OptInPending {
		t.Errorf("state after the request %q, want pending", now.State)
	}
}

// signalRecorder is a Temporal client that records signals; workflows in
// gone are reported as not found.
type signalRecorder struct {
	client.Client
	gone map[string]bool
	mu   sync.Mutex
	got  []string // "workflowID signal"
}

func (r *signalRecorder) SignalWorkflow(_ context.Context, id, _, name string, _ any) error {
	if r.gone[id] {
		return serviceerror.NewNotFound("workflow not found")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, id+" "+name)
	return nil
}

func (r *signalRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	slices.Sort(got)
	return got
}

func TestCancelAndConfirmJourneys(t *testing.T) {
	h := newHarness(t)
	withPrograms(t, h)
	rec := &signalRecorder{gone: map[string]bool{"club-ended": true}}
	h.acts.Temporal = rec
	ctx := context.Background()
	for _, j := range []struct {
		id, sender string
		category   contract.Category
	}{
		{"bank-marketing", from, contract.CategoryMarketing},
		{"bank-transactional", from, contract.CategoryTransactional},
		{"club-marketing", clubSender, contract.CategoryMarketing},
		{"club-transactional", clubSender, contract.CategoryTransactional},
		{"club-ended", clubSender, contract.CategoryMarketing},
		{"service", "MG00000000000000000000000000000001", contract.CategoryMarketing},
		{"service-number", "+14155550177", contract.CategoryMarketing},
	} {
		if _, err := h.acts.RegisterJourney(ctx, activities.Registration{WorkflowID: j.id, RecipientKey: h.key, Scope: j.sender, Category: j.category}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		run    func() (int, error)
		want   []string
		wantN  int
		signal string
	}{
		{"STOP to bank spares its transactional journey", func() (int, error) {
			return h.acts.CancelJourneys(ctx, activities.JourneysInput{RecipientKey: h.key, Scope: "program:bank"})
		}, []string{"bank-marketing cancel"}, 1, "cancel"},
		{"YES to club goes to its marketing journeys; an ended one is deregistered", func() (int, error) {
			return h.acts.ConfirmJourneys(ctx, activities.JourneysInput{RecipientKey: h.key, Scope: "program:club"})
		}, []string{"club-marketing confirmed"}, 1, "confirmed"},
		{"STOP to a number of a messaging service stops journeys sent from either", func() (int, error) {
			return h.acts.CancelJourneys(ctx, activities.JourneysInput{RecipientKey: h.key, Scope: "MG00000000000000000000000000000001", Sender: "+14155550177"})
		}, []string{"service cancel", "service-number cancel"}, 2, "cancel"},
		{"STOPALL cancels all but bank's transactional", func() (int, error) {
			return h.acts.CancelJourneys(ctx, activities.JourneysInput{RecipientKey: h.key, Scope: contract.AllScopes})
		}, []string{"bank-marketing cancel", "club-marketing cancel", "club-transactional cancel", "service cancel", "service-number cancel"}, 5, "cancel"},
	}
	for _, tt := range tests {
		n, err := tt.run()
		if got := rec.take(); err != nil || n != tt.wantN || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: signalled %d %v (err %v), want %d %v", tt.name, n, got, err, tt.wantN, tt.want)
		}
	}
	left, err := h.store.ActiveJourneys(ctx, h.key, "program:club")
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range left {
		if j.WorkflowID == "club-ended" {
			t.Error("a journey that no longer runs stayed registered")
		}
	}
}
