package activities_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/sms"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

func TestSendSMSSendsOnce(t *testing.T) {
	h := newHarness(t)
	in := h.input(0)

	first, err := h.send(in)
	if err != nil {
		t.Fatalf("SendSMS: %v", err)
	}
	acc := h.fake.Accepted()
	if len(acc) != 1 {
		t.Fatalf("fake accepted %d messages, want 1", len(acc))
	}
	if acc[0].To != to || acc[0].From != from || acc[0].Body != in.Body {
		t.Errorf("accepted %+v, want to %s from %s body %q", acc[0], to, from, in.Body)
	}
	if first.Status != contract.LedgerSent || first.MessageID != acc[0].SID {
		t.Errorf("result = %+v, want sent with ID %s", first, acc[0].SID)
	}
	if e := h.ledger(t, 0); e.Status != contract.LedgerSent || e.ProviderMessageID != acc[0].SID || e.Provider != "twilio" {
		t.Errorf("ledger = %+v, want sent %s", e, acc[0].SID)
	}

	// A retry of the same (workflow, step) answers from the ledger.
	second, err := h.send(in)
	if err != nil {
		t.Fatalf("second SendSMS: %v", err)
	}
	if second != first {
		t.Errorf("second result = %+v, want %+v", second, first)
	}
	if n := h.fake.Calls(); n != 1 {
		t.Errorf("provider calls = %d after a repeated step, want 1", n)
	}

	// The next step of the same journey is a message of its own.
	if _, err := h.send(h.input(2)); err != nil {
		t.Fatal(err)
	}
	if n := len(h.fake.Accepted()); n != 2 {
		t.Errorf("accepted %d after step 2, want 2", n)
	}
}

func TestSendSMSOptedOutSkipsWithoutCall(t *testing.T) {
	tests := []struct {
		name  string
		scope string
	}{
		{"opted out in the sender's scope", scope},
		{"opted out of everything", contract.AllScopes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if _, err := h.store.Record(t.Context(), contract.ConsentChange{
				RecipientKey: h.key, Scope: tc.scope, To: contract.OptedOut, Source: contract.SourceKeyword, RawText: "STOP",
			}); err != nil {
				t.Fatal(err)
			}
			res, err := h.send(h.input(0))
			if err != nil {
				t.Fatalf("SendSMS: %v", err)
			}
			want := activities.SendResult{Status: contract.LedgerSkipped, Reason: contract.ReasonOptedOut}
			if res != want {
				t.Errorf("result = %+v, want %+v", res, want)
			}
			if n := h.fake.Calls(); n != 0 {
				t.Errorf("provider calls = %d for an opted-out recipient, want 0", n)
			}
			if e := h.ledger(t, 0); e.Status != contract.LedgerSkipped || e.Reason != contract.ReasonOptedOut {
				t.Errorf("ledger = %+v", e)
			}
		})
	}
}

func TestSendSMSOptedOutAtProvider(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.fake.OptOut(to)

	res, err := h.send(h.input(0))
	if err != nil {
		t.Fatalf("SendSMS: %v", err)
	}
	want := activities.SendResult{Status: contract.LedgerSkipped, Reason: activities.ReasonOptedOutAtProvider}
	if res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	if n := len(h.fake.Accepted()); n != 0 {
		t.Errorf("accepted %d, want 0", n)
	}
	// stopline's own record now agrees with the provider.
	d, err := h.store.Check(ctx, h.key, scope, contract.ConsentRule{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.State != contract.OptedOut {
		t.Errorf("Check after 21610 = %+v, want opted out", d)
	}
	events, err := h.store.Events(ctx, h.key)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Source != contract.SourceProvider || events[0].Provider != "twilio" ||
		events[0].To != contract.OptedOut || !strings.Contains(events[0].Note, "21610") {
		t.Errorf("events = %+v, want one provider opt-out naming 21610", events)
	}
	if e := h.ledger(t, 0); e.Status != contract.LedgerSkipped || e.Reason != activities.ReasonOptedOutAtProvider {
		t.Errorf("ledger = %+v", e)
	}
	// Later steps are suppressed by stopline itself, without a provider call.
	calls := h.fake.Calls()
	res, err = h.send(h.input(2))
	if err != nil || res.Reason != contract.ReasonOptedOut || h.fake.Calls() != calls {
		t.Errorf("next step = %+v, %v (calls %d -> %d); want skipped opted_out without a call", res, err, calls, h.fake.Calls())
	}
}

// If recording the provider's opt-out fails, the retry must still record it:
// otherwise the consent log never learns of a refusal the ledger already
// marked as final.
func TestSendSMSProviderOptOutSurvivesRecordFailure(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.fake.OptOut(to)

	// Fault injection: the consent table refuses writes once.
	if _, err := h.store.Pool().Exec(ctx, `
		CREATE FUNCTION fail_consent_write() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'injected failure'; END $$;
		CREATE TRIGGER fail_consent_write BEFORE INSERT OR UPDATE ON consent
		FOR EACH ROW EXECUTE FUNCTION fail_consent_write();`); err != nil {
		t.Fatal(err)
	}
	if _, err := h.send(h.input(0)); err == nil {
		t.Fatal("SendSMS succeeded although recording the opt-out failed")
	}
	if _, err := h.store.Pool().Exec(ctx, `DROP TRIGGER fail_consent_write ON consent`); err != nil {
		t.Fatal(err)
	}

	// Temporal retries the activity.
	res, err := h.send(h.input(0))
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if res.Status != contract.LedgerSkipped {
		t.Errorf("retry result = %+v, want skipped", res)
	}
	d, err := h.store.Check(ctx, h.key, scope, contract.ConsentRule{})
	if err != nil {
		t.Fatal(err)
	}
	if d.State != contract.OptedOut {
		t.Errorf("consent after the retry = %+v, want opted_out: the provider's 21610 was never recorded "+
			"because the ledger row was already final (skipped) when the activity was retried", d)
	}
}

func TestSendSMSInvalidNumber(t *testing.T) {
	h := newHarness(t)
	in := h.input(0)
	in.To = "4155550123" // the fake answers 21211 to anything that is not E.164
	in.RecipientKey = h.acts.Keyer.Key(in.To)
	res, err := h.send(in)
	if err != nil {
		t.Fatalf("SendSMS: %v", err)
	}
	want := activities.SendResult{Status: contract.LedgerSkipped, Reason: activities.ReasonInvalidNumber}
	if res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	if e := h.ledger(t, 0); e.Status != contract.LedgerSkipped || e.Reason != activities.ReasonInvalidNumber {
		t.Errorf("ledger = %+v", e)
	}
	// An invalid number is not an opt-out.
	if d, err := h.store.Check(t.Context(), in.RecipientKey, scope, contract.ConsentRule{}); err != nil || d.State != contract.ConsentUnknown {
		t.Errorf("Check = %+v, %v; want unknown", d, err)
	}
}

// A provider error answer: 4xx means not accepted (the row fails and a
// retry sends). A 5xx may come from a gateway that gave up after Twilio took
// the message, so the row stays "attempting" and the retry looks the
// message up before sending: once if it was never accepted, not at all if
// it was.
func TestSendSMSProviderErrors(t *testing.T) {
	tests := []struct {
		name          string
		status        int
		body          string
		afterAccept   bool // the provider took the message, the answer is an error
		retryable     bool
		ledger        contract.SendStatus // after the error
		reason        string              // ledger reason of a failed attempt
		retryAttempts int                 // ledger attempts after the retry
	}{
		{"429 rate limited", 429, `{"code":20429,"message":"Too Many Requests","status":429}`, false, true, contract.LedgerFailed, "rate_limited", 2},
		{"500 JSON", 500, `{"code":20500,"message":"Internal Server Error","status":500}`, false, true, contract.LedgerAttempting, "", 1},
		{"502 HTML from a proxy", 502, "<html><body>Bad Gateway</body></html>", false, true, contract.LedgerAttempting, "", 1},
		{"504 from a proxy after Twilio took the message", 504, "<html><body>Gateway Timeout</body></html>", true, true, contract.LedgerAttempting, "", 1},
		{"400 bad From", 400, `{"code":21606,"message":"The From phone number is not a valid, SMS-capable number","status":400}`, false, false, contract.LedgerFailed, "permanent", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.afterAccept {
				h.fake.FailAfterAccept(1, tc.status, tc.body)
			} else {
				h.fake.Fail(1, tc.status, tc.body)
			}
			in := h.input(0)

			_, err := h.send(in)
			if err == nil {
				t.Fatal("SendSMS succeeded on a provider error")
			}
			ae := applicationError(err)
			if tc.retryable && ae != nil && ae.NonRetryable() {
				t.Errorf("error %v is non-retryable, want retryable", err)
			}
			if !tc.retryable && (ae == nil || !ae.NonRetryable() || ae.Type() != contract.ErrProviderPermanent) {
				t.Errorf("error %v (%T), want a non-retryable %s", err, err, contract.ErrProviderPermanent)
			}
			if strings.Contains(err.Error(), to) {
				t.Errorf("error %q names the recipient number", err)
			}
			if e := h.ledger(t, 0); e.Status != tc.ledger || e.Reason != tc.reason {
				t.Errorf("ledger after the error = %+v, want %s (%s)", e, tc.ledger, tc.reason)
			}
			if !tc.retryable {
				return
			}

			res, err := h.send(in)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			acc := h.fake.Accepted()
			if len(acc) != 1 || res.Status != contract.LedgerSent || res.MessageID != acc[0].SID {
				t.Fatalf("retry = %+v, accepted %+v; want exactly one accepted message", res, acc)
			}
			if e := h.ledger(t, 0); e.Status != contract.LedgerSent || e.Attempts != tc.retryAttempts {
				t.Errorf("ledger after the retry = %+v, want sent after %d attempts", e, tc.retryAttempts)
			}
		})
	}
}

func TestSendSMSResolvesCrashedAttempt(t *testing.T) {
	tests := []struct {
		name string
		// acceptedBeforeCrash: the provider took the message before the
		// worker died, so the ledger never learnt of it.
		acceptedBeforeCrash bool
		// twinSent: another journey sent the same text to the same number
		// just before, and its ledger row holds that message.
		twinSent bool
	}{
		{"crash before the provider accepted", false, false},
		{"crash after the provider accepted", true, false},
		{"crash before the provider accepted, the same text sent by another journey", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			ctx := t.Context()
			in := h.input(0)
			var twin string
			if tc.twinSent {
				other := in
				other.LedgerKey += "-twin"
				if _, _, err := h.store.BeginAttempt(ctx, other.LedgerKey, other.Step, other.RecipientKey, string(other.Provider)); err != nil {
					t.Fatal(err)
				}
				r, err := h.tw.Send(ctx, h.message(other))
				if err != nil {
					t.Fatal(err)
				}
				twin = r.MessageID
				if err := h.store.FinishAttempt(ctx, nil, other.LedgerKey, other.Step, contract.LedgerSent, twin, ""); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := h.store.BeginAttempt(ctx, in.LedgerKey, in.Step, in.RecipientKey, string(in.Provider)); err != nil {
				t.Fatal(err)
			}
			var earlier string
			if tc.acceptedBeforeCrash {
				r, err := h.tw.Send(ctx, h.message(in))
				if err != nil {
					t.Fatal(err)
				}
				earlier = r.MessageID
			}

			res, err := h.send(in)
			if err != nil {
				t.Fatalf("SendSMS: %v", err)
			}
			acc := h.fake.Accepted()
			if tc.twinSent {
				acc = acc[1:] // the twin's message is not this step's
			}
			if len(acc) != 1 || h.fake.Calls() != len(h.fake.Accepted()) {
				t.Fatalf("provider calls %d, accepted %d for this step; want exactly one message", h.fake.Calls(), len(acc))
			}
			if res.Status != contract.LedgerSent || res.MessageID != acc[0].SID || res.MessageID == twin {
				t.Errorf("result = %+v, want sent %s (not the twin's %s)", res, acc[0].SID, twin)
			}
			if tc.acceptedBeforeCrash && res.MessageID != earlier {
				t.Errorf("resolved to %s, want the message sent before the crash %s", res.MessageID, earlier)
			}
			if e := h.ledger(t, 0); e.Status != contract.LedgerSent || e.ProviderMessageID != acc[0].SID {
				t.Errorf("ledger = %+v", e)
			}
		})
	}
}

func TestSendSMSUnresolvableAttemptIsNotResent(t *testing.T) {
	h := newHarness(t)
	fs := &fakeSender{}
	h.acts.Providers["fake"] = fs
	in := h.input(0)
	in.Provider = "fake"
	if _, _, err := h.store.BeginAttempt(t.Context(), in.LedgerKey, in.Step, in.RecipientKey, string(in.Provider)); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		res, err := h.send(in)
		if err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		want := activities.SendResult{Status: contract.LedgerUnresolved, Reason: activities.ReasonUnresolved}
		if res != want {
			t.Errorf("attempt %d: result = %+v, want %+v", attempt, res, want)
		}
	}
	if fs.Calls() != 0 {
		t.Errorf("provider calls = %d, want 0: the earlier call may have gone out", fs.Calls())
	}
	if e := h.ledger(t, 0); e.Status != contract.LedgerUnresolved {
		t.Errorf("ledger = %+v, want unknown", e)
	}
}

// With a sender that cannot look messages up, the first call's outcome
// decides the retry: a refusal (the provider's own 500 or 503) or a request
// that never left (connection refused) is sent again; an answer that may
// follow the provider taking the message (a gateway's 502 or 504, no answer
// at all) is not, and the step ends unknown rather than twice.
func TestSendSMSRetryWithoutFinder(t *testing.T) {
	tests := []struct {
		name      string
		first     *sms.Error
		ledger    contract.SendStatus // after the first call
		retry     contract.SendStatus
		wantCalls int
	}{
		{"503 from the provider", &sms.Error{Kind: sms.Temporary, HTTPStatus: 503, Message: "service unavailable"}, contract.LedgerFailed, contract.LedgerSent, 2},
		{"500 from the provider", &sms.Error{Kind: sms.Temporary, HTTPStatus: 500, Message: "internal error"}, contract.LedgerFailed, contract.LedgerSent, 2},
		{"connection refused", &sms.Error{Kind: sms.Temporary, Message: "connection refused", NotSent: true}, contract.LedgerFailed, contract.LedgerSent, 2},
		{"502 from a gateway", &sms.Error{Kind: sms.Temporary, HTTPStatus: 502, Message: "bad gateway"}, contract.LedgerAttempting, contract.LedgerUnresolved, 1},
		{"504 from a gateway", &sms.Error{Kind: sms.Temporary, HTTPStatus: 504, Message: "gateway timeout"}, contract.LedgerAttempting, contract.LedgerUnresolved, 1},
		{"timeout, no answer", &sms.Error{Kind: sms.Temporary, Message: "request timed out"}, contract.LedgerAttempting, contract.LedgerUnresolved, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tc.first.Provider = "fake"
			fs := &fakeSender{script: []func() (sms.Result, error){func() (sms.Result, error) { return sms.Result{}, tc.first }}}
			h.acts.Providers["fake"] = fs
			in := h.input(0)
			in.Provider = "fake"

			if _, err := h.send(in); err == nil {
				t.Fatal("first SendSMS succeeded on an error")
			}
			if e := h.ledger(t, 0); e.Status != tc.ledger {
				t.Fatalf("ledger after the error = %+v, want %s", e, tc.ledger)
			}
			res, err := h.send(in)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if res.Status != tc.retry || fs.Calls() != tc.wantCalls {
				t.Errorf("retry = %+v after %d provider calls; want %s after %d", res, fs.Calls(), tc.retry, tc.wantCalls)
			}
		})
	}
}

// A retry that overlaps a still-running attempt (heartbeat timeout while
// the first worker is alive) waits for its outcome instead of calling again,
// with or without a sender that can look messages up.
func TestSendSMSConcurrentRetryWaitsForRunningAttempt(t *testing.T) {
	accepted := func() (sms.Result, error) { return sms.Result{MessageID: "MSG-1", Status: "queued"}, nil }
	optedOut := func() (sms.Result, error) {
		return sms.Result{}, &sms.Error{Provider: "fake", Kind: sms.OptedOut, Code: 21610, HTTPStatus: 400, Message: "unsubscribed"}
	}
	tests := []struct {
		name   string
		finder bool
		result func() (sms.Result, error) // the first (blocked) call's outcome
		want   activities.SendResult      // what both calls must return
	}{
		{"accepted, finder", true, accepted, activities.SendResult{Status: contract.LedgerSent, MessageID: "MSG-1"}},
		{"accepted, no finder", false, accepted, activities.SendResult{Status: contract.LedgerSent, MessageID: "MSG-1"}},
		{"opted out at provider, finder", true, optedOut, activities.SendResult{Status: contract.LedgerSkipped, Reason: activities.ReasonOptedOutAtProvider}},
		{"opted out at provider, no finder", false, optedOut, activities.SendResult{Status: contract.LedgerSkipped, Reason: activities.ReasonOptedOutAtProvider}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			fs := &fakeSender{
				script:  []func() (sms.Result, error){tc.result},
				entered: make(chan struct{}),
				release: make(chan struct{}),
			}
			var sender sms.Sender = fs
			if tc.finder {
				sender = &findingSender{fs}
			}
			h.acts.Providers["fake"] = sender
			in := h.input(0)
			in.Provider = "fake"

			firstDone := make(chan sendOut, 1)
			go func() {
				res, err := h.send(in)
				firstDone <- sendOut{res, err}
			}()
			<-fs.entered
			secondDone := make(chan sendOut, 1)
			go func() {
				res, err := h.send(in)
				secondDone <- sendOut{res, err}
			}()
			// The retry is parked on the ledger row of the running attempt.
			pgtest.WaitForLockWaiters(t, h.store, 1)
			close(fs.release)

			first := testkit.Recv(t, firstDone, "first attempt")
			second := testkit.Recv(t, secondDone, "overlapping retry")
			if first.err != nil || second.err != nil {
				t.Fatalf("errors: first %v, second %v", first.err, second.err)
			}
			if fs.Calls() != 1 {
				t.Errorf("provider calls = %d, want 1", fs.Calls())
			}
			if first.res != tc.want || second.res != tc.want {
				t.Errorf("results = %+v and %+v, want both %+v", first.res, second.res, tc.want)
			}
			if e := h.ledger(t, 0); e.Status != tc.want.Status || e.ProviderMessageID != tc.want.MessageID {
				t.Errorf("ledger = %+v, want %+v", e, tc.want)
			}
		})
	}
}

// Two attempts of one step that both pass BeginAttempt before either locks
// the ledger row: here both wait for the recipient's lock while an opt-out
// from another sender commits. One calls the provider; the other finds the
// row final under LockAttempt and must report the same outcome, reason
// included (the workflow's summary prints it).
func TestSendSMSRacingAttemptsReportSameOutcome(t *testing.T) {
	tests := []struct {
		name   string
		result func() (sms.Result, error)
		want   activities.SendResult
	}{
		{
			name:   "accepted",
			result: func() (sms.Result, error) { return sms.Result{MessageID: "MSG-1", Status: "queued"}, nil },
			want:   activities.SendResult{Status: contract.LedgerSent, MessageID: "MSG-1"},
		},
		{
			name: "opted out at provider",
			result: func() (sms.Result, error) {
				return sms.Result{}, &sms.Error{Provider: "fake", Kind: sms.OptedOut, Code: 21610, HTTPStatus: 400, Message: "unsubscribed"}
			},
			want: activities.SendResult{Status: contract.LedgerSkipped, Reason: activities.ReasonOptedOutAtProvider},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			fs := &findingSender{&fakeSender{script: []func() (sms.Result, error){tc.result}}}
			h.acts.Providers["fake"] = fs
			in := h.input(0)
			in.Provider = "fake"

			// An opt-out of the same recipient from another sender, in flight.
			tx, err := h.store.Pool().Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if _, err := h.store.RecordTx(ctx, tx, contract.ConsentChange{
				RecipientKey: h.key, Scope: "+14155550199", To: contract.OptedOut, Source: contract.SourceKeyword,
			}); err != nil {
				t.Fatal(err)
			}

			done := make(chan sendOut, 2)
			for range 2 {
				go func() {
					res, err := h.send(in)
					done <- sendOut{res, err}
				}()
			}
			pgtest.WaitForLockWaiters(t, h.store, 2) // both attempts wait for the recipient's lock
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			a, b := testkit.Recv(t, done, "first attempt"), testkit.Recv(t, done, "second attempt")
			if a.err != nil || b.err != nil {
				t.Fatalf("errors: %v, %v", a.err, b.err)
			}
			if fs.Calls() != 1 {
				t.Errorf("provider calls = %d, want 1", fs.Calls())
			}
			if a.res != tc.want || b.res != tc.want {
				t.Errorf("results = %+v and %+v, want both %+v (the attempt that finds the row final "+
					"under LockAttempt drops the ledger's reason)", a.res, b.res, tc.want)
			}
		})
	}
}

func TestSendSMSUnknownProvider(t *testing.T) {
	h := newHarness(t)
	in := h.input(0)
	in.Provider = "sinch" // not configured in this worker
	_, err := h.send(in)
	ae := applicationError(err)
	if ae == nil || ae.Type() != contract.ErrNoSender || !ae.NonRetryable() {
		t.Fatalf("err = %v, want a non-retryable %s application error", err, contract.ErrNoSender)
	}
	if rows := pgtest.Ledger(t, h.store, wfID); len(rows) != 0 {
		t.Errorf("ledger = %+v; want no row for a send that never started", rows)
	}
}

func TestCheckConsentFailsClosed(t *testing.T) {
	h := newHarness(t)
	q := activities.ConsentQuery{RecipientKey: h.key, Scope: scope}
	check := func() (contract.Decision, error) {
		env := newActivityEnv()
		env.RegisterActivity(h.acts)
		val, err := env.ExecuteActivity(h.acts.CheckConsent, q)
		if err != nil {
			return contract.Decision{}, err
		}
		var d contract.Decision
		return d, val.Get(&d)
	}

	d, err := check()
	if err != nil || !d.Allowed {
		t.Fatalf("open store: %+v, %v; want allowed", d, err)
	}
	if _, err := h.store.Record(context.Background(), contract.ConsentChange{
		RecipientKey: h.key, Scope: scope, To: contract.OptedOut, Source: contract.SourceKeyword,
	}); err != nil {
		t.Fatal(err)
	}
	if d, err := check(); err != nil || d.Allowed {
		t.Fatalf("after opt-out: %+v, %v; want not allowed", d, err)
	}

	h.store.Close()
	d, err = check()
	if err == nil {
		t.Fatalf("closed store: decision %+v without error; want an error", d)
	}
	if d.Allowed {
		t.Errorf("closed store: decision %+v allowed", d)
	}
}

// A recipient key that is not the phone's (a journey input copied in the
// Temporal UI with only the phone changed) is refused before anything is
// registered or sent: consent would be checked for someone else.
func TestForeignRecipientKeyIsRefused(t *testing.T) {
	h := newHarness(t)
	foreign := h.acts.Keyer.Key("+14155550999")
	tests := []struct {
		name string
		run  func(env *testsuite.TestActivityEnvironment) error
	}{
		{"SendSMS", func(env *testsuite.TestActivityEnvironment) error {
			in := h.input(0)
			in.RecipientKey = foreign
			_, err := env.ExecuteActivity(h.acts.SendSMS, in)
			return err
		}},
		{"RegisterJourney", func(env *testsuite.TestActivityEnvironment) error {
			_, err := env.ExecuteActivity(h.acts.RegisterJourney, activities.Registration{WorkflowID: wfID, RecipientKey: foreign, Phone: to, Scope: scope})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newActivityEnv()
			env.RegisterActivity(h.acts)
			err := tc.run(env)
			if ae := applicationError(err); ae == nil || ae.Type() != contract.ErrBadInput || !ae.NonRetryable() {
				t.Fatalf("error = %v; want a non-retryable %s", err, contract.ErrBadInput)
			}
		})
	}
	if n := h.fake.Calls(); n != 0 {
		t.Errorf("provider calls = %d, want 0", n)
	}
	if rows := pgtest.Ledger(t, h.store, wfID); len(rows) != 0 {
		t.Errorf("ledger = %+v; want no rows", rows)
	}
	if js, err := h.store.ActiveJourneys(t.Context(), foreign, contract.AllScopes); err != nil || len(js) != 0 {
		t.Errorf("registered journeys of the foreign key = %+v, %v; want none", js, err)
	}
}

// A send attempted after the recipient's window closed (a retry after hours
// of 429s) does not call the provider; the step's next attempt, in the next
// window, sends it once.
func TestSendSMSAfterWindowClosedIsDeferred(t *testing.T) {
	h := newHarness(t)
	in := h.input(0)
	in.NotAfter = time.Now().Add(-time.Minute)
	res, err := h.send(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := (activities.SendResult{Status: activities.Deferred, Reason: activities.ReasonWindowClosed}); res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	if n := h.fake.Calls(); n != 0 {
		t.Errorf("provider calls = %d after the window closed, want 0", n)
	}
	if e := h.ledger(t, 0); e.Status != contract.LedgerFailed || e.Reason != activities.ReasonWindowClosed {
		t.Errorf("ledger = %+v, want failed (%s)", e, activities.ReasonWindowClosed)
	}

	in.NotAfter = time.Now().Add(time.Hour) // the next window
	if res, err := h.send(in); err != nil || res.Status != contract.LedgerSent || h.fake.Calls() != 1 {
		t.Errorf("next window: %+v, %v after %d calls; want sent once", res, err, h.fake.Calls())
	}
}

// A send the workflow cancels after its claim, before the provider call,
// records its step skipped, cancelled: the journey stops there and no
// retry will. A worker stopping is no such cancel: the row stays open for
// the retry, which sends.
func TestSendCancelledBeforeCall(t *testing.T) {
	tests := []struct {
		name   string
		cause  error
		want   contract.SendStatus
		reason string
	}{
		{"cancelled by the workflow", temporal.NewCanceledError(), contract.LedgerSkipped, activities.ReasonCancelled},
		{"the worker stopping", worker.ErrWorkerShutdown, contract.LedgerAttempting, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			bg, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			env := newActivityEnv()
			env.SetWorkerOptions(worker.Options{BackgroundActivityContext: bg})
			// The heartbeat before the call is when a cancel comes in.
			env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) { cancel(tc.cause) })
			env.RegisterActivity(h.acts)
			if _, err := env.ExecuteActivity(h.acts.SendSMS, h.input(0)); err == nil {
				t.Fatal("SendSMS succeeded; want the cancellation")
			}
			if n := h.fake.Calls(); n != 0 {
				t.Errorf("provider called %d times, want 0", n)
			}
			if e := h.ledger(t, 0); e.Status != tc.want || e.Reason != tc.reason {
				t.Errorf("ledger row %s %q, want %s %q", e.Status, e.Reason, tc.want, tc.reason)
			}
		})
	}
}
