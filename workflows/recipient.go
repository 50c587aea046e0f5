package workflows

import (
	"context"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/stopline/stopline/internal/consent"
	"github.com/stopline/stopline/workflows/contract"
)

// SignalRecipient delivers sig to the recipient's OptOut workflow, starting
// it if none runs. Every consent change reaches running journeys this way:
// keywords through the webhook bridge's re-driver, staff changes through
// TellRecipient.
func SignalRecipient(ctx context.Context, c client.Client, taskQueue, recipientKey string, sig contract.KeywordSignal) error {
	_, err := c.SignalWithStartWorkflow(ctx, OptOutID(recipientKey), contract.SignalKeyword, sig,
		client.StartWorkflowOptions{
			TaskQueue:                taskQueue,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		},
		OptOut, contract.OptOutState{RecipientKey: recipientKey})
	return err
}

// TellRecipient hands a consent change staff committed (admin API, starter
// consent) to the recipient's OptOut workflow, which cancels or frees their
// running journeys as it does for a keyword, sends no reply, and lists the
// change in its consent query. It is best effort: without it, journeys still
// send nothing after an opt-out, because every send re-checks consent under
// the recipient's lock.
func TellRecipient(ctx context.Context, c client.Client, taskQueue string, change consent.Change) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sig := contract.KeywordSignal{
		Intent: staffIntents[change.To], Scope: change.Scope, Source: string(change.Source), ReceivedAt: time.Now().UTC(),
	}
	return SignalRecipient(ctx, c, taskQueue, change.RecipientKey, sig)
}

// staffIntents maps the states staff can set to what they mean to journeys.
var staffIntents = map[consent.State]contract.Intent{
	consent.OptedOut:  contract.IntentOptOut,
	consent.OptedIn:   contract.IntentOptIn,
	consent.Confirmed: contract.IntentConfirm,
	consent.Pending:   contract.IntentOptInPending,
}
