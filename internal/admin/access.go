package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/internal/consent"
	"github.com/stopline/stopline/internal/phone"
)

// AccessReport is everything stopline holds on one number: the answer to a
// subject-access request (GDPR Art. 15). Lists are [] when empty, never
// null, so the reader sees that a category was searched.
type AccessReport struct {
	Phone           string          `json:"phone,omitempty"` // "" when asked by recipient key
	RecipientKey    string          `json:"recipient_key"`
	GeneratedAt     time.Time       `json:"generated_at"`
	Consent         []ScopeState    `json:"consent"`
	Events          []EventJSON     `json:"consent_events"`
	InboundMessages []AccessInbound `json:"inbound_messages"`
	Sends           []AccessSend    `json:"sends"`
	// RunningJourneys come from the journey registry: journeys register
	// when they start and deregister when they end.
	RunningJourneys []AccessJourney `json:"running_journeys"`
	// SandboxMessages are the development sandbox's outbox (found by
	// number only).
	SandboxMessages []AccessSandbox `json:"sandbox_messages"`
}

// AccessInbound is a message the person sent.
type AccessInbound struct {
	Provider        string    `json:"provider"`
	MessageID       string    `json:"message_id"`
	From            string    `json:"from"`
	To              string    `json:"to"`
	Body            string    `json:"body"`
	NumMedia        int       `json:"num_media"`
	Scope           string    `json:"scope,omitempty"`
	Intent          string    `json:"intent"`
	Keyword         string    `json:"keyword,omitempty"`
	Language        string    `json:"language,omitempty"`
	Rule            string    `json:"rule,omitempty"`
	ProviderHandled bool      `json:"provider_handled"`
	ReceivedAt      time.Time `json:"received_at"`
}

// AccessSend is a send-ledger row: a journey step sent, skipped or tried.
type AccessSend struct {
	WorkflowID        string    `json:"journey"`
	Step              int       `json:"step"`
	Provider          string    `json:"provider"`
	Status            string    `json:"status"`
	ProviderMessageID string    `json:"provider_message_id,omitempty"`
	Reason            string    `json:"reason,omitempty"`
	Attempts          int       `json:"attempts"`
	AttemptedAt       time.Time `json:"attempted_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// AccessJourney is a running journey of the person.
type AccessJourney struct {
	WorkflowID string    `json:"journey"`
	Scope      string    `json:"scope"`
	Category   string    `json:"category"`
	StartedAt  time.Time `json:"started_at"`
}

// AccessSandbox is a message the development sandbox "sent" to the person.
type AccessSandbox struct {
	MessageID string    `json:"message_id"`
	Sender    string    `json:"sender"`
	Body      string    `json:"body"`
	At        time.Time `json:"at"`
}

// Access gathers what the store holds on a number, or on a recipient key;
// the sandbox outbox, kept by number, is searched only for a number.
func Access(ctx context.Context, store *consent.Store, keyer phone.Keyer, phoneOrKey, region string) (*AccessReport, error) {
	key, err := RecipientKey(keyer, phoneOrKey, region)
	if err != nil {
		return nil, err
	}
	e164 := ""
	if key != phoneOrKey {
		e164, _ = normalize(phoneOrKey, region) // RecipientKey accepted it
	}
	view, err := Lookup(ctx, store, key)
	if err != nil {
		return nil, err
	}
	r := &AccessReport{Phone: e164, RecipientKey: key, GeneratedAt: time.Now().UTC(), Consent: view.States, Events: view.Events}
	queries := []struct {
		what string
		run  func() error
	}{
		{"inbound messages", func() (err error) {
			r.InboundMessages, err = collect[AccessInbound](ctx, store, `SELECT provider, message_id, from_number, to_number, body,
				num_media, coalesce(scope, ''), intent, coalesce(keyword, ''), coalesce(language, ''), coalesce(rule, ''),
				provider_handled, received_at FROM inbound_messages WHERE recipient_key = $1 ORDER BY received_at, id`, key)
			return err
		}},
		{"send ledger", func() (err error) {
			r.Sends, err = collect[AccessSend](ctx, store, `SELECT workflow_id, step, provider, status, coalesce(provider_message_id, ''),
				coalesce(reason, ''), attempts, attempted_at, updated_at FROM send_ledger WHERE recipient_key = $1
				ORDER BY attempted_at, workflow_id, step`, key)
			return err
		}},
		{"running journeys", func() (err error) {
			r.RunningJourneys, err = collect[AccessJourney](ctx, store, `SELECT workflow_id, scope, category, started_at
				FROM active_journeys WHERE recipient_key = $1 ORDER BY started_at`, key)
			return err
		}},
		{"sandbox messages", func() (err error) {
			r.SandboxMessages, err = collect[AccessSandbox](ctx, store, `SELECT message_id, sender, body, created_at
				FROM sandbox_messages WHERE to_number = $1 AND $1 <> '' ORDER BY created_at, id`, e164)
			return err
		}},
	}
	for _, q := range queries {
		if err := q.run(); err != nil {
			return nil, fmt.Errorf("access report: %s: %w", q.what, err)
		}
	}
	return r, nil
}

// collect runs a query whose columns fill T's fields in order; never nil.
func collect[T any](ctx context.Context, store *consent.Store, sql string, arg string) ([]T, error) {
	rows, err := store.Pool().Query(ctx, sql, arg)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[T])
	if out == nil {
		out = []T{}
	}
	return out, err
}
