package store

import (
	"context"
	"fmt"
	"time"
)

// Peer is another live worker on the same task queue.
type Peer struct {
	WorkerID   string
	ConfigHash string
}

// Heartbeat records that workerID is alive on taskQueue with configHash, and returns the
// other workers of taskQueue seen within live. Times are the database's,
// so workers' clocks need not agree.
func (s *Store) Heartbeat(ctx context.Context, workerID, taskQueue, configHash string, live time.Duration) ([]Peer, error) {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO worker_heartbeats (worker_id, task_queue, config_hash) VALUES ($1, $2, $3)
		ON CONFLICT (worker_id, task_queue) DO UPDATE SET config_hash = $3, seen_at = now()`,
		workerID, taskQueue, configHash)
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT worker_id, config_hash FROM worker_heartbeats
		WHERE task_queue = $1 AND worker_id <> $2 AND seen_at > now() - make_interval(secs => $3)
		ORDER BY worker_id`, taskQueue, workerID, live.Seconds())
	if err != nil {
		return nil, fmt.Errorf("heartbeat: peers: %w", err)
	}
	defer rows.Close()
	var peers []Peer
	for rows.Next() {
		var p Peer
		if err := rows.Scan(&p.WorkerID, &p.ConfigHash); err != nil {
			return nil, fmt.Errorf("heartbeat: peers: %w", err)
		}
		peers = append(peers, p)
	}
	return peers, rows.Err()
}

// EndHeartbeat removes workerID's row, and rows of workers not seen for
// a day (killed ones never remove their own).
func (s *Store) EndHeartbeat(ctx context.Context, workerID string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM worker_heartbeats WHERE worker_id = $1 OR seen_at < now() - interval '1 day'`, workerID)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}
