package store

// The re-driver queue: inbound messages whose keyword signal is committed
// but not yet delivered to Temporal (inbound_messages.signal_pending).

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/workflows/contract"
)

// redriverLock is the advisory lock key that keeps one re-driver active
// across worker processes.
const redriverLock = 0x72656472697665 // "redrive"

// Redrive hands up to limit pending signals, oldest first, to deliver and
// marks the IDs it returns as delivered, in one transaction that holds the
// re-driver lock, so one process at a time delivers them, in order. It does
// nothing, and reports read=0, when another process holds the lock. The
// returned IDs are marked even when deliver also fails for others, or they
// would all be delivered again; err joins deliver's error.
func (s *Store) Redrive(ctx context.Context, limit int, deliver func([]contract.Inbound) ([]int64, error)) (read, marked int, err error) {
	var deliverErr error
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		msgs, locked, err := s.pendingSignals(ctx, tx, limit)
		if err != nil || !locked {
			return err
		}
		var done []int64
		done, deliverErr = deliver(msgs)
		if len(done) > 0 {
			if err := markSignaled(ctx, tx, done); err != nil {
				return err
			}
		}
		read, marked = len(msgs), len(done)
		return nil
	})
	return read, marked, errors.Join(err, deliverErr)
}

// pendingSignals returns the inbound messages whose signal is not yet
// delivered, oldest first, if tx holds the re-driver lock.
func (s *Store) pendingSignals(ctx context.Context, tx pgx.Tx, limit int) (msgs []contract.Inbound, locked bool, err error) {
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(redriverLock)).Scan(&locked); err != nil || !locked {
		return nil, false, err
	}
	rows, err := tx.Query(ctx, `SELECT `+inboundColumns+` FROM `+inboundFrom+`
		WHERE m.signal_pending ORDER BY m.id LIMIT $1`, limit)
	if err != nil {
		return nil, true, fmt.Errorf("pending signals: %w", err)
	}
	o := s.opener()
	msgs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (contract.Inbound, error) {
		m, err := o.scanInbound(r)
		if errors.Is(err, ErrDataKeyUnreadable) {
			// The signal must not wait for the key, nor hold up the
			// signals behind it; without the number no reply goes out.
			m.From, m.Body, err = "", "", nil
		}
		if m.Erased {
			m.From = "" // forgotten: no reply goes out (see workflows.Recipient)
		}
		return m, err
	})
	return msgs, true, err
}

// markSignaled records that the signals of ids were delivered.
func markSignaled(ctx context.Context, tx pgx.Tx, ids []int64) error {
	_, err := tx.Exec(ctx, `UPDATE inbound_messages SET signal_pending = false, signaled_at = clock_timestamp() WHERE id = ANY($1)`, ids)
	return err
}
