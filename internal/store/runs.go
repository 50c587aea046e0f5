package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/workflows/contract"
)

// Run is a journey run's state. A run without a row is running.
type Run struct {
	ID    string
	State contract.RunState
	Seq   int64 // grows with every change
}

// RunCommand is an operator's pause, resume or stop, for the audit log.
type RunCommand struct {
	RunID string
	To    contract.RunState
	Actor string // who: a user name, or the admin API's caller
	Note  string
	// Create gives the command to a run stopline does not know (see
	// ErrRunUnknown), e.g. to pause a run before its first journey starts.
	Create bool
}

// RunEvent is one command in a run's audit log.
type RunEvent struct {
	ID       int64
	Command  string // pause, resume or stop
	From, To contract.RunState
	Actor    string
	Note     string
	At       time.Time
}

// ErrRunStopped refuses a pause or resume of a stopped run: stop is final.
var ErrRunStopped = errors.New("the run is stopped; a stopped run cannot be paused or resumed")

// ErrRunUnknown refuses a command to a run of which Postgres knows nothing:
// no command was given to it and no journey of it registered or ended.
// Most likely the run ID is mistyped, and a stop would end that ID's
// journeys for good before any started.
var ErrRunUnknown = errors.New("no such run: no journey of it has started and no command was given to it")

// commandNames name the commands by the state they set.
var commandNames = map[contract.RunState]string{
	contract.RunPaused: "pause", contract.RunRunning: "resume", contract.RunStopped: "stop",
}

// SetRunState applies an operator's command: it takes the run's row
// exclusively, which waits for the sends in flight (they hold it shared,
// see LockRunShared), sets the state, and appends the command to the audit
// log. changed is false when the run was in that state already; the
// command is logged all the same.
func (s *Store) SetRunState(ctx context.Context, c RunCommand) (run Run, changed bool, err error) {
	cmd, ok := commandNames[c.To]
	if !ok {
		return Run{}, false, fmt.Errorf("run state %q: want running, paused or stopped", c.To)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if !c.Create {
			if known, err := runKnown(ctx, tx, c.RunID); err != nil || !known {
				return cmp.Or(err, fmt.Errorf("run %s: %w", c.RunID, ErrRunUnknown))
			}
		}
		if err := ensureRun(ctx, tx, c.RunID); err != nil {
			return err
		}
		from := Run{ID: c.RunID}
		if err := tx.QueryRow(ctx, `SELECT state, seq FROM runs WHERE run_id = $1 FOR UPDATE`, c.RunID).Scan(&from.State, &from.Seq); err != nil {
			return fmt.Errorf("run %s: %w", c.RunID, err)
		}
		if from.State == contract.RunStopped && c.To != contract.RunStopped {
			return ErrRunStopped
		}
		run, changed = from, from.State != c.To
		if changed {
			run.State = c.To
			if err := tx.QueryRow(ctx, `UPDATE runs SET state = $2, seq = seq + 1, updated_at = clock_timestamp()
				WHERE run_id = $1 RETURNING seq`, c.RunID, c.To).Scan(&run.Seq); err != nil {
				return fmt.Errorf("run %s: %w", c.RunID, err)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO run_events (run_id, command, from_state, to_state, actor, note) VALUES ($1, $2, $3, $4, $5, $6)`,
			c.RunID, cmd, from.State, c.To, c.Actor, c.Note)
		return err
	})
	return run, changed, err
}

// RunKnown reports whether Postgres knows the run: it has a row (every
// command and every journey registered since runs were kept makes one),
// or a journey of it is registered or has ended.
func (s *Store) RunKnown(ctx context.Context, runID string) (bool, error) {
	return runKnown(ctx, s.pool, runID)
}

func runKnown(ctx context.Context, q rowQuerier, runID string) (bool, error) {
	var known bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM runs WHERE run_id = $1)
		OR EXISTS (SELECT 1 FROM active_journeys WHERE run_id = $1)
		OR EXISTS (SELECT 1 FROM journey_outcomes WHERE run_id = $1)`, runID).Scan(&known)
	if err != nil {
		return false, fmt.Errorf("run %s: %w", runID, err)
	}
	return known, nil
}

// EnsureRun records the run (running) unless Postgres knows it: the
// starter does so at a launch, so a command given before any of its
// journeys has registered is not refused as a mistyped run ID.
func (s *Store) EnsureRun(ctx context.Context, runID string) error {
	return ensureRun(ctx, s.pool, runID)
}

// ensureRun creates a run's row (running) if it has none.
func ensureRun(ctx context.Context, q execer, runID string) error {
	if _, err := q.Exec(ctx, `INSERT INTO runs (run_id) VALUES ($1) ON CONFLICT (run_id) DO NOTHING`, runID); err != nil {
		return fmt.Errorf("run %s: %w", runID, err)
	}
	return nil
}

// LockRunShared reads a run's state inside a send's fence, holding its row
// in shared mode until tx ends: a pause or stop cannot commit while the
// send is at the provider, so the send either was accepted before the
// command's answer or sees the command. The row is created when missing
// (journeys registered before runs had rows), which briefly serialises the
// sends of that run until the first commits.
func (s *Store) LockRunShared(ctx context.Context, tx pgx.Tx, runID string) (Run, error) {
	r := Run{ID: runID}
	lock := func() error {
		return tx.QueryRow(ctx, `SELECT state, seq FROM runs WHERE run_id = $1 FOR SHARE`, runID).Scan(&r.State, &r.Seq)
	}
	// The row exists for every send but a run's first: one round trip.
	err := lock()
	if errors.Is(err, pgx.ErrNoRows) {
		if err := ensureRun(ctx, tx, runID); err != nil {
			return Run{}, err
		}
		err = lock()
	}
	if err != nil {
		return Run{}, fmt.Errorf("run %s: %w", runID, err)
	}
	return r, nil
}

// RunByID reads a run's state without a lock; a run without a row is
// running.
func (s *Store) RunByID(ctx context.Context, runID string) (Run, error) {
	r := Run{ID: runID, State: contract.RunRunning}
	err := s.pool.QueryRow(ctx, `SELECT state, seq FROM runs WHERE run_id = $1`, runID).Scan(&r.State, &r.Seq)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Run{}, fmt.Errorf("run %s: %w", runID, err)
	}
	return r, nil
}

// RunEvents returns a run's audit log, oldest first.
func (s *Store) RunEvents(ctx context.Context, runID string) ([]RunEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, command, from_state, to_state, actor, note, at FROM run_events
		WHERE run_id = $1 ORDER BY id`, runID)
	if err != nil {
		return nil, fmt.Errorf("run events: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[RunEvent])
}

// RunJourneys lists the registered running journeys of a run, and whether
// the registry holds journeys of unknown run (registered before it kept
// runs), which only visibility can place.
func (s *Store) RunJourneys(ctx context.Context, runID string) (ids []string, unplaced bool, err error) {
	rows, err := s.pool.Query(ctx, `SELECT workflow_id FROM active_journeys WHERE run_id = $1 ORDER BY started_at`, runID)
	if err != nil {
		return nil, false, fmt.Errorf("run journeys: %w", err)
	}
	if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, false, fmt.Errorf("run journeys: %w", err)
	}
	err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM active_journeys WHERE run_id IS NULL)`).Scan(&unplaced)
	return ids, unplaced, err
}
