package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/stopline/stopline/activities"
)

// sendActivityOptions are a journey's send options: on its sender's send
// queue (activities.SendQueue), which the Temporal server rate-limits
// across all workers, when the senders file gives the sender a
// max_per_second. Asked once per journey, and recorded. current: the
// journey takes the send-queue change as made (fewerCommandsVersion).
func sendActivityOptions(ctx workflow.Context, sender string, current bool) (workflow.ActivityOptions, error) {
	opts := sendOptions
	if !current && workflow.GetVersion(ctx, "send-queue", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return opts, nil
	}
	var (
		a       *activities.Activities
		limited bool
	)
	err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, localOptions), a.SenderRateLimited, sender).Get(ctx, &limited)
	if limited {
		opts.TaskQueue = activities.SendQueue(workflow.GetInfo(ctx).TaskQueueName, sender)
	}
	return opts, err
}
