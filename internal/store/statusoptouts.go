package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/workflows/contract"
)

// RecordStatusOptOut records c, an opt-out a provider reported in a status
// callback, once per (provider, message ID). A replay of the callback, even
// after the recipient opted in again, changes nothing.
func (s *Store) RecordStatusOptOut(ctx context.Context, provider, messageID string, c contract.ConsentChange) (changed bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO status_optouts (provider, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, provider, messageID)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		changed, err = s.RecordTx(ctx, tx, c)
		return err
	})
	return changed, err
}
