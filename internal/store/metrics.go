package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RedriverBacklog is how many committed keyword signals wait for the
// re-driver, and how long the oldest has waited since it was stored (on
// Postgres's clock, so worker clocks do not matter). The partial index on
// pending messages keeps it cheap however many messages were handled.
func (s *Store) RedriverBacklog(ctx context.Context) (pending int, oldest time.Duration, err error) {
	var secs float64
	err = s.pool.QueryRow(ctx, `
		SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(stored_at)), 0)::float8
		FROM inbound_messages WHERE signal_pending`).Scan(&pending, &secs)
	if err != nil {
		return 0, 0, fmt.Errorf("re-driver backlog: %w", err)
	}
	return pending, time.Duration(secs * float64(time.Second)), nil
}

// ActiveJourneyCounts counts the journeys registered as running, by
// category.
func (s *Store) ActiveJourneyCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT category, count(*) FROM active_journeys GROUP BY category`)
	if err != nil {
		return nil, fmt.Errorf("active journeys: %w", err)
	}
	counts := map[string]int{}
	var (
		category string
		n        int
	)
	_, err = pgx.ForEachRow(rows, []any{&category, &n}, func() error {
		counts[category] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("active journeys: %w", err)
	}
	return counts, nil
}
