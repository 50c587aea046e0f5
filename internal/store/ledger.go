package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/workflows/contract"
)

// LedgerEntry is one row of the send ledger.
type LedgerEntry struct {
	WorkflowID        string
	Step              int
	RecipientKey      string
	Provider          string
	Status            contract.SendStatus
	ProviderMessageID string
	Reason            string
	Attempts          int
	AttemptedAt       time.Time
	UpdatedAt         time.Time
	Test              bool // a test send's (starter test)
	TestNow           bool // a test send's, sent outside the sending window
}

// LedgerColumns selects a LedgerEntry, in its fields' order.
const LedgerColumns = `workflow_id, step, recipient_key, provider, status, coalesce(provider_message_id, ''),
	coalesce(reason, ''), attempts, attempted_at, updated_at, test, test_now`

// insertAttempt opens the ledger row of a step unless it exists.
const insertAttempt = `INSERT INTO send_ledger (workflow_id, step, recipient_key, provider, status)
	VALUES ($1, $2, $3, $4, 'attempting') ON CONFLICT (workflow_id, step) DO NOTHING`

// BeginAttempt claims (workflowID, step) for a provider call. fresh is true
// when this call created the row. Otherwise the existing entry is returned
// unchanged (its Status tells the caller what happened before), except that
// a LedgerFailed entry is moved back to LedgerAttempting, because the provider refused
// it and it may be tried again.
func (s *Store) BeginAttempt(ctx context.Context, workflowID string, step int, recipientKey, provider string) (e LedgerEntry, fresh bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, insertAttempt, workflowID, step, recipientKey, provider)
		if err != nil {
			return err
		}
		fresh = tag.RowsAffected() == 1
		if !fresh {
			// Wait for an attempt that holds the row (LockAttempt) to end,
			// then only one claim moves a failed row back; it owns that
			// attempt like a new row.
			var prev contract.SendStatus
			if err := tx.QueryRow(ctx, `SELECT status FROM send_ledger WHERE workflow_id = $1 AND step = $2 FOR UPDATE`,
				workflowID, step).Scan(&prev); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `UPDATE send_ledger
				SET status = 'attempting', attempts = attempts + 1, attempted_at = clock_timestamp(), updated_at = clock_timestamp()
				WHERE workflow_id = $1 AND step = $2 AND status = 'failed'`, workflowID, step)
			if err != nil {
				return err
			}
			fresh = tag.RowsAffected() == 1
		}
		rows, err := tx.Query(ctx, `SELECT `+LedgerColumns+` FROM send_ledger WHERE workflow_id = $1 AND step = $2`, workflowID, step)
		if err != nil {
			return err
		}
		e, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[LedgerEntry])
		return err
	})
	if err != nil {
		return LedgerEntry{}, false, fmt.Errorf("send ledger: %w", err)
	}
	return e, fresh, nil
}

// FinishAttempt records the outcome of a step. Pass tx to make it atomic
// with a Fenced section, or nil to use the pool. reason is a fixed code
// (activities' Reason* constants, sms.Kind names), never a provider's
// text: the ledger holds nothing personal, and Forget leaves it whole.
func (s *Store) FinishAttempt(ctx context.Context, tx pgx.Tx, workflowID string, step int, status contract.SendStatus, providerMessageID, reason string) error {
	const q = `
		UPDATE send_ledger
		SET status = $3, provider_message_id = NULLIF($4, ''), reason = NULLIF($5, ''), updated_at = clock_timestamp()
		WHERE workflow_id = $1 AND step = $2`
	var err error
	if tx != nil {
		_, err = tx.Exec(ctx, q, workflowID, step, status, providerMessageID, reason)
	} else {
		_, err = s.pool.Exec(ctx, q, workflowID, step, status, providerMessageID, reason)
	}
	if err != nil {
		return fmt.Errorf("send ledger: %w", err)
	}
	return nil
}

// ErrMessageTaken says a message found at the provider was recorded for
// another step after the lookup skipped the claimed ones: look again.
var ErrMessageTaken = errors.New("the message found at the provider was recorded for another step meanwhile")

// AdoptMessage records (workflowID, step) sent as messageID, a message a
// lookup found at the provider (its text and number match), unless another
// step holds that message: two steps with the same text to the same number
// may both be looking, and only the first to record it gets it; the other
// gets ErrMessageTaken. Pass tx to take part in it, or nil.
func (s *Store) AdoptMessage(ctx context.Context, tx pgx.Tx, workflowID string, step int, provider, messageID string) error {
	adopt := func(tx pgx.Tx) error {
		// The row first, then the message, in every adoption: no deadlock.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM send_ledger WHERE workflow_id = $1 AND step = $2 FOR UPDATE`, workflowID, step); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('message ' || $1 || ' ' || $2, 0))`, provider, messageID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE send_ledger
			SET status = 'sent', provider_message_id = $3, reason = NULL, updated_at = clock_timestamp()
			WHERE workflow_id = $1 AND step = $2
			AND NOT EXISTS (SELECT 1 FROM send_ledger WHERE provider_message_id = $3 AND provider = $4)`,
			workflowID, step, messageID, provider)
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrMessageTaken
		}
		return err
	}
	if tx != nil {
		return adopt(tx) // the caller's error names the ledger
	}
	if err := pgx.BeginFunc(ctx, s.pool, adopt); err != nil {
		return fmt.Errorf("send ledger: %w", err)
	}
	return nil
}

// SettleAttempt settles (workflowID, step) under the row's lock, creating
// the row if no attempt did: a row that is not "attempting" stands (final,
// or failed: nothing was sent); an open one becomes what verdict says.
// verdict runs under the lock, so no attempt calls the provider meanwhile.
func (s *Store) SettleAttempt(ctx context.Context, workflowID string, step int, recipientKey, provider string,
	verdict func(LedgerEntry) (status contract.SendStatus, messageID, reason string, err error)) (LedgerEntry, error) {
	var e LedgerEntry
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertAttempt, workflowID, step, recipientKey, provider); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+LedgerColumns+` FROM send_ledger WHERE workflow_id = $1 AND step = $2 FOR UPDATE`, workflowID, step)
		if err != nil {
			return err
		}
		if e, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[LedgerEntry]); err != nil || e.Status != contract.LedgerAttempting {
			return err
		}
		status, id, reason, err := verdict(e)
		if err != nil {
			return err
		}
		e.Status, e.ProviderMessageID, e.Reason = status, id, reason
		if status == contract.LedgerSent {
			return s.AdoptMessage(ctx, tx, workflowID, step, provider, id)
		}
		return s.FinishAttempt(ctx, tx, workflowID, step, status, id, reason)
	})
	if err != nil {
		return LedgerEntry{}, fmt.Errorf("send ledger: %w", err)
	}
	return e, nil
}

// AttemptOpen reports whether (workflowID, step) has an open attempt: one
// that claimed the row and never recorded its outcome.
func (s *Store) AttemptOpen(ctx context.Context, workflowID string, step int) (bool, error) {
	var open bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM send_ledger WHERE workflow_id = $1 AND step = $2 AND status = 'attempting')`,
		workflowID, step).Scan(&open)
	if err != nil {
		return false, fmt.Errorf("send ledger: %w", err)
	}
	return open, nil
}

// MessageRecorded reports whether a step's ledger row holds the provider's
// message ID: resolving an ambiguous attempt must not take another step's
// message for its own.
func (s *Store) MessageRecorded(ctx context.Context, provider, messageID string) (bool, error) {
	var found bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM send_ledger WHERE provider_message_id = $1 AND provider = $2)`,
		messageID, provider).Scan(&found)
	if err != nil {
		return false, fmt.Errorf("send ledger: %w", err)
	}
	return found, nil
}

// MarkTest marks the ledger row of (workflowID, step) as a test send's;
// now says it was sent outside the sending window.
func (s *Store) MarkTest(ctx context.Context, workflowID string, step int, now bool) error {
	if _, err := s.pool.Exec(ctx, `UPDATE send_ledger SET test = true, test_now = $3 WHERE workflow_id = $1 AND step = $2`,
		workflowID, step, now); err != nil {
		return fmt.Errorf("send ledger: %w", err)
	}
	return nil
}

// LockAttempt locks the ledger row of (workflowID, step) inside tx until tx
// ends and returns its current status. A send holds it across the provider
// call, so a retry racing a still-running attempt waits for its outcome.
func (s *Store) LockAttempt(ctx context.Context, tx pgx.Tx, workflowID string, step int) (contract.SendStatus, string, string, error) {
	var (
		status     contract.SendStatus
		id, reason string
	)
	err := tx.QueryRow(ctx, `SELECT status, coalesce(provider_message_id, ''), coalesce(reason, '') FROM send_ledger
		WHERE workflow_id = $1 AND step = $2 FOR UPDATE`, workflowID, step).Scan(&status, &id, &reason)
	if err != nil {
		return "", "", "", fmt.Errorf("send ledger: %w", err)
	}
	return status, id, reason, nil
}

// Sends returns a recipient's send ledger rows, oldest attempt first.
func (s *Store) Sends(ctx context.Context, recipientKey string) ([]LedgerEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+LedgerColumns+`
		FROM send_ledger WHERE recipient_key = $1 ORDER BY attempted_at, workflow_id, step`, recipientKey)
	if err != nil {
		return nil, fmt.Errorf("send ledger: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[LedgerEntry])
}
