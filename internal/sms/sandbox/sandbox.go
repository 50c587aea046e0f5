// Package sandbox is the development SMS provider: it "sends" by storing the
// message in Postgres and logging it with the number masked.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/sms"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

// Sender stores messages in the sandbox_messages table.
type Sender struct {
	Store  *store.Store
	Logger *slog.Logger
}

// Send implements sms.Sender.
func (s *Sender) Send(ctx context.Context, m sms.Message) (sms.Result, error) {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	msg := store.SandboxMessage{MessageID: "SB" + hex.EncodeToString(id), To: m.To, Sender: m.From + m.MessagingServiceSID, Body: m.Body}
	if err := s.Store.SaveSandboxMessage(ctx, msg); err != nil {
		return sms.Result{}, &sms.Error{Provider: contract.ProviderSandbox, Kind: sms.Temporary, Message: err.Error()}
	}
	if s.Logger != nil {
		s.Logger.Info("sandbox SMS", "to", phone.Mask(m.To), "from", msg.Sender, "id", msg.MessageID, "body", m.Body)
	}
	return sms.Result{MessageID: msg.MessageID, Status: "sent"}, nil
}
