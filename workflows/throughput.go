package workflows

import (
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/metrics"
)

// sendActivityOptions are a journey's send options: on its provider's
// queue (activities.ProviderQueue), which only workers with that provider
// poll, or on its sender's queue under the provider when the senders file
// gives the sender a max_per_second (the Temporal server rate-limits that
// queue across all workers). Asked once per journey, and recorded.
// Histories from before provider queues keep the journey's task queue, or
// the sender's queue of the time (activities.SendQueue). started: the
// journey's fewerCommandsVersion, which takes send-queue (1) and
// provider-queue (2) as made.
func sendActivityOptions(ctx workflow.Context, provider, sender string, started workflow.Version) (workflow.ActivityOptions, error) {
	opts := sendOptions
	if started < fewerCommandsV1 && workflow.GetVersion(ctx, "send-queue", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return opts, nil
	}
	var a *activities.Activities
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
	base := workflow.GetInfo(ctx).TaskQueueName
	if started >= fewerCommandsV2 || workflow.GetVersion(ctx, "provider-queue", workflow.DefaultVersion, 1) == 1 {
		var route activities.SendRoute
		err := workflow.ExecuteLocalActivity(lctx, a.RouteSend, activities.RouteInput{Base: base, Provider: provider, Sender: sender}).Get(ctx, &route)
		opts.TaskQueue, opts.ScheduleToStartTimeout = route.Queue, route.Wait
		return opts, err
	}
	var limited bool
	err := workflow.ExecuteLocalActivity(lctx, a.SenderRateLimited, sender).Get(ctx, &limited)
	if limited {
		opts.TaskQueue = activities.SendQueue(base, sender)
	}
	return opts, err
}

// waitingProvider is the status's deferred reason while no worker with
// the journey's provider takes its send.
const waitingProvider = "waiting_provider"

// maxProviderWait bounds the growing wait between two schedules of a send
// that no worker takes, and so the history a long wait writes.
const maxProviderWait = time.Hour

// executeSend runs the send activity. When no worker takes it within the
// schedule-to-start timeout (no worker has the provider), nothing started,
// so nothing was sent or written: the journey says it is waiting for its
// provider and schedules the send again, waiting longer each time; a
// worker that starts polling takes the pending one at once. A send on a
// rate-limited sender's queue has no such wait (activities.RouteSend): it
// is held back by the rate, not by a missing worker.
func (r *journeyRun) executeSend(opts workflow.ActivityOptions, in activities.SendInput) (activities.SendResult, error) {
	for {
		var res activities.SendResult
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(r.stepCtx, opts), acts.SendSMS, in).Get(r.ctx, &res)
		if !notStarted(err) || opts.ScheduleToStartTimeout == 0 {
			if r.status.DeferredReason == waitingProvider {
				r.status.DeferredReason = ""
			}
			return res, err
		}
		if r.status.DeferredReason != waitingProvider {
			metrics.CountSMS(r.ctx, metrics.SMSWaitingProvider)
		}
		r.status.DeferredReason = waitingProvider
		opts.ScheduleToStartTimeout = min(2*opts.ScheduleToStartTimeout, maxProviderWait)
	}
}

// notStarted reports whether an activity timed out before any worker
// started it. The server does not retry that timeout.
func notStarted(err error) bool {
	var timeout *temporal.TimeoutError
	return errors.As(err, &timeout) && timeout.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START
}

// replyActivityOptions are the options of a keyword's reply: on the
// provider's queue, so only a worker with the provider sends it, and never
// on a rate-limited sender's queue, so a reply does not wait behind a
// campaign. Histories from before provider queues keep the workflow's
// task queue.
func replyActivityOptions(ctx workflow.Context, provider string) workflow.ActivityOptions {
	opts := replyOptions
	if workflow.GetVersion(ctx, "reply-provider-queue", workflow.DefaultVersion, 1) == 1 {
		opts.TaskQueue = activities.ProviderQueue(workflow.GetInfo(ctx).TaskQueueName, provider)
	}
	return opts
}
