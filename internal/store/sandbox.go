package store

// The sandbox_messages table: the outbox of the development sandbox
// provider (internal/sms/sandbox).

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SandboxMessage is a message stored by the development sandbox provider.
type SandboxMessage struct {
	MessageID, To, Sender, Body string
	At                          time.Time
}

// SaveSandboxMessage stores a sandbox message.
func (s *Store) SaveSandboxMessage(ctx context.Context, m SandboxMessage) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sandbox_messages (message_id, to_number, sender, body) VALUES ($1, $2, $3, $4)`,
		m.MessageID, m.To, m.Sender, m.Body)
	if err != nil {
		return fmt.Errorf("sandbox outbox: %w", err)
	}
	return nil
}

// SandboxMessagesTo returns the sandbox messages to a number, oldest first.
func (s *Store) SandboxMessagesTo(ctx context.Context, number string) ([]SandboxMessage, error) {
	rows, err := s.pool.Query(ctx, `SELECT message_id, to_number, sender, body, created_at FROM sandbox_messages
		WHERE to_number = $1 ORDER BY created_at, id`, number)
	if err != nil {
		return nil, fmt.Errorf("sandbox outbox: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[SandboxMessage])
}
