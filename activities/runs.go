package activities

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/workflows/contract"
)

// Reasons a step of a paused or stopped run was not sent.
const (
	ReasonRunPaused  = "run_paused" // with Deferred: the journey holds until the run resumes
	ReasonRunStopped = contract.ReasonRunStopped
)

// holdForRun reads the send's run (SendInput.RunID) inside the fenced
// transaction tx, holding the run's row shared across the provider call,
// so a pause or stop waits for this send and every later send sees it.
// held means the run is not running: the attempt is recorded as not sent
// (failed, so a resumed run calls afresh) or skipped for a stopped run,
// and res says which, with the run's sequence number for the journey.
func (a *Activities) holdForRun(ctx context.Context, tx pgx.Tx, in SendInput) (res SendResult, held bool, err error) {
	if in.RunID == "" {
		return SendResult{}, false, nil
	}
	run, err := a.Store.LockRunShared(ctx, tx, in.RunID)
	switch {
	case err != nil:
		return SendResult{}, true, err
	case run.State == contract.RunPaused:
		res = SendResult{Status: Deferred, Reason: ReasonRunPaused, RunSeq: run.Seq}
		return res, true, a.Store.FinishAttempt(ctx, tx, in.LedgerKey, in.Step, contract.LedgerFailed, "", ReasonRunPaused)
	case run.State == contract.RunStopped:
		res = SendResult{Status: contract.LedgerSkipped, Reason: ReasonRunStopped, RunSeq: run.Seq}
		return res, true, a.Store.FinishAttempt(ctx, tx, in.LedgerKey, in.Step, contract.LedgerSkipped, "", ReasonRunStopped)
	}
	return SendResult{}, false, nil
}

// CurrentRun reads a run's committed state, for a journey held by a pause
// that has heard no resume for a while: the signal that tells it may have
// been lost (the command's signalling failed or its starter died).
func (a *Activities) CurrentRun(ctx context.Context, runID string) (contract.RunSignal, error) {
	run, err := a.Store.RunByID(ctx, runID)
	return contract.RunSignal{State: run.State, Seq: run.Seq}, err
}
