package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/metrics"
	"github.com/stopline/stopline/workflows/contract"
)

// runCtl is what a journey knows of its run's pause, resume and stop. The
// run's state lives in Postgres, and every send reads it under the run's
// lock (activities.holdForRun), so a send never goes out after a pause or
// stop was answered. What the journey learns here (the run signal, the
// registration's and a held send's answers) only makes it hold or stop
// without asking the database at each step.
type runCtl struct {
	runState       contract.RunSignal // the newest state learnt; "" is running
	cancelSteps    func()             // cancels stepCtx (listenForCancel)
	runStopCounted bool
}

// runControl is the change ID of pausing and resuming: a journey of it
// holds before a send while its run is paused, and passes its run to the
// send activity.
const runControl = "run-control"

// runControlled reports whether this journey obeys run commands at its
// sends; histories from before them replay without.
func (r *journeyRun) runControlled() bool {
	return r.changed(r.ctx, runControl, fewerCommandsV2)
}

// listenForRun keeps the run's newest state from run signals. A stop
// comes as the cancel signal (ReasonRunStopped), which journeys of every
// version understand; a stop learnt otherwise (at registration, or from a
// send that the run refused) ends the journey the same way.
func (r *journeyRun) listenForRun() {
	if r.runState.State == contract.RunStopped {
		r.stopForRun()
	}
	workflow.Go(r.ctx, func(gctx workflow.Context) {
		ch := workflow.GetSignalChannel(gctx, contract.SignalRun)
		for {
			var sig contract.RunSignal
			ch.Receive(gctx, &sig)
			r.adopt(sig)
		}
	})
}

// adopt takes a run state learnt from a signal or a send, unless a newer
// one is known: signals of two commands can arrive out of order.
func (r *journeyRun) adopt(sig contract.RunSignal) {
	if sig.Seq < r.runState.Seq {
		return
	}
	r.runState = sig
	if sig.State == contract.RunStopped {
		r.stopForRun()
	}
}

// stopForRun ends the journey as the cancel signal does, for its run.
func (r *journeyRun) stopForRun() {
	if r.status.Reason == "" {
		r.status.Reason = contract.ReasonRunStopped
	}
	r.countRunStopped()
	if r.cancelSteps != nil {
		r.cancelSteps()
	}
}

// countRunStopped counts the step a stopped run did not send, once.
func (r *journeyRun) countRunStopped() {
	if !r.runStopCounted {
		r.runStopCounted = true
		metrics.CountSMS(r.ctx, metrics.SMSRunStopped)
	}
}

// holdWhilePaused holds before a send while the run is paused. Timers of
// wait steps run on meanwhile; the send's window is checked again after
// the hold (the send loop's NotAfter), so a step whose window closed while
// paused is deferred as usual.
func (r *journeyRun) holdWhilePaused() outcome {
	if r.runState.State != contract.RunPaused {
		return goOn
	}
	r.status.DeferredReason = activities.ReasonRunPaused
	defer func() { r.status.DeferredReason = "" }()
	if workflow.GetVersion(r.ctx, runRecheck, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return afterTimer(workflow.Await(r.stepCtx, r.resumed))
	}
	wait := workflow.AwaitOptions{Timeout: runRecheckEvery, TimerOptions: workflow.TimerOptions{Summary: "run paused: hold, then read its state"}}
	for {
		resumed, err := workflow.AwaitWithOptions(r.stepCtx, wait, r.resumed)
		if err != nil || resumed {
			return afterTimer(err)
		}
		var run contract.RunSignal
		ctx := summarised(r.stepCtx, localOptions, "read run state")
		if err := workflow.ExecuteLocalActivity(ctx, acts.CurrentRun, r.in.RunID).Get(r.stepCtx, &run); err != nil {
			return afterTimer(err) // only cancellation ends the retries
		}
		r.adopt(run) // a stop cancels stepCtx
		switch {
		case r.stepCtx.Err() != nil:
			return stopped
		case r.resumed():
			return goOn
		}
		wait.Timeout = min(2*wait.Timeout, maxRunRecheck)
	}
}

// runRecheck is the change ID of a held journey reading its run's state
// now and then (runRecheckEvery): a signal tells a held journey of a resume,
// and the resume's signalling can fail after the resume was committed
// (TellRun's error, the starter killed). Histories from before it wait for
// the signal alone.
const runRecheck = "run-recheck"

// runRecheckEvery is how long a held journey waits for a signal before it
// first reads its run's state; it waits twice as long after each read, up
// to maxRunRecheck, which bounds the history a long pause writes (about
// six events a read).
const (
	runRecheckEvery = 10 * time.Minute
	maxRunRecheck   = time.Hour
)

// resumed reports whether the run is no longer paused.
func (r *journeyRun) resumed() bool { return r.runState.State != contract.RunPaused }
