package activities

import "context"

// SendQueue is the task queue of a rate-limited sender's journey sends,
// beside the worker's task queue base: its workers poll it with the
// sender's max_per_second as TaskQueueActivitiesPerSecond, which the
// Temporal server enforces across all of them.
func SendQueue(base, sender string) string { return base + "/send/" + sender }

// SenderRateLimited reports whether the senders file gives sender (a
// number or messaging service SID) a max_per_second, so its journey sends
// go through its SendQueue.
func (a *Activities) SenderRateLimited(_ context.Context, sender string) (bool, error) {
	return a.Registry.Lookup(sender, "").MaxPerSecond > 0, nil
}
