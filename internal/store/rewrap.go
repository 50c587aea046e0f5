package store

// Re-wrapping data keys after a keyring rotation (RewrapKeys): data keys
// are wrapped by the keyring's first key when created, and stay wrapped by
// it after the keyring puts a new key first. Re-wrapping moves them to the
// new key, so the old one can leave PAYLOAD_KEYS.

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// rewrapLock keeps workers from re-wrapping the same batch at once.
const rewrapLock = 0x72657772617021 // "rewrap!"

// rewrapBatchSize bounds the rows one transaction locks and re-wraps.
var rewrapBatchSize = 1000

// Rewrapped counts what RewrapKeys did.
type Rewrapped struct {
	To   string           `json:"to_key_id"` // the key ID they are wrapped under now
	Keys int64            `json:"data_keys"` // data keys re-wrapped
	From map[string]int64 `json:"from_key_ids"`
	// Unreadable data keys are wrapped by a key ID the keyring lacks (or
	// are damaged): they are left as they are, and their recipients' texts
	// cannot be read until that key is back in the keyring.
	Unreadable map[string]int64 `json:"unreadable,omitempty"`
}

// RewrapKeys wraps every data key that the keyring's first key does not
// wrap (an older key's, or none when they were stored with encryption off)
// by that key, in batches, and records what it did in the audit log. The
// data keys themselves do not change, so every sealed value still opens,
// and caches of unwrapped keys stay valid. Several workers may run it at
// once: each batch holds a lock the others wait for, and reads only rows
// still to do, so each key is re-wrapped once. Without a keyring
// (PAYLOAD_ENCRYPTION=off) it does nothing.
func (s *Store) RewrapKeys(ctx context.Context, actor string) (Rewrapped, error) {
	if s.keyring == nil {
		return Rewrapped{}, nil
	}
	done := Rewrapped{To: s.keyring.KeyID(), From: map[string]int64{}, Unreadable: map[string]int64{}}
	var (
		after int64
		err   error
	)
	for more := true; more && err == nil; {
		more, err = s.rewrapBatch(ctx, &after, &done)
	}
	if done.Keys > 0 {
		// One event a sweep, with what it did even if a batch failed.
		auditErr := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			return appendAudit(ctx, tx, AuditEntry{Action: "rewrap_data_keys", Actor: actor,
				Note:    "data keys re-wrapped by the first key of PAYLOAD_KEYS",
				Details: map[string]any{"to_key_id": done.To, "data_keys": done.Keys, "from_key_ids": done.From}})
		})
		if err == nil {
			err = auditErr
		}
	}
	if err != nil {
		return done, fmt.Errorf("re-wrapping data keys: %w", err)
	}
	return done, nil
}

// rewrapBatch re-wraps the next batch of data keys after ID *after, and
// advances it; more reports a full batch.
func (s *Store) rewrapBatch(ctx context.Context, after *int64, done *Rewrapped) (more bool, err error) {
	type row struct {
		id      int64
		rk, kid string
		wrapped []byte
	}
	batch := Rewrapped{From: map[string]int64{}, Unreadable: map[string]int64{}}
	var last int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(rewrapLock)); err != nil {
			return err
		}
		// Read after the lock: rows another worker re-wrapped are no longer
		// selected. FOR UPDATE: a concurrent Forget deletes the row first
		// or waits for this transaction.
		rows, err := tx.Query(ctx, `SELECT id, recipient_key, key_id, wrapped FROM data_keys
			WHERE id > $1 AND key_id <> $2 ORDER BY id LIMIT $3 FOR UPDATE`, *after, done.To, rewrapBatchSize)
		if err != nil {
			return err
		}
		todo, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.id, &x.rk, &x.kid, &x.wrapped)
		})
		if err != nil {
			return err
		}
		more = len(todo) == rewrapBatchSize
		b := &pgx.Batch{}
		for _, x := range todo {
			last = x.id
			raw, err := s.unwrapRaw(x.rk, x.id, x.kid, x.wrapped)
			if err != nil {
				batch.Unreadable[x.kid]++
				continue
			}
			kid, wrapped, err := s.keyring.Seal(wrapAAD(x.rk), raw)
			if err != nil {
				return err
			}
			b.Queue(`UPDATE data_keys SET key_id = $2, wrapped = $3 WHERE id = $1`, x.id, kid, wrapped)
			batch.From[x.kid]++
			batch.Keys++
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return false, err
	}
	*after = last
	done.Keys += batch.Keys
	addCounts(done.From, batch.From)
	addCounts(done.Unreadable, batch.Unreadable)
	return more, nil
}

func addCounts(to, from map[string]int64) {
	for k, n := range from {
		to[k] += n
	}
}

// DataKeysByKeyID counts the data keys by the ID of the key that wraps
// them ("" for unwrapped): a key may leave PAYLOAD_KEYS once it wraps none
// (and no Temporal history needs it).
func (s *Store) DataKeysByKeyID(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT key_id, count(*) FROM data_keys GROUP BY key_id`)
	if err != nil {
		return nil, fmt.Errorf("data keys: %w", err)
	}
	var (
		keyID string
		n     int64
		out   = map[string]int64{}
	)
	if _, err := pgx.ForEachRow(rows, []any{&keyID, &n}, func() error { out[keyID] = n; return nil }); err != nil {
		return nil, fmt.Errorf("data keys: %w", err)
	}
	return out, nil
}
