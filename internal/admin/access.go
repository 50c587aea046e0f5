package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
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
	Body            string    `json:"body"`                  // "erased" once the person was forgotten
	Erased          bool      `json:"erased,omitempty"`      // forgotten: from and body read "erased"
	BodyPurged      bool      `json:"body_purged,omitempty"` // older than INBOUND_RETENTION
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
	Test              bool      `json:"test,omitempty"`     // a test send (starter test)
	TestNow           bool      `json:"test_now,omitempty"` // sent outside the sending window
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
func Access(ctx context.Context, st *store.Store, keyer phone.Keyer, phoneOrKey, region string) (*AccessReport, error) {
	key, err := RecipientKey(keyer, phoneOrKey, region)
	if err != nil {
		return nil, err
	}
	e164 := ""
	if key != phoneOrKey {
		e164, _ = normalize(phoneOrKey, region) // RecipientKey accepted it
	}
	view, err := Lookup(ctx, st, key)
	if err != nil {
		return nil, err
	}
	r := &AccessReport{Phone: e164, RecipientKey: key, GeneratedAt: time.Now().UTC(), Consent: view.States, Events: view.Events,
		InboundMessages: []AccessInbound{}, Sends: []AccessSend{}, RunningJourneys: []AccessJourney{}, SandboxMessages: []AccessSandbox{}}
	inbound, err := st.InboundMessages(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("access report: inbound messages: %w", err)
	}
	for _, m := range inbound {
		r.InboundMessages = append(r.InboundMessages, AccessInbound{Provider: m.Provider, MessageID: m.MessageID, From: m.From, To: m.To,
			Body: m.Body, Erased: m.Erased, BodyPurged: m.BodyPurged, NumMedia: m.NumMedia, Scope: m.Scope, Intent: string(m.Intent), Keyword: m.Keyword, Language: m.Language,
			Rule: m.Rule, ProviderHandled: m.ProviderHandled, ReceivedAt: m.ReceivedAt})
	}
	sends, err := st.Sends(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("access report: send ledger: %w", err)
	}
	for _, e := range sends {
		r.Sends = append(r.Sends, AccessSend{WorkflowID: e.WorkflowID, Step: e.Step, Provider: e.Provider, Status: string(e.Status),
			ProviderMessageID: e.ProviderMessageID, Reason: e.Reason, Attempts: e.Attempts, AttemptedAt: e.AttemptedAt, UpdatedAt: e.UpdatedAt,
			Test: e.Test, TestNow: e.TestNow})
	}
	journeys, err := st.ActiveJourneys(ctx, key, contract.AllScopes)
	if err != nil {
		return nil, fmt.Errorf("access report: running journeys: %w", err)
	}
	for _, j := range journeys {
		r.RunningJourneys = append(r.RunningJourneys, AccessJourney{WorkflowID: j.WorkflowID, Scope: j.Scope, Category: j.Category, StartedAt: j.StartedAt})
	}
	if e164 == "" {
		return r, nil
	}
	sandbox, err := st.SandboxMessagesTo(ctx, e164)
	if err != nil {
		return nil, fmt.Errorf("access report: sandbox messages: %w", err)
	}
	for _, m := range sandbox {
		r.SandboxMessages = append(r.SandboxMessages, AccessSandbox{MessageID: m.MessageID, Sender: m.Sender, Body: m.Body, At: m.At})
	}
	return r, nil
}
