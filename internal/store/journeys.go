package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/workflows/contract"
)

// RegisterJourney records a running journey of a recipient. It takes the
// recipient's lock in shared mode, so it is ordered against opt-outs: a
// registration either commits before an opt-out (and the opt-out's
// cancellation finds it) or after (and the journey's consent check sees the
// opt-out). A journey of a run (j.RunID) reads the run's state under its
// row held shared, which orders it against a pause or stop the same way:
// the answer is the run's state as of the registration, and a later
// command's fan-out finds the journey.
func (s *Store) RegisterJourney(ctx context.Context, j ActiveJourney, recipientKey string) (Run, error) {
	run := Run{ID: j.RunID, State: contract.RunRunning}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))`, recipientKey); err != nil {
			return err
		}
		if j.RunID != "" {
			var err error
			if run, err = s.LockRunShared(ctx, tx, j.RunID); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO active_journeys (workflow_id, recipient_key, scope, category, run_id) VALUES ($1, $2, $3, $4, NULLIF($5, ''))
			ON CONFLICT (workflow_id) DO NOTHING`, j.WorkflowID, recipientKey, j.Scope, j.Category, j.RunID)
		return err
	})
	return run, err
}

// DeregisterJourney forgets a journey that has ended.
func (s *Store) DeregisterJourney(ctx context.Context, workflowID string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM active_journeys WHERE workflow_id = $1`, workflowID); err != nil {
		return fmt.Errorf("deregister journey: %w", err)
	}
	return nil
}

// ActiveJourney is a registered running journey.
type ActiveJourney struct {
	WorkflowID string
	Scope      string // consent scope of its sender
	Category   string // marketing or transactional
	StartedAt  time.Time
	RunID      string // "" if registered before the registry kept runs
}

// ActiveJourneys lists the running journeys of a recipient in scope, or in
// every scope when scope is AllScopes, oldest first.
func (s *Store) ActiveJourneys(ctx context.Context, recipientKey, scope string) ([]ActiveJourney, error) {
	rows, err := s.pool.Query(ctx, `SELECT workflow_id, scope, category, started_at, coalesce(run_id, '') FROM active_journeys
		WHERE recipient_key = $1 AND ($2 = '*' OR scope = $2) ORDER BY started_at`, recipientKey, scope)
	if err != nil {
		return nil, fmt.Errorf("active journeys: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[ActiveJourney])
}

// MarkStopping records, before they are signalled to cancel, that the
// journeys ids are asked to close by the STOP committed at committedAt.
// The first STOP to ask a journey keeps it.
func (s *Store) MarkStopping(ctx context.Context, ids []string, committedAt time.Time) error {
	if len(ids) == 0 || committedAt.IsZero() {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE active_journeys SET stop_committed_at = $2
		WHERE workflow_id = ANY($1) AND stop_committed_at IS NULL`, ids, committedAt); err != nil {
		return fmt.Errorf("mark stopping journeys: %w", err)
	}
	return nil
}

// JourneyOutcome is how a journey ended (table journey_outcomes).
type JourneyOutcome struct {
	WorkflowID, RunID, Journey, RecipientKey string
	State, Reason                            string
	Step, Sent, Unknown, Deferrals           int
	StopCommittedAt                          time.Time // zero: no STOP asked it to close
	EndedAt                                  time.Time
}

// FinishJourney deregisters an ended journey and records its outcome in
// one transaction; a retry records nothing twice. The outcome's
// StopCommittedAt comes from the journey's registration (MarkStopping).
// lastOfStop reports that this journey was the last open one of those its
// STOP signalled: the STOP committed at o.StopCommittedAt is now honoured
// in full. The recipient's marked journeys are locked first, so of two
// journeys closing at once exactly one sees itself last.
func (s *Store) FinishJourney(ctx context.Context, o JourneyOutcome) (stop time.Time, lastOfStop bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM active_journeys
			WHERE recipient_key = $1 AND stop_committed_at IS NOT NULL ORDER BY workflow_id FOR UPDATE`, o.RecipientKey); err != nil {
			return err
		}
		// No row: a retry after the commit.
		var committed *time.Time
		err := tx.QueryRow(ctx, `DELETE FROM active_journeys WHERE workflow_id = $1 RETURNING stop_committed_at`, o.WorkflowID).Scan(&committed)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		stop, lastOfStop = time.Time{}, false
		if committed != nil {
			stop = *committed
			var open bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM active_journeys WHERE recipient_key = $1 AND stop_committed_at = $2)`,
				o.RecipientKey, stop).Scan(&open); err != nil {
				return err
			}
			lastOfStop = !open
		}
		_, err = tx.Exec(ctx, `INSERT INTO journey_outcomes
			(workflow_id, run_id, journey, recipient_key, state, reason, step, sent, unknown, deferrals, stop_committed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (workflow_id) DO NOTHING`,
			o.WorkflowID, o.RunID, o.Journey, o.RecipientKey, o.State, o.Reason, o.Step, o.Sent, o.Unknown, o.Deferrals, committed)
		return err
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("finish journey: %w", err)
	}
	return stop, lastOfStop, nil
}
