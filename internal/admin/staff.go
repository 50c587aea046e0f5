package admin

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

// The operations support staff need, shared by the HTTP API and the
// starter's consent subcommands.

// ChangeRequest asks for an opt-out or opt-in on behalf of a recipient who
// called or wrote in.
type ChangeRequest struct {
	Phone string `json:"phone"`
	// Scope is required: a sender scope such as "+15550001111", or "*" for
	// every sender. There is deliberately no default: acting on the wrong
	// scope by accident silences, or re-enables, more than intended.
	Scope string `json:"scope"`
	// Note says why, for the audit log ("called support").
	Note string `json:"note"`
	// Region reads Phone when it has no "+"; default "US".
	Region string `json:"region"`
}

// InputError is a problem with what a person asked for. Its text names the
// field ("phone: required") and never quotes a phone number, so it can go
// back to a client and into logs.
type InputError string

func (e InputError) Error() string { return string(e) }

// Result is what SetConsent did.
type Result struct {
	Change  contract.ConsentChange // as recorded
	Phone   string                 // the number in E.164, for masked logs
	Changed bool                   // false: already in that state, no event added
}

// SetConsent records req as a change to state to from the admin source,
// with an audit event, through store.Store.Record: it waits for the
// recipient's in-flight sends, and no send starts after it returns.
// Validation errors are InputErrors.
//
// A scope naming a program, or a sender of a program in the senders file,
// is recorded as the program's scope, which is what journeys check.
func SetConsent(ctx context.Context, st *store.Store, keyer phone.Keyer, scopes *senders.Registry, req ChangeRequest, to contract.ConsentState) (Result, error) {
	e164, err := normalize(req.Phone, req.Region)
	if err != nil {
		return Result{}, err
	}
	scope := strings.TrimSpace(req.Scope)
	if scope == "" {
		return Result{}, InputError(`scope: required: a sender scope such as "+15550001111", or "*" for every sender`)
	}
	scope, err = checkScope(scope)
	if err != nil {
		return Result{}, InputError(err.Error())
	}
	scope = scopes.ResolveScope(scope)
	note := strings.TrimSpace(req.Note)
	if err := checkNote(note); err != nil {
		return Result{}, InputError(err.Error())
	}
	c := contract.ConsentChange{RecipientKey: keyer.Key(e164), Scope: scope, To: to, Source: contract.SourceAdmin, Note: note}
	changed, err := st.Record(ctx, c)
	if err != nil {
		return Result{}, err
	}
	return Result{Change: c, Phone: e164, Changed: changed}, nil
}

var recipientKeyRE = regexp.MustCompile(`^r[0-9a-f]{32}$`)

// RecipientKey returns the recipient key of a phone number (read in region
// when it has no "+"), or phoneOrKey itself when it already is a key ("r"
// and 32 hex digits), so that staff can look people up without the number.
func RecipientKey(keyer phone.Keyer, phoneOrKey, region string) (string, error) {
	if recipientKeyRE.MatchString(phoneOrKey) {
		return phoneOrKey, nil
	}
	e164, err := normalize(phoneOrKey, region)
	if err != nil {
		return "", err
	}
	return keyer.Key(e164), nil
}

func normalize(raw, region string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", InputError("phone: required")
	}
	if region == "" {
		region = "US"
	}
	e164, err := phone.Normalize(raw, region)
	if err != nil {
		// phone.Normalize quotes the number; this message must not.
		return "", InputError("phone: not a valid phone number (use E.164 such as +14155550123, or set region for a national number)")
	}
	return e164, nil
}

// ShowResponse is a recipient's consent: POST /v1/consent/lookup or GET /v1/consent/{key}, and the
// starter's consent show and history.
type ShowResponse struct {
	RecipientKey string       `json:"recipient_key"`
	States       []ScopeState `json:"states"` // by scope; empty: never changed, so presumed consent
	Events       []EventJSON  `json:"events"` // oldest first
}

// ScopeState is a recipient's current consent in one scope.
type ScopeState struct {
	Scope     string                `json:"scope"`
	State     contract.ConsentState `json:"state"`
	Source    string                `json:"source"`
	UpdatedAt time.Time             `json:"updated_at"`
}

// EventJSON is a consent event as the API shows it.
type EventJSON struct {
	ID                int64     `json:"id"`
	Scope             string    `json:"scope"`
	From              string    `json:"from"`
	To                string    `json:"to"`
	Source            string    `json:"source"`
	RawText           string    `json:"raw_text,omitempty"`
	Provider          string    `json:"provider,omitempty"`
	ProviderMessageID string    `json:"provider_message_id,omitempty"`
	Sender            string    `json:"sender,omitempty"`
	Note              string    `json:"note,omitempty"`
	At                time.Time `json:"at"`
	Erased            bool      `json:"erased,omitempty"` // forgotten: raw_text and note read "erased"
}

// Lookup returns a recipient's current states and consent events.
func Lookup(ctx context.Context, db *store.Store, key string) (ShowResponse, error) {
	states, err := db.States(ctx, key)
	if err != nil {
		return ShowResponse{}, err
	}
	events, err := db.Events(ctx, key)
	if err != nil {
		return ShowResponse{}, err
	}
	resp := ShowResponse{RecipientKey: key, States: make([]ScopeState, 0, len(states)), Events: make([]EventJSON, 0, len(events))}
	for _, st := range states {
		resp.States = append(resp.States, ScopeState{Scope: st.Scope, State: st.State, Source: string(st.Source), UpdatedAt: st.UpdatedAt})
	}
	for _, e := range events {
		resp.Events = append(resp.Events, EventJSON{
			ID: e.ID, Scope: e.Scope, From: string(e.From), To: string(e.To), Source: string(e.Source),
			RawText: e.RawText, Provider: e.Provider, ProviderMessageID: e.ProviderMessageID,
			Sender: e.Sender, Note: e.Note, At: e.At.UTC(), Erased: e.Erased,
		})
	}
	return resp, nil
}
