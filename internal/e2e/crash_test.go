package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// TestCrashNeverDuplicates runs the real worker binary as a child process
// and SIGKILLs it at random moments while 300 journeys send, restarting it
// each time. Every (journey, step) must reach the provider at most once, and
// every journey must end.
func TestCrashNeverDuplicates(t *testing.T) {
	const (
		journeys = 300
		kills    = 10
	)
	e := newEnvWith(t, stack.Options{NoApp: true})
	w := newWorkerProcess(t, e)
	fake := e.Twilio
	// The fake accepts each message, then takes 30 ms to answer: a kill in
	// that window leaves a step the provider has but the ledger does not,
	// which the restarted worker must find instead of sending again.
	fake.SetReplyDelay(30 * time.Millisecond)

	// The first worker migrates the database; journeys start meanwhile.
	w.start()
	def := testkit.MustJourney(`{"name": "crash", "category": "transactional",
		"sender": {"provider": "twilio", "from": "+15550001111", "type": "long_code"},
		"steps": [{"sms": "one"}, {"wait": "1s"}, {"sms": "two"}, {"wait": "1s"}, {"sms": "three"}]}`)
	var csv strings.Builder
	csv.WriteString("phone\n")
	for i := range journeys {
		fmt.Fprintf(&csv, "+1415556%04d\n", i)
	}
	if sum := e.Launch("crash", def, csv.String()); sum.Started != journeys {
		t.Fatalf("launch: %+v", sum)
	}

	rng := rand.New(rand.NewPCG(7, 7))
	for k := range kills {
		// Kill while the worker is busy sending: once it has made progress,
		// at a random moment within the next 200 ms.
		before := len(fake.Accepted())
		deadline := time.Now().Add(30 * time.Second)
		for len(fake.Accepted()) < before+5 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond)
		w.kill()
		t.Logf("kill %d: %d messages accepted so far", k+1, len(fake.Accepted()))
		w.start()
	}

	states := map[string]int{}
	unknown := 0
	for i := range journeys {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		var res workflows.JourneyResult
		id := workflows.JourneyID(e.Run("crash"), e.Key(fmt.Sprintf("+1415556%04d", i)))
		err := e.Client().GetWorkflow(ctx, id, "").Get(ctx, &res)
		cancel()
		if err != nil {
			t.Fatalf("journey %d did not end: %v\nworker log tail:\n%s", i, err, w.logTail())
		}
		states[res.State]++
		unknown += res.Unknown
	}

	perStep := map[string]int{}
	for _, m := range fake.Accepted() {
		perStep[m.To+"|"+m.Body]++
	}
	duplicates := 0
	for k, n := range perStep {
		if n > 1 {
			duplicates += n - 1
			t.Errorf("%s reached the provider %d times", k, n)
		}
	}
	// The ledger agrees with the provider.
	st, err := store.Open(context.Background(), e.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Steps the provider accepted before a kill, found (not resent) by the
	// next worker: the case the ledger exists for.
	retried := strings.Count(w.log(), "found at the provider")
	t.Logf("%d journeys, %d SIGKILLs: states %v, %d provider calls, %d messages accepted, %d distinct steps, duplicates %d, steps marked unknown %d, ambiguous steps resolved at the provider %d",
		journeys, kills, states, fake.Calls(), len(fake.Accepted()), len(perStep), duplicates, unknown, retried)
	if states[workflows.StateCompleted] != journeys {
		t.Errorf("not every journey completed: %v", states)
	}
	if len(perStep)+unknown < journeys*3 {
		t.Errorf("%d steps accepted and %d unknown, want %d in all", len(perStep), unknown, journeys*3)
	}
	var sent int
	if err := st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM send_ledger WHERE status = 'sent'`).Scan(&sent); err != nil {
		t.Fatal(err)
	}
	if sent != len(perStep) {
		t.Errorf("ledger has %d sent steps, provider accepted %d", sent, len(perStep))
	}
}

// TestSendingWorkerDiesAroundStop: the worker running a send dies while
// the provider call is in flight, before the provider took the message or
// after (its answer lost), and an opt-out cancels the send either while the
// call was in flight or later, while the send's retry waited. The server
// does not retry an activity whose cancellation was requested, and the
// cancel drops a waiting retry, so no attempt will settle the step. The
// journey must end stopped, not failed, send nothing more, and settle the
// step in the ledger by asking the provider, never by calling it again:
// sent if the provider had taken the message, cancelled if not.
func TestSendingWorkerDiesAroundStop(t *testing.T) {
	tests := []struct {
		name      string
		taken     bool // the provider took the message before the worker died
		stopFirst bool // the stop came before the worker died (else while the retry waited)
		history   string
	}{
		{"stop, then death: the call hung", false, true, "journey-send-lost-after-stop"},
		{"stop, then death: the provider took it", true, true, "journey-send-taken-before-worker-died"},
		{"death, then stop: the call hung", false, false, "journey-send-lost-stop-dropped-retry"},
		{"death, then stop: the provider took it", true, false, "journey-send-taken-stop-dropped-retry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, stack.Options{NoApp: true})
			w := newWorkerProcess(t, e)
			// The call waits until its caller goes away, before or after
			// the fake takes the message.
			if tc.taken {
				e.Twilio.SetReplyDelay(time.Minute)
			} else {
				e.Twilio.SetDelay(time.Minute)
			}
			w.start()
			id, number := startSending(t, e, w)
			if tc.stopFirst {
				cancelJourney(t, e, id)
				waitForPending(t, w, e, id, "the send's cancellation requested", func(pa *workflowpb.PendingActivityInfo) bool {
					return pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED
				})
				w.kill()
			} else {
				w.kill()
				waitForPending(t, w, e, id, "the send's retry scheduled", func(pa *workflowpb.PendingActivityInfo) bool {
					return pa.GetAttempt() > 1 && pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_SCHEDULED
				})
				// A worker without the provider runs the journey's cancel
				// while the retry still waits for one with it.
				w.start("TWILIO_ACCOUNT_SID=")
				cancelJourney(t, e, id)
				waitFor(30*time.Second, func() bool { return journeyClosedOrSettling(e, id) })
				if !journeyClosedOrSettling(e, id) {
					t.Fatalf("the journey neither closed nor started its settle within 30 s of the cancel; worker log:\n%s", w.logTail())
				}
				w.kill()
			}
			w.start()

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var res workflows.JourneyResult
			if err := e.Client().GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
				d, _ := e.Client().DescribeWorkflowExecution(context.Background(), id, "")
				t.Fatalf("journey: %v; pending activities %v; worker log:\n%s", err, d.GetPendingActivities(), w.logTail())
			}
			want := contract.JourneyStatus{Journey: "dies", State: workflows.StateStopped, Step: 0, Steps: 2, Reason: contract.ReasonOptedOut}
			if tc.taken {
				want.Step, want.Sent = 1, 1
			}
			if res.JourneyStatus != want {
				t.Errorf("journey = %+v, want %+v", res.JourneyStatus, want)
			}
			accepted := e.Twilio.Accepted()
			if want := map[bool]int{false: 0, true: 1}[tc.taken]; len(accepted) != want || e.Twilio.Calls() != 1 {
				t.Errorf("the provider had %d calls and accepted %+v; want 1 call, %d accepted", e.Twilio.Calls(), accepted, want)
			}
			st, err := store.Open(t.Context(), e.Config.DatabaseURL)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			rows, err := st.Sends(t.Context(), e.Key(number))
			ledger := map[bool]contract.SendStatus{false: contract.LedgerSkipped, true: contract.LedgerSent}[tc.taken]
			if err != nil || len(rows) != 1 || rows[0].Status != ledger ||
				tc.taken && rows[0].ProviderMessageID != accepted[0].SID || !tc.taken && rows[0].Reason != activities.ReasonCancelled {
				t.Errorf("ledger = %+v, %v; want one row, %s", rows, err, ledger)
			}
			e.replay(id, tc.history)
		})
	}
}

// startSending starts a journey of two SMS and waits for its first send to
// reach the provider.
func startSending(t *testing.T, e *env, w *workerProcess) (id, number string) {
	t.Helper()
	def := testkit.MustJourney(`{"name": "dies", "category": "transactional",
		"sender": {"provider": "twilio", "from": "+15550001111", "type": "long_code"},
		"steps": [{"sms": "one"}, {"sms": "two"}]}`)
	number = "+14155550170"
	if err := e.StartJourney("dies", def, number); err != nil {
		t.Fatal(err)
	}
	waitFor(30*time.Second, func() bool { return e.Twilio.Calls() > 0 })
	if e.Twilio.Calls() == 0 {
		t.Fatalf("the send did not reach the provider within 30 s; worker log:\n%s", w.logTail())
	}
	return workflows.JourneyID(e.Run("dies"), e.Key(number)), number
}

// cancelJourney signals the journey's cancel, as an opt-out does.
func cancelJourney(t *testing.T, e *env, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.Client().SignalWorkflow(ctx, id, "", contract.SignalCancel, contract.CancelRequest{Reason: contract.ReasonOptedOut}); err != nil {
		t.Fatal(err)
	}
}

// waitForPending waits until the server shows a pending activity of the
// journey that matches.
func waitForPending(t *testing.T, w *workerProcess, e *env, id, what string, match func(*workflowpb.PendingActivityInfo) bool) {
	t.Helper()
	found := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d, err := e.Client().DescribeWorkflowExecution(ctx, id, "")
		return err == nil && slices.ContainsFunc(d.GetPendingActivities(), match)
	}
	waitFor(60*time.Second, found)
	if !found() {
		t.Fatalf("not seen within 60 s: %s; worker log:\n%s", what, w.logTail())
	}
}

// journeyClosedOrSettling reports whether the journey has closed, or waits
// for its SettleSend.
func journeyClosedOrSettling(e *env, id string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := e.Client().DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return false
	}
	return d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING ||
		slices.ContainsFunc(d.GetPendingActivities(), func(pa *workflowpb.PendingActivityInfo) bool {
			return pa.GetActivityType().GetName() == "SettleSend"
		})
}
