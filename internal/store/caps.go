package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/internal/policy"
)

// CountedSend is a send step that counts against its recipient's frequency
// caps in its consent scope (the program).
type CountedSend struct {
	WorkflowID   string
	Step         int
	RecipientKey string
	Scope        string // consent scope
	Category     string
}

// capLock takes the (recipient, scope) cap lock exclusively until the
// transaction ends. The recipient's consent lock, which sends hold shared,
// cannot serialise them with each other; this one does.
var capLock = `SELECT pg_advisory_xact_lock(hashtextextended('cap:' || $1, 0))`

// CountSend decides, inside tx (a Fenced section, which goes on to call the
// provider and commit), whether s may go under caps. It takes the cap lock
// of (recipient, scope), held until tx ends, so counting and sending are
// atomic: a concurrent send of the same recipient and program waits for
// this one's outcome. Sends that passed the check count until their
// counted_at leaves a cap's period, unless they ended failed or skipped;
// attempting and unknown count as sent.
//
// If a cap is full, CountSend returns until, when the send that must leave
// the period first does so; s is then not counted. Otherwise it returns the
// zero time and s counts from now on. Without caps it only records s (no
// lock), so caps added later see it.
func (s *Store) CountSend(ctx context.Context, tx pgx.Tx, c CountedSend, caps []policy.Cap) (until time.Time, err error) {
	if len(caps) > 0 {
		if _, err := tx.Exec(ctx, capLock, c.RecipientKey+"|"+c.Scope); err != nil {
			return time.Time{}, fmt.Errorf("cap lock: %w", err)
		}
		for _, cp := range caps {
			t, err := fullUntil(ctx, tx, c, cp)
			if err != nil {
				return time.Time{}, err
			}
			if t.After(until) {
				until = t
			}
		}
	}
	counted := "clock_timestamp()"
	if !until.IsZero() {
		counted = "NULL" // an earlier attempt's count no longer holds
	}
	if _, err := tx.Exec(ctx, `UPDATE send_ledger SET scope = $3, category = $4, counted_at = `+counted+`
		WHERE workflow_id = $1 AND step = $2`, c.WorkflowID, c.Step, c.Scope, c.Category); err != nil {
		return time.Time{}, fmt.Errorf("send ledger: %w", err)
	}
	return until, nil
}

// fullUntil returns when cp stops being full for c, or the zero time if it
// is not full: the cp.Max-th newest counted send's time plus cp.Per.
func fullUntil(ctx context.Context, tx pgx.Tx, c CountedSend, cp policy.Cap) (time.Time, error) {
	var t time.Time
	err := tx.QueryRow(ctx, `
		SELECT counted_at + make_interval(secs => $5) FROM send_ledger
		WHERE recipient_key = $1 AND scope = $2 AND counted_at > clock_timestamp() - make_interval(secs => $5)
		  AND status IN ('attempting', 'sent', 'unknown') AND (workflow_id, step) <> ($3, $4)
		ORDER BY counted_at DESC OFFSET $6 LIMIT 1`,
		c.RecipientKey, c.Scope, c.WorkflowID, c.Step, cp.Per.Seconds(), cp.Max-1).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("frequency cap: %w", err)
	}
	return t, nil
}
