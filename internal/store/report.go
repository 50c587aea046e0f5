package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RunReport is what Postgres knows of a journey run: how its journeys
// ended (journey_outcomes), which still run (active_journeys) and what the
// send ledger holds for them. Counts are exact, unlike visibility's.
type RunReport struct {
	Running  int
	Outcomes []OutcomeCount // by state, reason and (stopped only) step
	// Deferred counts ended journeys held back at least once, Deferrals
	// their deferrals; Unresolved those with sends of unknown outcome.
	Deferred, Deferrals, Unresolved, UnknownSends int
	Steps                                         []StepCount // ledger rows by step and status
	// StopToStop measures, for journeys a STOP asked to close, the time
	// from the STOP's commit to the journey's end.
	StopToStop Latency
}

// OutcomeCount is how many journeys ended in State with Reason; Step is
// where stopped journeys stopped, -1 for other states.
type OutcomeCount struct {
	State, Reason string
	Step          int
	Journeys      int
}

// StepCount is how many ledger rows of a step have a status.
type StepCount struct {
	Step   int
	Status string
	Rows   int
}

// Latency summarises durations.
type Latency struct {
	N           int
	Median, P99 time.Duration
}

// runFilter selects a run's rows by workflow ID: a journey's ID is one of
// the prefixes + recipient key, and a key has no "/", so a run whose ID
// extends this one's is not taken.
const runFilter = `EXISTS (SELECT FROM unnest($1::text[]) p
	WHERE left(workflow_id, length(p)) = p AND strpos(substr(workflow_id, length(p) + 1), '/') = 0)`

// Report reads the run report of runID; idPrefixes are the workflow IDs of
// its journeys (and test sends) without the recipient key. Ledger rows of
// test sends (starter test) count under their status + " (test)".
func (s *Store) Report(ctx context.Context, runID string, idPrefixes ...string) (*RunReport, error) {
	r := &RunReport{}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM active_journeys WHERE `+runFilter, idPrefixes).Scan(&r.Running); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT state, reason, CASE WHEN state = 'stopped' THEN step ELSE -1 END AS at, count(*)
			FROM journey_outcomes WHERE run_id = $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, runID)
		if err != nil {
			return err
		}
		if r.Outcomes, err = pgx.CollectRows(rows, pgx.RowToStructByPos[OutcomeCount]); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE deferrals > 0), coalesce(sum(deferrals), 0),
			count(*) FILTER (WHERE unknown > 0), coalesce(sum(unknown), 0) FROM journey_outcomes WHERE run_id = $1`, runID).
			Scan(&r.Deferred, &r.Deferrals, &r.Unresolved, &r.UnknownSends); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT step, status || CASE WHEN test THEN ' (test)' ELSE '' END, count(*)
			FROM send_ledger WHERE `+runFilter+` GROUP BY 1, 2 ORDER BY 1, 2`, idPrefixes)
		if err != nil {
			return err
		}
		if r.Steps, err = pgx.CollectRows(rows, pgx.RowToStructByPos[StepCount]); err != nil {
			return err
		}
		var median, p99 *float64
		if err := tx.QueryRow(ctx, `SELECT count(*),
			percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ended_at - stop_committed_at)),
			percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM ended_at - stop_committed_at))
			FROM journey_outcomes WHERE run_id = $1 AND stop_committed_at IS NOT NULL`, runID).Scan(&r.StopToStop.N, &median, &p99); err != nil {
			return err
		}
		if median != nil {
			r.StopToStop.Median, r.StopToStop.P99 = seconds(*median), seconds(*p99)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("run report %s: %w", runID, err)
	}
	return r, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// JourneyOutcomes calls f with each ended journey of runID, by workflow
// ID, then each running one (State "running", its ledger's counts).
func (s *Store) JourneyOutcomes(ctx context.Context, runID string, idPrefixes []string, f func(JourneyOutcome) error) error {
	rows, err := s.pool.Query(ctx, `
		SELECT workflow_id, run_id, journey, recipient_key, state, reason, step, sent, unknown, deferrals,
			coalesce(stop_committed_at, 'epoch'), ended_at
		FROM journey_outcomes WHERE run_id = $2
		UNION ALL
		SELECT a.workflow_id, $2, '', a.recipient_key, 'running', '', -1,
			count(l.step) FILTER (WHERE l.status = 'sent'), count(l.step) FILTER (WHERE l.status = 'unknown'), 0,
			coalesce(a.stop_committed_at, 'epoch'), 'epoch'
		FROM active_journeys a LEFT JOIN send_ledger l USING (workflow_id)
		WHERE `+runFilter+` GROUP BY a.workflow_id, a.recipient_key, a.stop_committed_at
		ORDER BY 1`, idPrefixes, runID)
	if err != nil {
		return fmt.Errorf("run %s: %w", runID, err)
	}
	var o JourneyOutcome
	_, err = pgx.ForEachRow(rows, []any{&o.WorkflowID, &o.RunID, &o.Journey, &o.RecipientKey, &o.State, &o.Reason, &o.Step,
		&o.Sent, &o.Unknown, &o.Deferrals, &o.StopCommittedAt, &o.EndedAt}, func() error {
		for _, t := range []*time.Time{&o.StopCommittedAt, &o.EndedAt} {
			if t.Equal(time.Unix(0, 0)) {
				*t = time.Time{}
			}
		}
		return f(o)
	})
	if err != nil {
		return fmt.Errorf("run %s: %w", runID, err)
	}
	return nil
}
