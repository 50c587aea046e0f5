package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// SetCapLock replaces the cap lock's SQL (its one argument is the lock
// key) so a test can show what counting without it lets through.
func SetCapLock(sql string) (restore func()) {
	old := capLock
	capLock = sql
	return func() { capLock = old }
}

// OpensUnderAnyKey reports whether sealed opens under any data key in the
// table, tried as each recipient's and each column's.
func OpensUnderAnyKey(ctx context.Context, s *Store, sealed []byte, recipientKeys []string) (bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, recipient_key, key_id, wrapped FROM data_keys`)
	if err != nil {
		return false, err
	}
	type row struct {
		id      int64
		rk, kid string
		wrapped []byte
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.id, &x.rk, &x.kid, &x.wrapped)
	})
	if err != nil || len(sealed) < 8 {
		return false, err
	}
	for _, k := range keys {
		dk, err := s.unwrap(k.rk, k.id, k.kid, k.wrapped)
		if err != nil {
			return false, err
		}
		ns := dk.aead.NonceSize()
		for _, rk := range append(recipientKeys, k.rk) {
			for _, label := range []string{labelInboundFrom, labelInboundBody, labelEventRaw, labelEventNote} {
				if _, err := dk.aead.Open(nil, sealed[8:8+ns], sealed[8+ns:], []byte(label+"\x00"+rk)); err == nil {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

// SetRewrapBatch sets how many data keys RewrapKeys re-wraps a
// transaction, so a test can make it take several.
func SetRewrapBatch(n int) (restore func()) {
	old := rewrapBatchSize
	rewrapBatchSize = n
	return func() { rewrapBatchSize = old }
}

// SetAfterSealBatch has fn run inside every sealing batch's transaction,
// before it commits.
func SetAfterSealBatch(fn func()) (restore func()) {
	old := afterSealBatch
	afterSealBatch = fn
	return func() { afterSealBatch = old }
}

// SealBatchSize is the most rows of each table one sealing batch seals.
const SealBatchSize = sealBatchSize
