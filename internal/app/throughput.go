package app

import (
	"fmt"

	"go.temporal.io/sdk/worker"

	"github.com/stopline/stopline/activities"
)

// startSendWorkers starts a worker on the send queue of each sender with a
// max_per_second. The Temporal server hands out that queue's activity
// tasks at most at the rate its pollers ask for (TaskQueueActivitiesPerSecond;
// every process asks the same, from the same senders file), across all
// processes together; a task held back waits in the queue, neither failed
// nor run twice.
func (a *App) startSendWorkers() error {
	for sender, rate := range a.Activities.Registry.RateLimited() {
		w := worker.New(a.Temporal, activities.SendQueue(a.cfg.TaskQueue, sender), worker.Options{
			TaskQueueActivitiesPerSecond:     rate,
			MaxConcurrentActivityTaskPollers: 4,
		})
		w.RegisterActivity(a.Activities.SendSMS)
		if err := w.Start(); err != nil {
			a.stopSendWorkers()
			return fmt.Errorf("temporal worker for sender %s: %w", sender, err)
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
