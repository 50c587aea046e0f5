package admin

import (
	"context"
	"fmt"
	"strings"

	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

// ForgetRequest asks to erase a person (GDPR Art. 17): POST
// /v1/consent/forget and `starter consent forget`.
type ForgetRequest struct {
	Phone string `json:"phone"` // or a recipient key
	// By names who asked for, or carried out, the erasure: the audit log
	// keeps it.
	By string `json:"by"`
	// Note says why ("ticket 4711"). It stays in plain text in the audit
	// log, after the data key is gone, so it must not hold the number.
	Note   string `json:"note"`
	Region string `json:"region"`
}

// ForgetResult is what Forget did.
type ForgetResult struct {
	RecipientKey      string `json:"recipient_key"`
	OptedOut          bool   `json:"opted_out"` // false: an opt-out for every scope was there already
	DataKeyDestroyed  bool   `json:"data_key_destroyed"`
	JourneysCancelled int    `json:"journeys_cancelled"`
	ExecutionsDeleted int    `json:"executions_deleted"`
	// TemporalError is set when the Temporal part failed or was not run;
	// the erasure in Postgres stands, and forgetting again retries it.
	TemporalError string `json:"temporal_error,omitempty"`
	phone         string
}

// Eraser removes a recipient's workflows from Temporal (the worker and the
// starter pass workflows.EraseRecipient): journeys lists their running
// journeys from the registry.
type Eraser func(ctx context.Context, recipientKey string, journeys []string) (cancelled, deleted int, err error)

// Forget erases a person and keeps them suppressed: an opt-out for every
// scope (told to their workflows through tell, as any staff change), their
// data key destroyed (every stored number and text of theirs reads as
// erased), then their journeys cancelled and their workflow executions
// deleted through erase. The erasure is an audit event naming req.By, the
// time and req.Note.
func Forget(ctx context.Context, st *store.Store, keyer phone.Keyer, req ForgetRequest, tell func(context.Context, contract.ConsentChange), erase Eraser) (ForgetResult, error) {
	key, err := RecipientKey(keyer, req.Phone, req.Region)
	if err != nil {
		return ForgetResult{}, err
	}
	e164 := ""
	if key != req.Phone {
		e164, _ = normalize(req.Phone, req.Region) // RecipientKey accepted it
	}
	by := strings.TrimSpace(req.By)
	if by == "" {
		return ForgetResult{}, InputError("by: required: who asks for the erasure, kept in the audit log")
	}
	note := strings.TrimSpace(req.Note)
	if err := checkNote(note); err != nil {
		return ForgetResult{}, InputError(err.Error())
	}
	if e164 != "" && holdsNumber(note+" "+by, e164) {
		return ForgetResult{}, InputError("note: must not hold the phone number: it outlives the erasure")
	}
	running, err := st.ActiveJourneys(ctx, key, contract.AllScopes)
	if err != nil {
		return ForgetResult{}, err
	}
	f, err := st.Forget(ctx, key, e164, by, note)
	if err != nil {
		return ForgetResult{}, err
	}
	res := ForgetResult{RecipientKey: key, OptedOut: f.OptedOut, DataKeyDestroyed: f.KeyDestroyed, phone: e164}
	if f.OptedOut && tell != nil {
		tell(ctx, contract.ConsentChange{RecipientKey: key, Scope: contract.AllScopes, To: contract.OptedOut, Source: contract.SourceAdmin})
	}
	if erase == nil {
		res.TemporalError = "not connected to Temporal: journeys and workflow histories were not removed"
		return res, nil
	}
	ids := make([]string, len(running))
	for i, j := range running {
		ids[i] = j.WorkflowID
	}
	if res.JourneysCancelled, res.ExecutionsDeleted, err = erase(ctx, key, ids); err != nil {
		res.TemporalError = err.Error()
	}
	return res, nil
}

// holdsNumber reports whether text holds the last seven digits of e164, in
// any formatting.
func holdsNumber(text, e164 string) bool {
	var digits strings.Builder
	for _, r := range text {
		if r >= '0' && r <= '9' {
			digits.WriteRune(r)
		}
	}
	tail := e164[max(0, len(e164)-7):]
	return strings.Contains(digits.String(), tail)
}

// String summarises r for a person.
func (r ForgetResult) String() string {
	s := fmt.Sprintf("forgotten: %s (opt-out for every scope recorded: %v; data key destroyed: %v; journeys cancelled: %d; workflow executions deleted: %d)",
		r.RecipientKey, r.OptedOut, r.DataKeyDestroyed, r.JourneysCancelled, r.ExecutionsDeleted)
	if r.TemporalError != "" {
		s += "\nTemporal: " + r.TemporalError
	}
	return s
}
