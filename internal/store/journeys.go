package store

import (
	"context"
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
