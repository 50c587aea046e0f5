package activities

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/internal/policy"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

// ReasonFrequencyCap: a frequency cap of the recipient's state or of the
// sender's program is full; the send waits until it frees.
const ReasonFrequencyCap = "frequency_cap"

// holdForCap counts a capped send (SendInput.FrequencyCap) against its
// recipient's caps in the program, inside the fenced transaction tx, whose
// cap lock then stays held across the provider call. held means a cap is
// full: the attempt is recorded as not sent, and res is Deferred until the
// cap frees.
func (a *Activities) holdForCap(ctx context.Context, tx pgx.Tx, in SendInput, scope string) (res SendResult, held bool, err error) {
	if !in.FrequencyCap {
		return SendResult{}, false, nil
	}
	send := store.CountedSend{WorkflowID: in.LedgerKey, Step: in.Step, RecipientKey: in.RecipientKey, Scope: scope, Category: string(category(in.Category))}
	until, err := a.Store.CountSend(ctx, tx, send, a.caps(in.To, in.State, scope))
	if err != nil || until.IsZero() {
		return SendResult{}, false, err
	}
	res = SendResult{Status: Deferred, Reason: ReasonFrequencyCap, DeferredUntil: until}
	return res, true, a.Store.FinishAttempt(ctx, tx, in.LedgerKey, in.Step, contract.LedgerFailed, "", ReasonFrequencyCap)
}

// caps are the frequency caps on a recipient's marketing from a program:
// their state's (StateCapPeriod shortens its 24 hours in tests) and the
// program's own from the senders file.
func (a *Activities) caps(e164, residence, scope string) []policy.Cap {
	state := policy.StateCap(e164, residence)
	if a.StateCapPeriod > 0 && !state.IsZero() {
		state.Per = a.StateCapPeriod
	}
	var caps []policy.Cap
	for _, c := range []policy.Cap{state, a.Registry.ScopeSender(scope).Cap()} {
		if !c.IsZero() {
			caps = append(caps, c)
		}
	}
	return caps
}
