package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/workflows/contract"
)

// JourneyStatus.DeferredReason values besides activities.ReasonFrequencyCap.
const deferredSendingWindow = "sending_window"

// minCapWait keeps a send deferred by a frequency cap from coming straight
// back when the database's clock, which dated the cap, runs behind
// workflow time.
const minCapWait = time.Second

// waitOutCap holds a step whose send a frequency cap deferred on a durable
// timer until the cap frees (res.DeferredUntil), visible in the status
// query. The caller then checks the window, consent and the cap again.
func waitOutCap(ctx workflow.Context, status *contract.JourneyStatus, res activities.SendResult) error {
	status.DeferredUntil, status.DeferredReason = res.DeferredUntil, res.Reason
	defer func() { status.DeferredUntil, status.DeferredReason = time.Time{}, "" }()
	status.Deferrals++
	now := workflow.Now(ctx)
	d := max(res.DeferredUntil.Sub(now), minCapWait)
	return sleep(ctx, d, capSummary(status.Step, now, now.Add(d), res.Reason))
}
