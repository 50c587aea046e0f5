package consent

// The sandbox_messages table: the outbox of the development sandbox
// provider (internal/sms/sandbox).

import (
	"context"
	"fmt"
	"time"
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
