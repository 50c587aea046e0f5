package webhook

// The durable side of the bridge: DurableIntake classifies an inbound
// message and commits it with its consent effect; the Redriver delivers the
// keyword signal to the recipient's Recipient workflow (now, or later when
// Temporal is back).

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/stopline/stopline/internal/keywords"
	"github.com/stopline/stopline/internal/metrics"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

// DurableIntake is the Intake of the worker: it commits each message, and its
// consent effect, to Postgres before the provider gets its 2xx.
type DurableIntake struct {
	Store    *store.Store
	Registry *senders.Registry // per-sender keyword settings; nil = defaults
	Keyer    phone.Keyer
	Logger   *slog.Logger
	// Wake, if set, is called after a message that needs a signal was
	// committed, to have the re-driver deliver it at once.
	Wake func()

	Metrics *metrics.Set // counts committed messages; nil: not counted
}

var _ Intake = (*DurableIntake)(nil)

// Urgent reports whether m is a keyword for its sender (or a confirmation
// word): the bridge keeps intake capacity for those.
func (i *DurableIntake) Urgent(m contract.Inbound) bool {
	sender := i.Registry.Lookup(withPlus(m.To), m.MessagingServiceSID)
	if !sender.ProcessesKeywords() {
		return false
	}
	in, _ := classify(m, sender)
	return in.Kind != keywords.None || sender.Confirms(m.Body)
}

// Inbound commits m and its consent effect before the bridge answers 2xx.
func (i *DurableIntake) Inbound(ctx context.Context, m contract.Inbound) error {
	to := withPlus(m.To)
	sender := i.Registry.Lookup(to, m.MessagingServiceSID)
	rec := m // as committed, and as the re-driver will signal it
	rec.To, rec.Scope = to, sender.ConsentScope()
	var effects []store.Effect
	e164, err := phone.Normalize(withPlus(m.From), "")
	switch {
	case err != nil:
		// Stored for the record, but nobody to apply a keyword to.
	case !sender.ProcessesKeywords():
		rec.RecipientKey = i.Keyer.Key(e164)
	default:
		rec.RecipientKey = i.Keyer.Key(e164)
		rec.From = e164
		intent, handled := classify(m, sender)
		rec.Keyword, rec.Language, rec.Rule = intent.Keyword, intent.Language, intent.Explanation()
		rec.ProviderHandled = handled || sender.ProviderReplies()
		also := ""
		if intent.Scope == keywords.All {
			rec.Scope = contract.AllScopes
		} else if m.MessagingServiceSID != "" {
			// A number in a Twilio messaging service: journeys may send
			// from the service or from the number, so both scopes hear it.
			for _, s := range []string{i.Registry.ConsentScope(m.MessagingServiceSID), i.Registry.ConsentScope(to)} {
				if s != rec.Scope {
					also = s
				}
			}
		}
		effects = effectsOf(intent, rec, sender, also)
	}
	_, inserted, taken, err := i.Store.SaveInbound(ctx, rec, effects...)
	if err != nil {
		// Not durable, so no 2xx: the provider retries or uses its fallback.
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	i.Metrics.Inbound(m.Provider, string(taken.Intent), rec.Rule, inserted)
	if inserted && taken.Intent != contract.IntentNone && rec.RecipientKey != "" {
		if i.Wake != nil {
			i.Wake()
		}
		i.logger().Info("inbound keyword", "provider", m.Provider, "from", phone.Mask(rec.From), "intent", taken.Intent, "keyword", rec.Keyword, "rule", rec.Rule)
	}
	return nil
}

// intents maps the keyword classes to the intents they carry.
var intents = [...]contract.Intent{
	keywords.None: contract.IntentNone, keywords.OptOut: contract.IntentOptOut, keywords.OptIn: contract.IntentOptIn,
	keywords.Help: contract.IntentHelp, keywords.SuggestOptOut: contract.IntentSuggestOptOut,
}

// Status handles a delivery status callback: an opt-out at the provider
// (StatusEvent.OptedOut reads the provider's error table) is recorded. It counts once per message, so a replayed
// callback cannot undo a later START.
func (i *DurableIntake) Status(ctx context.Context, e StatusEvent) error {
	if !e.OptedOut() {
		return nil
	}
	e164, err := phone.Normalize(withPlus(e.To), "")
	if err != nil {
		return nil
	}
	addr := e.From
	if addr == "" {
		addr = e.MessagingServiceSID
	}
	scope := i.Registry.ConsentScope(addr)
	_, err = i.Store.RecordStatusOptOut(ctx, e.Provider, e.MessageID, contract.ConsentChange{
		RecipientKey: i.Keyer.Key(e164), Scope: scope, To: contract.OptedOut, Source: contract.SourceProvider,
		Provider: e.Provider, ProviderMessageID: e.MessageID, Sender: addr, Note: fmt.Sprintf("status callback error %d", e.ErrorCode),
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// classify decides the intent. Twilio's OptOutType means Twilio already
// acted (and replied): it decides, except that Twilio reads STOPALL as a STOP
// for the one sender, and the body's wider reach must not be lost.
func classify(m contract.Inbound, s senders.Sender) (keywords.Intent, bool) {
	if in, ok := keywords.FromTwilioOptOutType(m.OptOutType); ok {
		if body := keywords.Classify(m.Body, s.Keywords); in.Kind == keywords.OptOut && body.Kind == keywords.OptOut && body.Scope == keywords.All {
			return body, true
		}
		return in, true
	}
	if m.NumMedia > 0 && m.Body == "" || m.Type != "" && m.Type != "mo_text" {
		return keywords.Intent{Kind: keywords.None}, false
	}
	return keywords.Classify(m.Body, s.Keywords), false
}

// effectsOf lists what a message may do, in order of preference (see
// store.Store.SaveInbound). Without double opt-in that is one effect.
// With it, the sender's confirm word (YES) confirms an open request, or
// else counts as what it is besides (YES is also an opt-in keyword), and an
// opt-in leaves a confirmed recipient confirmed. A change is made in the
// scope also as well, unless that is "".
func effectsOf(in keywords.Intent, rec contract.Inbound, s senders.Sender, also string) []store.Effect {
	effect := func(intent contract.Intent, to contract.ConsentState) store.Effect {
		// The text stays in inbound_messages only, where encryption and
		// expiry can reach it; the append-only event records why instead.
		c := contract.ConsentChange{
			RecipientKey: rec.RecipientKey, Scope: rec.Scope, To: to, Source: contract.SourceKeyword,
			Provider: rec.Provider, ProviderMessageID: rec.MessageID, Sender: s.Scope(),
			Rule: rec.Rule, Keyword: rec.Keyword,
		}
		e := store.Effect{Intent: intent, Change: &c}
		if also != "" {
			a := c
			a.Scope = also
			e.Also = []contract.ConsentChange{a}
		}
		return e
	}
	var out []store.Effect
	confirms := s.Confirms(rec.Body)
	if confirms {
		out = append(out, effect(contract.IntentConfirm, contract.OptInConfirmed))
	}
	switch {
	case in.Kind == keywords.OptOut:
		out = append(out, effect(intents[in.Kind], contract.OptedOut))
	case in.Kind == keywords.OptIn && s.DoubleOptIn:
		out = append(out, effect(contract.IntentOptInPending, contract.OptInPending))
		// Already confirmed: START gets the usual opt-in reply, a repeated
		// YES nothing.
		if confirms {
			out = append(out, store.Effect{Intent: contract.IntentNone})
		} else {
			out = append(out, store.Effect{Intent: intents[in.Kind]})
		}
	case in.Kind == keywords.OptIn:
		out = append(out, effect(intents[in.Kind], contract.OptedIn))
	default:
		out = append(out, store.Effect{Intent: intents[in.Kind]})
	}
	return out
}

func (i *DurableIntake) logger() *slog.Logger {
	if i.Logger == nil {
		return slog.Default()
	}
	return i.Logger
}

// withPlus adds the "+" that Sinch leaves off international numbers.
func withPlus(n string) string {
	if len(n) < 8 || strings.HasPrefix(n, "+") {
		return n
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return n
		}
	}
	return "+" + n
}
