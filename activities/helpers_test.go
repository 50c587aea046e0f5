package activities_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/sms"
	"github.com/stopline/stopline/internal/sms/smstest"
	"github.com/stopline/stopline/internal/sms/twilio"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

const (
	to    = "+14155550123"
	from  = "+14155550100"
	wfID  = "journey/run1/rkey"
	scope = from
)

type harness struct {
	store *store.Store
	fake  *smstest.FakeTwilio
	tw    *twilio.Sender
	acts  *activities.Activities
	key   string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	fake := smstest.NewFakeTwilio()
	t.Cleanup(fake.Close)
	tw, err := twilio.New(twilio.Config{AccountSID: smstest.AccountSID, AuthToken: smstest.AuthToken, APIURL: fake.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	keyer := testkit.DevKeyer()
	store := pgtest.NewStore(t)
	return &harness{
		store: store,
		fake:  fake,
		tw:    tw,
		key:   keyer.Key(to),
		acts: &activities.Activities{
			Store:       store,
			Providers:   map[contract.Provider]sms.Sender{"twilio": tw},
			Keyer:       keyer,
			Logger:      slog.New(slog.DiscardHandler),
			SendTimeout: 5 * time.Second,
		},
	}
}

func (h *harness) input(step int) activities.SendInput {
	return activities.SendInput{
		LedgerKey: wfID, Step: step, RecipientKey: h.key, Scope: scope,
		Provider: "twilio", To: to, From: from, Body: "Spring sale: 20% off. Reply STOP to opt out.",
	}
}

func (h *harness) message(in activities.SendInput) sms.Message {
	return sms.Message{To: in.To, From: in.From, MessagingServiceSID: in.MessagingServiceSID, Body: in.Body}
}

// send runs SendSMS in a test activity environment of its own, so calls
// may run concurrently.
func (h *harness) send(in activities.SendInput) (activities.SendResult, error) {
	env := newActivityEnv()
	env.RegisterActivity(h.acts)
	val, err := env.ExecuteActivity(h.acts.SendSMS, in)
	if err != nil {
		return activities.SendResult{}, err
	}
	var res activities.SendResult
	if err := val.Get(&res); err != nil {
		return activities.SendResult{}, err
	}
	return res, nil
}

func (h *harness) ledger(t *testing.T, step int) store.LedgerEntry {
	t.Helper()
	rows := pgtest.Ledger(t, h.store, wfID)
	for _, r := range rows {
		if r.Step == step {
			return r
		}
	}
	t.Fatalf("no ledger row for step %d in %+v", step, rows)
	return store.LedgerEntry{}
}

// newActivityEnv returns a test activity environment that does not log:
// the failures these tests provoke would drown the test output.
func newActivityEnv() *testsuite.TestActivityEnvironment {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	return s.NewTestActivityEnvironment()
}

// applicationError returns err's ApplicationError, if any.
func applicationError(err error) *temporal.ApplicationError {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

// fakeSender is a provider stand-in that is not an sms.Finder. Send runs
// the next scripted outcome, or succeeds.
type fakeSender struct {
	mu      sync.Mutex
	calls   int
	script  []func() (sms.Result, error)
	entered chan struct{} // if set, closed when the first Send starts
	release chan struct{} // if set, the first Send waits for it
}

func (f *fakeSender) Send(ctx context.Context, m sms.Message) (sms.Result, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	var next func() (sms.Result, error)
	if len(f.script) > 0 {
		next, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	if n == 1 && f.entered != nil {
		close(f.entered)
		select {
		case <-f.release:
		case <-ctx.Done():
			return sms.Result{}, ctx.Err()
		}
	}
	if next != nil {
		return next()
	}
	return sms.Result{MessageID: "fake-" + time.Now().Format("150405.000000"), Status: "queued"}, nil
}

func (f *fakeSender) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// findingSender is a fakeSender that is also an sms.Finder that never finds
// anything, like a provider whose list has not caught up yet.
type findingSender struct {
	*fakeSender
}

func (f *findingSender) Find(context.Context, sms.Message, time.Time, func(string) (bool, error)) (sms.Result, bool, error) {
	return sms.Result{}, false, nil
}

var (
	_ sms.Finder = (*findingSender)(nil)
	_ sms.Sender = (*fakeSender)(nil)
)

type sendOut struct {
	res activities.SendResult
	err error
}
