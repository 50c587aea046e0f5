package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/admin"
	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// runJourney is the runs tests' journey: three SMS with short waits.
func runJourney(name string) *journey.Definition {
	return testkit.MustJourney(`{"name": "` + name + `", "category": "marketing", "sender": ` + testkit.AnyHourSender + `,
		"steps": [{"sms": "s0"}, {"wait": "1s"}, {"sms": "s1"}, {"wait": "1s"}, {"sms": "s2"}]}`)
}

// runCommand gives a run command as the starter does (commit, then tell
// the journeys) and returns when it was committed: the command's answer.
func (e *env) runCommand(runID string, to contract.RunState) time.Time {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := admin.SetRun(ctx, e.App.Store, admin.RunRequest{RunID: runID, By: "e2e", Note: "race"}, to)
	if err != nil {
		e.T.Fatal(err)
	}
	answered := time.Now()
	if _, err := workflows.TellRun(ctx, e.Client(), e.App.Store, res.Committed); err != nil {
		e.T.Errorf("tell run %s: %v", to, err)
	}
	return answered
}

// TestPauseAndStopUnderRace starts 300 journeys of 3 SMS and, at random
// moments while they start, send and wait, pauses, resumes and stops
// their run. The moments are counted in sends, not timed, so a loaded
// machine cannot make a command come before any send: the pause after a
// random 1-100 accepted messages, the resume once a journey holds, the
// stop after a random 1-100 messages accepted since the resume. The fake
// Twilio holds each message 20 ms, so sends are in flight when a command
// commits. Counted: messages accepted after the pause's answer and before
// the resume was given, messages accepted after the stop's answer,
// journeys not ended soon after the stop, and duplicates. Each must be
// zero.
func TestPauseAndStopUnderRace(t *testing.T) {
	const recipients = 300
	e := newEnv(t)
	e.Twilio.SetDelay(20 * time.Millisecond)
	rng := rand.New(rand.NewPCG(18, 5))
	runID := e.Run("race")
	def := runJourney("runrace")
	numbers := make([]string, recipients)
	var csv strings.Builder
	csv.WriteString("phone\n")
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+1415556%04d", 1000+i)
		csv.WriteString(numbers[i] + "\n")
	}

	start := time.Now()
	var launched sync.WaitGroup
	launched.Go(func() { e.Launch("race", def, csv.String()) })
	acceptedSince := func(t0 time.Time) int {
		n := 0
		for _, m := range e.Twilio.Accepted() {
			if m.At.After(t0) {
				n++
			}
		}
		return n
	}

	pauseAfter, stopAfter := 1+rng.IntN(100), 1+rng.IntN(100)
	testkit.Eventually(t, time.Minute, "messages before the pause", func() bool { return acceptedSince(time.Time{}) >= pauseAfter })
	paused := e.runCommand(runID, contract.RunPaused)
	testkit.Eventually(t, time.Minute, "a journey held by the pause", func() bool { return e.anyHeld(runID, numbers) })
	resumeGiven := time.Now()
	e.runCommand(runID, contract.RunRunning)
	testkit.Eventually(t, time.Minute, "messages after the resume", func() bool { return acceptedSince(resumeGiven) >= stopAfter })
	stopped := e.runCommand(runID, contract.RunStopped)
	launched.Wait()

	// Every journey ends at once after the stop: allow for a busy machine.
	notEnded := 0
	states := map[string]int{}
	deadline := stopped.Add(time.Minute)
	for _, num := range numbers {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		var res workflows.JourneyResult
		err := e.Client().GetWorkflow(ctx, workflows.JourneyID(runID, e.Key(num)), "").Get(ctx, &res)
		cancel()
		if err != nil {
			notEnded++
			continue
		}
		states[res.State+": "+res.Reason]++
	}
	ended := time.Since(stopped)

	whilePaused, afterStop, duplicates, beforePause, resumedSent := 0, 0, 0, 0, 0
	seen := map[string]bool{}
	for _, m := range e.Twilio.Accepted() {
		if key := m.To + "|" + m.Body; seen[key] {
			duplicates++
		} else {
			seen[key] = true
		}
		switch {
		case m.At.After(stopped):
			afterStop++
		case m.At.After(paused) && m.At.Before(resumeGiven):
			whilePaused++
		case m.At.Before(paused):
			beforePause++
		default:
			resumedSent++
		}
	}
	t.Logf("%d journeys: pause after %d messages, stop after %d more since the resume; pause at %v, resume at %v, stop at %v after the start; all ended %v after the stop; states %v",
		recipients, pauseAfter, stopAfter, paused.Sub(start).Round(time.Millisecond), resumeGiven.Sub(start).Round(time.Millisecond),
		stopped.Sub(start).Round(time.Millisecond), ended.Round(time.Millisecond), states)
	t.Logf("accepted: %d before the pause, %d between the pause's answer and the resume, %d after the resume, %d after the stop's answer; duplicates %d; journeys not ended after the stop %d",
		beforePause, whilePaused, resumedSent, afterStop, duplicates, notEnded)
	if beforePause == 0 || resumedSent == 0 {
		t.Errorf("the commands did not race sends: %d sent before the pause, %d after the resume", beforePause, resumedSent)
	}
	if whilePaused+afterStop+duplicates+notEnded != 0 {
		t.Fatal("a run command was not obeyed")
	}
	for state := range states {
		if !strings.HasPrefix(state, workflows.StateStopped+": "+contract.ReasonRunStopped) && !strings.HasPrefix(state, workflows.StateCompleted) {
			t.Errorf("journeys ended %q, want stopped: run_stopped or completed", state)
		}
	}
}

// anyHeld reports whether a journey of the run holds for its pause (its
// status says run_paused); journeys not started yet are passed over.
func (e *env) anyHeld(runID string, numbers []string) bool {
	for _, num := range numbers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		v, err := e.Client().QueryWorkflow(ctx, workflows.JourneyID(runID, e.Key(num)), "", contract.QueryStatus)
		var st contract.JourneyStatus
		held := err == nil && v.Get(&st) == nil && st.DeferredReason == activities.ReasonRunPaused
		cancel()
		if held {
			return true
		}
	}
	return false
}

// TestRunStoppedRerun stops a run through the admin API, then re-runs the
// starter with more recipients: the new journeys end stopped: run_stopped
// without sending, and the run's audit log names who stopped it and why.
func TestRunStoppedRerun(t *testing.T) {
	token := strings.Repeat("r", 32)
	e := newEnv(t, stack.Webhooks, func(c *app.Config) { c.AdminAddr, c.AdminToken = "127.0.0.1:0", token })
	def := testkit.MustJourney(`{"name": "rerun", "category": "marketing", "sender": ` + testkit.AnyHourSender + `,
		"steps": [{"sms": "first"}, {"wait": "1h"}, {"sms": "second"}]}`)
	first, later := "+14155570001", "+14155570002"
	e.Launch("rerun", def, "phone\n"+first+"\n")
	testkit.Eventually(t, 30*time.Second, "first message", func() bool { return len(e.SentTo(first)) == 1 })

	runID := e.Run("rerun")
	api := "http://" + e.App.AdminAddr() + "/v1/runs/" + runID
	code, body := call(t, http.MethodPost, api+"/stop", token, strings.NewReader(`{"by": "ops@example.com", "note": "wrong offer code"}`))
	var res admin.RunResult
	if code != 200 || json.Unmarshal([]byte(body), &res) != nil || res.State != contract.RunStopped || !res.Changed || res.Signalled != 1 {
		t.Fatalf("stop: %d %s, want 200, stopped, changed, 1 journey signalled", code, body)
	}
	if r := e.Result("rerun", first); r.State != workflows.StateStopped || r.Reason != contract.ReasonRunStopped || r.Sent != 1 {
		t.Errorf("running journey: %+v, want stopped: run_stopped after 1 sent", r.JourneyStatus)
	}
	if code, body := call(t, http.MethodPost, api+"/resume", token, nil); code != http.StatusConflict {
		t.Errorf("resume of a stopped run: %d %s, want 409", code, body)
	}

	sum := e.Launch("rerun", def, "phone\n"+first+"\n"+later+"\n")
	if sum.Started != 1 || sum.AlreadyStarted != 1 {
		t.Errorf("re-run: started %d, already started %d; want 1, 1", sum.Started, sum.AlreadyStarted)
	}
	if r := e.Result("rerun", later); r.State != workflows.StateStopped || r.Reason != contract.ReasonRunStopped || r.Sent != 0 {
		t.Errorf("journey started after the stop: %+v, want stopped: run_stopped, nothing sent", r.JourneyStatus)
	}
	if got := e.SentTo(later); len(got) != 0 {
		t.Errorf("sent %q to a journey started after the stop", got)
	}

	e.replay(workflows.JourneyID(runID, e.Key(first)), "journey-run-stopped")
	e.replay(workflows.JourneyID(runID, e.Key(later)), "journey-started-after-stop")

	code, body = call(t, http.MethodGet, api, token, nil)
	var view admin.RunView
	if code != 200 || json.Unmarshal([]byte(body), &view) != nil {
		t.Fatalf("show run: %d %s", code, body)
	}
	if view.State != contract.RunStopped || len(view.Events) != 1 ||
		view.Events[0].Command != "stop" || view.Events[0].By != "ops@example.com" || view.Events[0].Note != "wrong offer code" {
		t.Errorf("run view %+v, want stopped with one stop event by ops@example.com, note kept", view)
	}
}

// TestRunPauseResume pauses a run after a journey's first message: its
// wait ends while paused, and it holds until the resume, then sends on.
func TestRunPauseResume(t *testing.T) {
	e := newEnv(t)
	def := testkit.MustJourney(`{"name": "pauseresume", "category": "marketing", "sender": ` + testkit.AnyHourSender + `,
		"steps": [{"sms": "first"}, {"wait": "1s"}, {"sms": "second"}]}`)
	num := "+14155570101"
	runID := e.Run("pauseresume")
	e.Launch("pauseresume", def, "phone\n"+num+"\n")
	testkit.Eventually(t, 30*time.Second, "first message", func() bool { return len(e.SentTo(num)) == 1 })
	e.runCommand(runID, contract.RunPaused)
	id := workflows.JourneyID(runID, e.Key(num))
	testkit.Eventually(t, 30*time.Second, "held after the wait", func() bool {
		return e.status("pauseresume", num).DeferredReason == activities.ReasonRunPaused
	})
	time.Sleep(time.Second)
	if got := e.SentTo(num); len(got) != 1 {
		t.Fatalf("sent %q while paused", got)
	}
	e.runCommand(runID, contract.RunRunning)
	if r := e.Result("pauseresume", num); r.State != workflows.StateCompleted || r.Sent != 2 {
		t.Errorf("after resume: %+v, want completed with 2 sent", r.JourneyStatus)
	}
	e.replay(id, "journey-paused-resumed")
}
