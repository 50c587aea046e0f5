// Package activities holds everything stopline's workflows do that touches
// the network or the database. Activities is a struct holding those
// dependencies; its methods are registered with the worker.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"github.com/stopline/stopline/internal/metrics"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/internal/sms"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

// Activities holds the dependencies of stopline's activities.
type Activities struct {
	Store *store.Store
	// Providers sends SMS, by journey sender provider: twilio, sinch, http, sandbox.
	Providers map[contract.Provider]sms.Sender
	// Registry holds per-sender settings (reply texts, programs); nil = defaults.
	Registry *senders.Registry
	Temporal client.Client
	Keyer    phone.Keyer
	Logger   *slog.Logger
	// SendTimeout bounds one provider call and the consent lock held across
	// it; default 15s.
	SendTimeout time.Duration
	// StateCapPeriod replaces the state frequency caps' rolling 24 hours
	// (policy.StateCapPeriod); 0 keeps it. For tests only.
	StateCapPeriod time.Duration
	Metrics        *metrics.Set // nil: not measured
	// ProviderWait is how long a send waits for a worker of its provider
	// before its journey reports waiting_provider; 0 = DefaultProviderWait.
	ProviderWait time.Duration
}

func (a *Activities) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.Default()
	}
	return a.Logger
}

// RecipientInput names a recipient by phone number.
type RecipientInput struct {
	Phone  string
	Region string // default region for numbers without a country code
}

// Recipient is a normalised phone number and its keyed hash.
type Recipient struct {
	Phone string // E.164
	Key   string
}

// ResolveRecipient normalises a phone number and computes its recipient key.
// Journeys started from the Temporal UI with a bare phone number use it.
func (a *Activities) ResolveRecipient(_ context.Context, in RecipientInput) (Recipient, error) {
	e164, err := phone.Normalize(in.Phone, in.Region)
	if err != nil {
		// The error quotes the number; failure messages are not encrypted.
		return Recipient{}, temporal.NewNonRetryableApplicationError("phone: not a valid phone number "+phone.Mask(in.Phone), contract.ErrBadInput, nil)
	}
	return Recipient{Phone: e164, Key: a.Keyer.Key(e164)}, nil
}

// checkKey refuses a recipient key that is not the key of phone (E.164).
// The starter passes both to save a lookup; a journey input copied in the
// Temporal UI with only the phone changed would otherwise check consent,
// register and be cancelled under someone else's key while texting phone.
func (a *Activities) checkKey(phone, key string) error {
	if a.Keyer.Key(phone) != key {
		return temporal.NewNonRetryableApplicationError(
			"recipient_key is not the key of the phone number: leave recipient_key out and stopline computes it", contract.ErrBadInput, nil)
	}
	return nil
}

// Registration ties a running journey to its recipient and sender scope.
type Registration struct {
	WorkflowID   string
	RecipientKey string
	Phone        string // E.164; "" in older workflows
	Scope        string
	Category     contract.Category // journey category; "" (older workflows) is marketing
	RunID        string            `json:",omitempty"` // the journey's run; "" in older workflows
}

// RegisterJourney records a journey as running, so an opt-out finds it,
// and, for a journey of a run, returns the run's state (see
// store.Store.RegisterJourney), so a journey started after a pause or stop
// obeys it. Workflows pass sender addresses as scopes; activities map them
// to consent scopes (a sender's program), which only the worker's config
// knows.
func (a *Activities) RegisterJourney(ctx context.Context, r Registration) (contract.RunSignal, error) {
	if r.Phone != "" {
		if err := a.checkKey(r.Phone, r.RecipientKey); err != nil {
			return contract.RunSignal{}, err
		}
	}
	j := store.ActiveJourney{WorkflowID: r.WorkflowID, Scope: a.Registry.ConsentScope(r.Scope), Category: string(category(r.Category)), RunID: r.RunID}
	run, err := a.Store.RegisterJourney(ctx, j, r.RecipientKey)
	return contract.RunSignal{State: run.State, Seq: run.Seq}, err
}

// category reads a category from a workflow input; inputs from before
// categories were passed are treated as marketing, the strictest.
func category(c contract.Category) contract.Category {
	if c == "" {
		return contract.CategoryMarketing
	}
	return c
}

// rule is what a message of category from a sender in consentScope needs
// from consent, as the senders file configures the sender's program.
func (a *Activities) rule(consentScope string, cat contract.Category) contract.ConsentRule {
	return a.Registry.ScopeSender(consentScope).ConsentRule(category(cat))
}

// DeregisterJourney forgets a journey that has ended.
func (a *Activities) DeregisterJourney(ctx context.Context, workflowID string) error {
	return a.Store.DeregisterJourney(ctx, workflowID)
}

// Outcome is how a journey ended, for the run report.
type Outcome struct {
	WorkflowID   string
	RunID        string
	Journey      string
	RecipientKey string
	State        string
	Reason       string
	Step         int // where it ended
	Sent         int
	Unknown      int
	Deferrals    int
}

// FinishJourney deregisters a journey that has ended and records its
// outcome, in one transaction. When it is the last journey a STOP asked to
// close, the STOP is honoured in full: stopline_optout_closed_seconds.
func (a *Activities) FinishJourney(ctx context.Context, o Outcome) error {
	stop, last, err := a.Store.FinishJourney(ctx, store.JourneyOutcome{
		WorkflowID: o.WorkflowID, RunID: o.RunID, Journey: o.Journey, RecipientKey: o.RecipientKey,
		State: o.State, Reason: o.Reason, Step: o.Step, Sent: o.Sent, Unknown: o.Unknown, Deferrals: o.Deferrals,
	})
	if err == nil && last {
		a.Metrics.OptOutClosed(stop)
	}
	return err
}

// ConsentQuery asks whether one recipient may get a message of Category
// from one sender scope.
type ConsentQuery struct {
	RecipientKey string
	Scope        string
	Category     contract.Category
}

// CheckConsent reads the recipient's consent. It fails closed: an error is
// returned to Temporal and retried, never taken as consent.
func (a *Activities) CheckConsent(ctx context.Context, q ConsentQuery) (contract.Decision, error) {
	scope := a.Registry.ConsentScope(q.Scope)
	start := time.Now()
	d, err := a.Store.Check(ctx, q.RecipientKey, scope, a.rule(scope, q.Category))
	a.Metrics.ConsentChecked(time.Since(start), d.Allowed, err)
	return d, err
}

// RequestOptIn puts the recipient in pending for the sender's double
// opt-in program before a journey's opt_in step sends its request; see
// store.Store.RequestOptIn. A sender without double opt-in is an input
// error: nobody would ever process the recipient's YES.
func (a *Activities) RequestOptIn(ctx context.Context, q ConsentQuery) (contract.Decision, error) {
	scope := a.Registry.ConsentScope(q.Scope)
	if !a.Registry.ScopeSender(scope).DoubleOptIn {
		return contract.Decision{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("opt_in step: sender %q is not configured for double opt-in (set \"double_opt_in\": true in the senders file)", q.Scope), contract.ErrBadInput, nil)
	}
	return a.Store.RequestOptIn(ctx, contract.ConsentChange{
		RecipientKey: q.RecipientKey, Scope: scope, To: contract.OptInPending, Source: contract.SourceJourney, Sender: q.Scope,
	})
}

// JourneysInput names a recipient's running journeys in a scope, for
// CancelJourneys and ConfirmJourneys.
type JourneysInput struct {
	RecipientKey string
	Scope        string // a sender scope, or contract.AllScopes
	// Sender is the number the recipient wrote to, "" in older workflows.
	// When it is in a messaging service (Scope), its own scope counts too.
	Sender string
	Reason string // CancelJourneys: why (contract.CancelRequest.Reason)
	// CommittedAt is when the STOP that asks this was committed; zero for
	// other requests. Measures stopline_optout_cancel_seconds.
	CommittedAt time.Time `json:",omitzero"`
}

// CancelJourneys signals every registered running journey of the recipient
// in scope to stop, except transactional journeys of programs whose STOP
// blocks marketing only. It returns how many were signalled.
func (a *Activities) CancelJourneys(ctx context.Context, in JourneysInput) (int, error) {
	n, err := a.signalJourneys(ctx, in, contract.SignalCancel, contract.CancelRequest{Reason: in.Reason}, func(j store.ActiveJourney) bool {
		return !a.rule(j.Scope, contract.Category(j.Category)).OptOutAllows
	}, func(ids []string) error {
		return a.Store.MarkStopping(ctx, ids, in.CommittedAt) // before the signals: each journey's close finds it
	})
	if err == nil {
		a.Metrics.OptOutCancelled(in.CommittedAt) // all signalled: once, whatever the retries before
	}
	return n, err
}

// ConfirmJourneys tells the recipient's running marketing journeys in scope
// that their double opt-in was confirmed, so one waiting at its opt_in step
// goes on at once. It returns how many were signalled.
func (a *Activities) ConfirmJourneys(ctx context.Context, in JourneysInput) (int, error) {
	return a.signalJourneys(ctx, in, contract.SignalConfirmed, nil, func(j store.ActiveJourney) bool {
		return contract.Category(j.Category) == contract.CategoryMarketing
	}, nil)
}

// signalJourneys sends signalName to the recipient's registered journeys in
// scope that match, after before (if set) has seen their IDs (see
// SignalJourneys).
func (a *Activities) signalJourneys(ctx context.Context, in JourneysInput, signalName string, arg any,
	match func(store.ActiveJourney) bool, before func(ids []string) error) (int, error) {
	scopes := []string{in.Scope}
	if s := a.Registry.ConsentScope(in.Sender); in.Sender != "" && in.Scope != contract.AllScopes && s != in.Scope {
		scopes = append(scopes, s) // as the intake recorded it (webhook.DurableIntake)
	}
	var ids []string
	for _, scope := range scopes {
		journeys, err := a.Store.ActiveJourneys(ctx, in.RecipientKey, scope)
		if err != nil {
			return 0, err
		}
		for _, j := range journeys {
			if match(j) {
				ids = append(ids, j.WorkflowID)
			}
		}
	}
	if before != nil {
		if err := before(ids); err != nil {
			return 0, err
		}
	}
	return SignalJourneys(ctx, a.Temporal, a.Store, ids, signalName, arg)
}

// SignalJourneys sends signalName to the journeys ids, 16 at a time, and
// returns how many were signalled. A workflow that no longer runs is
// deregistered instead. Opt-out cancellation and run commands
// (workflows.TellRun) share it.
func SignalJourneys(ctx context.Context, c client.Client, st *store.Store, ids []string, signalName string, arg any) (int, error) {
	var signaled atomic.Int32
	var g errgroup.Group // a failed call does not stop the others
	g.SetLimit(16)
	for _, id := range ids {
		g.Go(func() error {
			err := c.SignalWorkflow(ctx, id, "", signalName, arg)
			var notFound *serviceerror.NotFound
			switch {
			case err == nil:
				signaled.Add(1)
			case errors.As(err, &notFound):
				// The journey already ended (or was terminated before it could
				// deregister itself).
				err = st.DeregisterJourney(ctx, id)
			}
			if err != nil {
				return fmt.Errorf("%s %s: %w", signalName, id, err)
			}
			return nil
		})
	}
	err := g.Wait()
	return int(signaled.Load()), err
}
