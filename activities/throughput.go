package activities

import (
	"cmp"
	"context"
	"time"
)

// SendQueue is the task queue of a rate-limited sender's journey sends in
// histories from before provider queues, beside the worker's task queue
// base: its workers poll it with the sender's max_per_second as
// TaskQueueActivitiesPerSecond, which the Temporal server enforces across
// all of them.
func SendQueue(base, sender string) string { return base + "/send/" + sender }

// ProviderQueue is the task queue of a provider's sends and replies,
// beside the worker's task queue base. Only workers with credentials for
// the provider poll it, so a send never lands on a worker that cannot
// make it.
func ProviderQueue(base, provider string) string { return base + "/send-" + provider }

// ProviderSenderQueue is the queue of a rate-limited sender's sends through
// provider: the provider's workers poll it with the sender's
// max_per_second, as SendQueue was.
func ProviderSenderQueue(base, provider, sender string) string {
	return ProviderQueue(base, provider) + "/" + sender
}

// DefaultProviderWait is how long a send on its provider's queue waits
// for a worker of the provider before the journey reports
// waiting_provider (and schedules it again).
const DefaultProviderWait = time.Minute

// RouteInput names a journey's task queue, provider and sender.
type RouteInput struct {
	Base     string
	Provider string
	Sender   string // a number or messaging service SID
}

// SendRoute is where a journey's sends go, and how long one waits there
// for a worker before the journey says it is waiting for its provider (0:
// no limit).
type SendRoute struct {
	Queue string
	Wait  time.Duration
}

// RouteSend chooses a journey's send queue: its provider's, or its
// sender's under that provider when the senders file gives the sender a
// max_per_second. A local activity: the answer is recorded, so a change of
// the senders file moves only journeys that start after it.
//
// Only the provider's queue has a wait: on a rate-limited sender's queue a
// send is held back by the rate as long as the backlog takes, which says
// nothing about the provider's workers. (Journeys that recorded a wait for
// that queue keep it.)
func (a *Activities) RouteSend(_ context.Context, in RouteInput) (SendRoute, error) {
	if a.Registry.Lookup(in.Sender, "").MaxPerSecond > 0 {
		return SendRoute{Queue: ProviderSenderQueue(in.Base, in.Provider, in.Sender)}, nil
	}
	return SendRoute{Queue: ProviderQueue(in.Base, in.Provider), Wait: cmp.Or(a.ProviderWait, DefaultProviderWait)}, nil
}

// SenderRateLimited reports whether the senders file gives sender (a
// number or messaging service SID) a max_per_second, so its journey sends
// go through its SendQueue (histories from before provider queues).
func (a *Activities) SenderRateLimited(_ context.Context, sender string) (bool, error) {
	return a.Registry.Lookup(sender, "").MaxPerSecond > 0, nil
}
