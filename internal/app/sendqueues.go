package app

import (
	"context"
	"fmt"
	"slices"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/worker"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/metrics"
)

// sendQueue is one send queue this worker polls, and the provider it
// serves ("" for the send queues of histories from before provider
// queues).
type sendQueue struct {
	name, provider string
	rate           float64 // max_per_second of a rate-limited sender; 0 = none
}

// sendQueues lists the send queues this worker polls: the queue of each
// provider it has credentials for, and under each of them the queue of
// every sender with a max_per_second. The Temporal server hands out a
// rate-limited queue's activity tasks at most at the rate its pollers ask
// for (TaskQueueActivitiesPerSecond; every process asks the same, from the
// same senders file), across all processes together; a task held back
// waits in the queue, neither failed nor run twice.
func (a *App) sendQueues() []sendQueue {
	base := a.cfg.TaskQueue
	limited := a.Activities.Registry.RateLimited()
	var qs []sendQueue
	for _, p := range a.providers() {
		qs = append(qs, sendQueue{name: activities.ProviderQueue(base, p), provider: p})
		for sender, rate := range limited {
			qs = append(qs, sendQueue{name: activities.ProviderSenderQueue(base, p, sender), provider: p, rate: rate})
		}
	}
	for sender, rate := range limited {
		qs = append(qs, sendQueue{name: activities.SendQueue(base, sender), rate: rate})
	}
	return qs
}

// providers names the providers this worker can send through, sorted.
func (a *App) providers() []string {
	var ps []string
	for p, s := range a.Activities.Providers {
		if s != nil {
			ps = append(ps, string(p))
		}
	}
	slices.Sort(ps)
	return ps
}

// startSendWorkers starts a worker on each of this worker's send queues.
func (a *App) startSendWorkers() error {
	for _, q := range a.sendQueues() {
		opts := worker.Options{MaxConcurrentActivityTaskPollers: 4}
		if q.rate > 0 {
			opts.TaskQueueActivitiesPerSecond = q.rate
		}
		w := worker.New(a.Temporal, q.name, opts)
		w.RegisterActivity(a.Activities.SendSMS)
		if q.provider != "" && q.rate == 0 { // the provider's own queue: what must not wait behind a rate
			w.RegisterActivity(a.Activities.SendReply)
			w.RegisterActivity(a.Activities.SettleSend)
		}
		if err := w.Start(); err != nil {
			a.stopSendWorkers()
			return fmt.Errorf("temporal worker for send queue %s: %w", q.name, err)
		}
		a.sendWorkers = append(a.sendWorkers, w)
	}
	return nil
}

func (a *App) stopSendWorkers() {
	for _, w := range a.sendWorkers {
		w.Stop()
	}
	a.sendWorkers = nil
}

// knownProviders are the providers whose send queues /metrics describes,
// whether or not this worker has them: a queue with a backlog and no
// pollers is work no running worker can do.
var knownProviders = []string{"twilio", "sinch", "http"}

// ProviderQueues describes each known provider's send queue (and the
// sandbox's in -dev), for metrics.QueueSource.
func (a *App) ProviderQueues(ctx context.Context) (map[string]metrics.QueueStats, error) {
	ps := knownProviders
	if a.cfg.Dev {
		ps = append(slices.Clone(ps), "sandbox")
	}
	out := make(map[string]metrics.QueueStats, len(ps))
	for _, p := range ps {
		resp, err := a.Temporal.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
			Namespace:     a.namespace,
			TaskQueue:     &taskqueuepb.TaskQueue{Name: activities.ProviderQueue(a.cfg.TaskQueue, p), Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
			TaskQueueType: enumspb.TASK_QUEUE_TYPE_ACTIVITY,
			ReportStats:   true,
		})
		if err != nil {
			return nil, fmt.Errorf("describe the %s send queue: %w", p, err)
		}
		out[p] = metrics.QueueStats{Backlog: resp.GetStats().GetApproximateBacklogCount(), Pollers: len(resp.GetPollers())}
	}
	return out, nil
}
