package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/metrics"
	"github.com/stopline/stopline/internal/policy"
	"github.com/stopline/stopline/workflows/contract"
)

// JourneyInput starts one recipient's journey. From the starter, Phone is
// E.164 and RecipientKey is set. From the Temporal UI, a bare Phone (plus
// Region for national formats) is enough: the workflow resolves the key.
type JourneyInput struct {
	RunID        string             `json:"run_id"`
	Journey      journey.Definition `json:"journey"`
	Phone        string             `json:"phone"`
	Region       string             `json:"region,omitempty"`
	RecipientKey string             `json:"recipient_key,omitempty"`
	Attributes   map[string]string  `json:"attributes,omitempty"`
	// State is the US state the recipient lives in (USPS code, from the
	// audience file's state or postal_code column), or "". Its rule applies on top of the
	// number's area-code state: the stricter wins.
	State string `json:"state,omitempty"`
	// Test, if set, makes this journey a test send to Phone (TestSend).
	Test *TestSend `json:"test,omitempty"`
}

// Journey states, also the JourneyState search attribute.
const (
	StateRunning   = "running"
	StateCompleted = "completed" // every step ran
	StateSkipped   = "skipped"   // a consent check said no before a send
	StateStopped   = "stopped"   // cancelled by an opt-out while running
	StateFailed    = "failed"    // a send failed for good (the workflow fails)
)

// JourneyResult is the journey's outcome; Summary reads like
// "sent 1, skipped at step 2: opted_out".
type JourneyResult struct {
	contract.JourneyStatus
	Summary string `json:"summary"`
}

// Journey runs one recipient through a journey's steps. Before every SMS
// step it checks consent; an opt-out signalled while it runs cancels the
// pending wait or send at once.
func Journey(ctx workflow.Context, in JourneyInput) (JourneyResult, error) {
	r, err := newJourneyRun(ctx, in)
	if err != nil {
		return JourneyResult{}, err
	}
	if err := r.register(); err != nil {
		return JourneyResult{}, err
	}
	defer r.deregister()
	if r.sendOpts, err = sendActivityOptions(ctx, string(r.def.Sender.Provider), r.scope, r.started); err != nil {
		return JourneyResult{}, err
	}
	r.listenForCancel()
	return r.finish(r.run())
}

// acts names the activities the workflows run (method values only; never called).
var acts *activities.Activities

// journeyRun is one running journey: its input, rendered bodies and status.
type journeyRun struct {
	ctx       workflow.Context // the workflow's own context
	stepCtx   workflow.Context // cancelled by the cancel signal: pending timers and sends stop
	in        JourneyInput
	def       journey.Definition
	bodies    []string // by step index
	recipient activities.Recipient
	id, scope string
	status    contract.JourneyStatus
	sendOpts  workflow.ActivityOptions // sendOptions, on the provider's (or rate-limited sender's) send queue
	runCtl                             // the run's pause, resume and stop (run.go)
	// started: the fewerCommandsVersion the journey started on, which
	// says which changes it takes as made without asking.
	started workflow.Version
}

// fewerCommandsVersion is the one version check a journey makes when it
// starts. Each first GetVersion of a change ID costs a marker and a
// TemporalChangeVersion search-attribute upsert (a visibility write), so
// journeys started on this code take every earlier change as made,
// without asking. Histories from before it have no marker for it and
// replay the earlier checks; those of version 1 replay the checks of the
// changes version 2 took in.
const fewerCommandsVersion = "perf16-fewer-commands"

const (
	// fewerCommandsV1 takes send-queue, send-window-bound and
	// frequency-cap as made.
	fewerCommandsV1 workflow.Version = 1
	// fewerCommandsV2 also takes provider-queue, run-control and
	// journey-outcome as made.
	fewerCommandsV2 workflow.Version = 2
	// fewerCommandsV3 leaves out the start's search-attribute upsert when
	// the start already set the same values, as the starter does.
	fewerCommandsV3 workflow.Version = 3
)

// outcome is where a step leaves the journey: the zero value goes on to the
// next step; otherwise the journey ends in state, or fails with err.
type outcome struct {
	state string
	err   error
}

var (
	goOn    = outcome{}
	stopped = outcome{state: StateStopped}
	skipped = outcome{state: StateSkipped}
)

func (o outcome) ended() bool { return o != goOn }

// afterTimer reads the error of a timer run under the step context. Only
// cancellation fails a timer, so an error means an opt-out stopped the
// journey.
func afterTimer(err error) outcome {
	if err != nil {
		return stopped
	}
	return goOn
}

// newJourneyRun validates and renders the journey, resolves the recipient
// and publishes the status query and search attributes.
func newJourneyRun(ctx workflow.Context, in JourneyInput) (*journeyRun, error) {
	// Counted facts carry the journey's provider and category.
	ctx = metrics.ForJourney(ctx, in.Journey.Sender.Provider, string(in.Journey.Category))
	r := &journeyRun{ctx: ctx, stepCtx: ctx, in: in, def: in.Journey}
	r.started = workflow.GetVersion(ctx, fewerCommandsVersion, workflow.DefaultVersion, fewerCommandsV3)
	if err := r.def.Validate(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError("journey: "+err.Error(), contract.ErrBadInput, nil)
	}
	bodies, err := r.def.Render(in.Attributes)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("journey: "+err.Error(), contract.ErrBadInput, nil)
	}
	r.bodies = bodies
	r.recipient = activities.Recipient{Phone: in.Phone, Key: in.RecipientKey}
	if r.recipient.Key == "" {
		q := activities.RecipientInput{Phone: in.Phone, Region: in.Region}
		if err := workflow.ExecuteLocalActivity(summarised(ctx, localOptions, "resolve recipient"), acts.ResolveRecipient, q).Get(ctx, &r.recipient); err != nil {
			return nil, err
		}
	}
	r.id = workflow.GetInfo(ctx).WorkflowExecution.ID
	r.scope = r.def.Sender.Scope()
	r.status = contract.JourneyStatus{Journey: r.def.Name, State: StateRunning, Steps: len(r.def.Steps)}
	if err := workflow.SetQueryHandler(ctx, contract.QueryStatus, func() (contract.JourneyStatus, error) { return r.status, nil }); err != nil {
		return nil, err
	}
	return r, r.publish(startSearchAttributes(r.def.Name, in.RunID, r.recipient.Key))
}

// publish sets the journey's search attributes, unless its start already
// set them all (journeys from the starter) and it started on
// fewerCommandsV3: the upsert would cost a history event and a visibility
// write to change nothing.
func (r *journeyRun) publish(want []keywordSA) error {
	set := workflow.GetTypedSearchAttributes(r.ctx)
	updates := make([]temporal.SearchAttributeUpdate, len(want))
	same := true
	for i, w := range want {
		updates[i] = w.key.ValueSet(w.value)
		if v, ok := set.GetKeyword(w.key); !ok || v != w.value {
			same = false
		}
	}
	if same && r.started >= fewerCommandsV3 {
		return nil
	}
	return workflow.UpsertTypedSearchAttributes(r.ctx, updates...)
}

// changed reports whether the change id applies: always for journeys
// started on fewerCommandsVersion since (or later), else as recorded
// (GetVersion).
func (r *journeyRun) changed(ctx workflow.Context, id string, since workflow.Version) bool {
	return r.started >= since || workflow.GetVersion(ctx, id, workflow.DefaultVersion, 1) == 1
}

// register records the journey as running before its first step, so an
// opt-out from now on finds it.
func (r *journeyRun) register() error {
	reg := activities.Registration{
		WorkflowID: r.id, RecipientKey: r.recipient.Key, Phone: r.recipient.Phone, Scope: r.scope, Category: r.def.Category, RunID: r.in.RunID,
	}
	// The answer is the run's state (none in histories from before runs
	// could be paused): a journey started after a pause or stop obeys it.
	return workflow.ExecuteLocalActivity(summarised(r.ctx, localOptions, "register journey"), acts.RegisterJourney, reg).Get(r.ctx, &r.runState)
}

// deregister runs on every exit path; a disconnected context survives
// cancellation. Journeys record their outcome (for the run report) in the
// same transaction; older ones only deregister.
func (r *journeyRun) deregister() {
	dctx, _ := workflow.NewDisconnectedContext(r.ctx)
	if r.changed(dctx, "journey-outcome", fewerCommandsV2) {
		dctx = summarised(dctx, localOptions, "record outcome: "+r.endState())
		_ = workflow.ExecuteLocalActivity(dctx, acts.FinishJourney, r.endRecord()).Get(dctx, nil)
		return
	}
	_ = workflow.ExecuteLocalActivity(r.local(dctx), acts.DeregisterJourney, r.id).Get(dctx, nil)
}

// endState is the state the journey ended in: one that failed before
// reaching a state (a consent check failed for good) failed.
func (r *journeyRun) endState() string {
	if r.status.State == StateRunning {
		return StateFailed
	}
	return r.status.State
}

func (r *journeyRun) endRecord() activities.Outcome {
	return activities.Outcome{
		WorkflowID: r.id, RunID: r.in.RunID, Journey: r.def.Name, RecipientKey: r.recipient.Key,
		State: r.endState(), Reason: r.status.Reason, Step: r.status.Step, Sent: r.status.Sent, Unknown: r.status.Unknown,
		Deferrals: r.status.Deferrals,
	}
}

// listenForCancel makes the cancel signal cancel stepCtx: timers and
// activities started under it stop at once.
func (r *journeyRun) listenForCancel() {
	stepCtx, cancel := workflow.WithCancel(r.ctx)
	r.stepCtx, r.cancelSteps = stepCtx, cancel
	workflow.Go(r.ctx, func(gctx workflow.Context) {
		var req contract.CancelRequest
		workflow.GetSignalChannel(gctx, contract.SignalCancel).Receive(gctx, &req)
		r.status.Reason = req.Reason
		if r.status.Reason == "" {
			r.status.Reason = contract.ReasonOptedOut
		}
		if req.Reason == contract.ReasonRunStopped {
			r.countRunStopped()
		}
		cancel()
	})
	r.listenForRun()
}

// run runs the steps in order until one ends the journey.
func (r *journeyRun) run() outcome {
	for i, step := range r.def.Steps {
		r.status.Step = i
		if r.stepCtx.Err() != nil {
			return stopped
		}
		if r.in.Test.skips(i, step) {
			continue
		}
		var o outcome
		switch {
		case step.IsWait():
			o = r.wait(i, step)
		case step.IsOptIn():
			o = r.optIn(i)
		default:
			o = r.sms(i)
		}
		if o.ended() {
			return o
		}
	}
	r.status.Step = len(r.def.Steps)
	return outcome{state: StateCompleted}
}

// finish records the final state (also as the JourneyState search
// attribute) and returns the journey's result, or its failure.
func (r *journeyRun) finish(o outcome) (JourneyResult, error) {
	if o.state == "" {
		return JourneyResult{}, o.err // failed for good before any send
	}
	r.status.State = o.state
	r.status.WaitingUntil = time.Time{}
	_ = workflow.UpsertTypedSearchAttributes(r.ctx, SAJourneyState.ValueSet(o.state))
	if o.err != nil {
		return JourneyResult{}, o.err
	}
	return JourneyResult{JourneyStatus: r.status, Summary: r.in.Test.label(summary(r.status))}, nil
}

// wait is a wait step: a durable timer.
func (r *journeyRun) wait(i int, step journey.Step) outcome {
	d := step.WaitDuration()
	r.status.WaitingUntil = workflow.Now(r.ctx).Add(d)
	err := sleep(r.stepCtx, d, waitSummary(i, step))
	r.status.WaitingUntil = time.Time{}
	return afterTimer(err)
}

// sms is an SMS step: checked against consent, then sent.
func (r *journeyRun) sms(i int) outcome {
	res, o := r.send(i, r.query(r.def.Category), acts.CheckConsent)
	if o.ended() {
		return o
	}
	return r.count(i, res)
}

// optIn is an opt_in step: it makes the recipient pending (under the same
// rules as a consent check), sends the request, then waits for the YES.
func (r *journeyRun) optIn(i int) outcome {
	res, o := r.send(i, r.query(contract.CategoryOptInRequest), acts.RequestOptIn)
	if o.ended() || res.Status == alreadyConfirmed {
		return o
	}
	if o := r.count(i, res); o.ended() {
		return o
	}
	confirmed, err := awaitConfirmation(r.stepCtx, &r.status)
	if err != nil || confirmed {
		return afterTimer(err)
	}
	// No signal in time; ask Postgres, which a lost signal cannot fool,
	// before giving up.
	_, o = r.gate(i, acts.CheckConsent, r.query(contract.CategoryMarketing))
	return o
}

// alreadyConfirmed is send's answer at an opt_in step whose recipient had
// confirmed before: there is nothing to ask.
const alreadyConfirmed contract.SendStatus = "already_confirmed"

func (r *journeyRun) query(category contract.Category) activities.ConsentQuery {
	return activities.ConsentQuery{RecipientKey: r.recipient.Key, Scope: r.scope, Category: category}
}

// send waits for the sending window, runs the consent gate check, then the
// send activity. A marketing send that could not reach the provider before
// the window closed (hours of retries) comes back Deferred, and the step
// starts over.
func (r *journeyRun) send(i int, q activities.ConsentQuery, check any) (activities.SendResult, outcome) {
	marketing := r.def.Category == contract.CategoryMarketing
	windowed := marketing && r.in.Test.windowed()
	for {
		if windowed {
			if o := afterTimer(waitForWindow(r.stepCtx, &r.status, r.recipient.Phone, r.in.State, r.def.Sender.QuietHours)); o.ended() {
				return activities.SendResult{}, o
			}
		}
		controlled := r.runControlled()
		if controlled {
			if o := r.holdWhilePaused(); o.ended() {
				return activities.SendResult{}, o
			}
		}
		d, o := r.gate(i, check, q)
		if o.ended() {
			return activities.SendResult{}, o
		}
		if q.Category == contract.CategoryOptInRequest && d.State == contract.OptInConfirmed {
			return activities.SendResult{Status: alreadyConfirmed}, goOn
		}
		in := r.sendInput(i, q.Category)
		if controlled {
			in.RunID = r.in.RunID
		}
		if windowed && r.changed(r.ctx, "send-window-bound", fewerCommandsV1) {
			if in.NotAfter = windowCloses(r.ctx, r.recipient.Phone, r.in.State, r.def.Sender.QuietHours); in.NotAfter.IsZero() {
				continue // the consent check outlasted the window
			}
		}
		if marketing && r.changed(r.ctx, "frequency-cap", fewerCommandsV1) {
			in.FrequencyCap, in.State = true, r.in.State
		}
		r.in.Test.mark(&in)
		res, err := r.executeSend(r.sendOptions(i, q.Category), in)
		var canceled *temporal.CanceledError
		switch {
		case errors.As(err, &canceled):
			return r.afterCancelledSend(i, in)
		case err != nil && r.stepCtx.Err() != nil && r.settlesSendErrorAfterCancel():
			return r.settle(i, in)
		case err != nil:
			metrics.CountSMS(r.ctx, metrics.SMSFailed)
			r.status.Reason = "send failed"
			return res, outcome{state: StateFailed, err: err}
		case res.Status == activities.Deferred && res.Reason == activities.ReasonRunPaused:
			r.adopt(contract.RunSignal{State: contract.RunPaused, Seq: res.RunSeq})
			continue // hold until the run resumes, then start the step over
		case res.Status != activities.Deferred:
			return res, goOn
		case !res.DeferredUntil.IsZero():
			metrics.CountSMS(r.ctx, metrics.SMSDeferredCap)
			if o := afterTimer(waitOutCap(r.stepCtx, &r.status, res)); o.ended() {
				return res, o
			}
			continue
		}
		// The worker's clock may run ahead of workflow time: do not look
		// for the next window before this one has closed here too.
		if d := in.NotAfter.Sub(workflow.Now(r.ctx)); d > 0 {
			if o := afterTimer(sleep(r.stepCtx, d, windowClosedSummary(i))); o.ended() {
				return res, o
			}
		}
	}
}

// settlesSendErrorAfterCancel reports whether a send that failed after its
// step was cancelled is settled (settle) rather than failing the journey.
// Such a send usually lost its worker: the server does not retry an
// activity whose cancellation was requested, so the workflow gets the
// heartbeat timeout, not a cancellation. Journeys that failed here before
// keep failing on replay; the version is asked only on this rare path, so
// other histories get no marker.
func (r *journeyRun) settlesSendErrorAfterCancel() bool {
	return workflow.GetVersion(r.ctx, "send-error-after-cancel", workflow.DefaultVersion, 1) == 1
}

// afterCancelledSend ends step i, whose send was cancelled. An attempt
// cancelled before its call closes the ledger row itself, but one may have
// died mid-call (its worker lost) and left the row open, the provider
// holding the message or not, before the cancel dropped the retry that
// would have settled it; an open row is settled as a lost attempt's is.
// SendOpen retries while Postgres is down: the journey waits, as its other
// ledger work does. Journeys that stopped here before keep stopping on
// replay; the version is asked only on this path, so other histories get
// no marker.
func (r *journeyRun) afterCancelledSend(i int, in activities.SendInput) (activities.SendResult, outcome) {
	if workflow.GetVersion(r.ctx, "settle-cancelled-send", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return activities.SendResult{}, stopped
	}
	ctx, _ := workflow.NewDisconnectedContext(summarised(r.ctx, localOptions, openSummary(i)))
	var open bool
	if err := workflow.ExecuteLocalActivity(ctx, acts.SendOpen, in).Get(ctx, &open); err != nil {
		workflow.GetLogger(r.ctx).Error("ask whether a cancelled send is open", "step", i, "error", err)
		return activities.SendResult{}, stopped
	}
	if !open {
		return activities.SendResult{}, stopped
	}
	return r.settle(i, in)
}

// settle runs SettleSend for step i, whose cancelled send lost an attempt
// (afterCancelledSend; or its worker died after the cancel came, and the
// send failed), so the ledger learns whether the provider took the message
// (count then records it: sent before the stop) or records it cancelled.
// The settle sends nothing, so it runs on the provider's queue, never
// behind a rate-limited sender's backlog, and waits for a worker with the
// provider as long as the send could have. A settle that fails for good
// leaves the step unknown.
func (r *journeyRun) settle(i int, in activities.SendInput) (activities.SendResult, outcome) {
	opts := r.sendOpts
	opts.Summary = settleSummary(i)
	opts.TaskQueue = activities.ProviderQueue(workflow.GetInfo(r.ctx).TaskQueueName, string(in.Provider))
	opts.ScheduleToStartTimeout = 0 // up to ScheduleToCloseTimeout
	opts.HeartbeatTimeout = 0       // it does not heartbeat; StartToCloseTimeout bounds it
	ctx, _ := workflow.NewDisconnectedContext(workflow.WithActivityOptions(r.ctx, opts))
	var res activities.SendResult
	if err := workflow.ExecuteActivity(ctx, acts.SettleSend, in).Get(ctx, &res); err != nil {
		workflow.GetLogger(r.ctx).Error("settle a cancelled send", "step", i, "error", err)
		res = activities.SendResult{Status: contract.LedgerUnresolved, Reason: activities.ReasonUnresolved}
	}
	if res.Status == contract.LedgerSent || res.Status == contract.LedgerUnresolved {
		return res, goOn // count records it; the journey stops there, or completes at its last step
	}
	return res, stopped
}

// sendOptions are step i's send activity options, with its summary.
func (r *journeyRun) sendOptions(i int, category contract.Category) workflow.ActivityOptions {
	opts := r.sendOpts
	opts.Summary = smsSummary(i, category)
	if category == contract.CategoryOptInRequest {
		opts.Summary = optInSummary(i)
	}
	return opts
}

func (r *journeyRun) sendInput(i int, category contract.Category) activities.SendInput {
	s := r.def.Sender
	return activities.SendInput{
		LedgerKey: r.id, Step: i, RecipientKey: r.recipient.Key, Scope: r.scope, Category: category,
		Provider: s.Provider, To: r.recipient.Phone, From: s.From, MessagingServiceSID: s.MessagingServiceSID, Body: r.bodies[i],
	}
}

// gate runs a consent activity (CheckConsent or RequestOptIn) under the
// step context. The journey ends there if it was cancelled while the check
// ran (stopped), if consent refuses (skipped), or if the check failed for
// good.
func (r *journeyRun) gate(i int, check any, q activities.ConsentQuery) (contract.Decision, outcome) {
	var d contract.Decision
	ctx := summarised(r.stepCtx, localOptions, consentSummary(i, q.Category))
	err := workflow.ExecuteLocalActivity(ctx, check, q).Get(r.stepCtx, &d)
	switch {
	case temporal.IsCanceledError(err):
		return d, stopped
	case err != nil:
		return d, outcome{err: err}
	case !d.Allowed:
		r.status.Reason = reason(d)
		metrics.CountSMS(r.ctx, metrics.SendOutcome("skipped", r.status.Reason))
		return d, skipped
	}
	return d, goOn
}

// count records the ledger's verdict on step i.
func (r *journeyRun) count(i int, res activities.SendResult) outcome {
	if res.Status == contract.LedgerSkipped && res.Reason == contract.ReasonRunStopped {
		// The stop's cancel signal may have counted it already.
		r.status.Reason = res.Reason
		r.countRunStopped()
		return stopped
	}
	metrics.CountSMS(r.ctx, metrics.SendOutcome(string(res.Status), res.Reason))
	switch res.Status {
	case contract.LedgerSent:
		r.status.Sent++
	case contract.LedgerUnresolved:
		r.status.Unknown++
	case contract.LedgerSkipped:
		r.status.Reason = res.Reason
		return skipped
	}
	if r.stepCtx.Err() != nil {
		// Cancelled while the provider accepted this step: it was sent
		// before the opt-out committed; nothing more is.
		r.status.Step = i + 1
		if i+1 < len(r.def.Steps) {
			return stopped
		}
	}
	return goOn
}

func (r *journeyRun) local(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, localOptions)
}

// waitForWindow holds a marketing step until the recipient's local time is
// inside the sending window (the most restrictive of the recipient's zones:
// the number's and their state's).
// The consent check follows, so a STOP during the deferral still counts.
func waitForWindow(ctx workflow.Context, status *contract.JourneyStatus, e164, state string, override *journey.QuietHours) error {
	for {
		now := workflow.Now(ctx)
		var next time.Time
		// Zone rules come from the worker's tz data, and state rules from
		// its build, both of which can differ between workers and change
		// with a deploy: record the answer in history, so a replay never
		// recomputes it and a running journey keeps the decision it made.
		zones := policy.RecipientZones(e164, state)
		opts := workflow.SideEffectOptions{Summary: fmt.Sprintf("sending window (step %d)", status.Step)}
		err := workflow.SideEffectWithOptions(ctx, opts, func(workflow.Context) any {
			return policy.NextAllowed(now, zones, sendingWindow(e164, state, override))
		}).Get(&next)
		if err != nil {
			return err
		}
		if !next.After(now) {
			status.DeferredUntil, status.DeferredReason = time.Time{}, ""
			return nil
		}
		metrics.CountSMS(ctx, metrics.SMSDeferredQuietHours)
		status.DeferredUntil, status.DeferredReason = next, deferredSendingWindow
		status.Deferrals++
		if err := sleep(ctx, next.Sub(now), quietHoursSummary(status.Step, now, next, zones)); err != nil {
			return err
		}
	}
}

// sendingWindow is the recipient's marketing window: the legal window of
// the number's region and states, narrowed by the sender's hours, or
// replaced by them with a legal_override.
func sendingWindow(e164, state string, override *journey.QuietHours) policy.Window {
	return journey.SendingWindow(policy.LegalWindow(e164, state), override)
}

// windowCloses returns when the recipient's current sending window closes,
// or the zero time if it is closed now. Recorded, as waitForWindow's answer.
func windowCloses(ctx workflow.Context, e164, state string, override *journey.QuietHours) time.Time {
	now := workflow.Now(ctx)
	var closes time.Time
	opts := workflow.SideEffectOptions{Summary: "sending window closes"}
	_ = workflow.SideEffectWithOptions(ctx, opts, func(workflow.Context) any {
		return policy.WindowCloses(now, policy.RecipientZones(e164, state), sendingWindow(e164, state, override))
	}).Get(&closes)
	return closes
}

// awaitConfirmation waits at an opt_in step for the recipient's YES, which
// the Recipient workflow signals, for at most contract.ConfirmWindow. The next
// marketing step's consent check still requires the confirmation, so a
// stray signal cannot send anything.
func awaitConfirmation(ctx workflow.Context, status *contract.JourneyStatus) (confirmed bool, err error) {
	now := workflow.Now(ctx)
	status.ConfirmBy = now.Add(contract.ConfirmWindow)
	timer := workflow.TimerOptions{Summary: awaitYesSummary(status.Step, now, status.ConfirmBy)}
	defer func() { status.ConfirmBy = time.Time{} }()
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	workflow.NewSelector(ctx).
		AddReceive(workflow.GetSignalChannel(ctx, contract.SignalConfirmed), func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			confirmed = true
		}).
		AddFuture(workflow.NewTimerWithOptions(timerCtx, contract.ConfirmWindow, timer), func(f workflow.Future) { err = f.Get(ctx, nil) }).
		Select(ctx)
	return confirmed, err
}

// reason is why a consent decision refused; decisions recorded before
// reasons existed were opt-outs.
func reason(d contract.Decision) string {
	if d.Reason == "" {
		return contract.ReasonOptedOut
	}
	return d.Reason
}

func summary(s contract.JourneyStatus) string {
	text := fmt.Sprintf("sent %d", s.Sent)
	if s.Unknown > 0 {
		text += fmt.Sprintf(", %d unknown", s.Unknown)
	}
	switch s.State {
	case StateSkipped:
		text += fmt.Sprintf(", skipped at step %d: %s", s.Step, s.Reason)
	case StateStopped:
		text += fmt.Sprintf(", stopped: %s at step %d", s.Reason, s.Step)
	}
	return text
}

// localOptions: database reads and writes. Unlimited retries: a consent
// check that fails is retried until it answers, never taken as consent.
var localOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout:    10 * time.Second,
	ScheduleToCloseTimeout: 365 * 24 * time.Hour, // else it defaults to StartToCloseTimeout

	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        200 * time.Millisecond,
		BackoffCoefficient:     2,
		MaximumInterval:        10 * time.Second,
		NonRetryableErrorTypes: []string{contract.ErrBadInput},
	},
}

// sendOptions: the heartbeat timeout detects a dead worker quickly (the
// activity heartbeats during the provider call), and WaitForCancellation
// lets the workflow learn whether a cancelled send was accepted.
var sendOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    time.Minute,
	ScheduleToCloseTimeout: 24 * time.Hour,
	HeartbeatTimeout:       10 * time.Second,
	WaitForCancellation:    true,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		NonRetryableErrorTypes: []string{contract.ErrBadInput, contract.ErrProviderPermanent, contract.ErrNoSender},
	},
}
