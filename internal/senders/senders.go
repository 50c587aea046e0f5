// Package senders is the senders file: per sending number (or Twilio
// messaging service), how inbound keywords are handled and what stopline
// replies. Senders not in the file get the defaults.
package senders

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/template"

	"github.com/stopline/stopline/internal/keywords"
	"github.com/stopline/stopline/workflows/contract"
)

// Sender is one entry of the senders file.
type Sender struct {
	Name                string              `json:"name"`
	Provider            contract.Provider   `json:"provider"`
	From                string              `json:"from,omitempty"`
	MessagingServiceSID string              `json:"messaging_service_sid,omitempty"`
	Type                contract.SenderType `json:"type"`
	// Program names the set of senders an opt-out applies to: a STOP to one
	// of them stops all of them. Without it the sender is its own scope.
	Program string `json:"program,omitempty"`
	// Brand, Support and Frequency fill the HELP reply (CTIA): program or
	// brand name, a support contact, and the message frequency.
	Brand     string `json:"brand,omitempty"`
	Support   string `json:"support,omitempty"`
	Frequency string `json:"frequency,omitempty"`
	// Language of replies when the keyword's language has no template.
	Language string `json:"language,omitempty"`
	// ShortCodeKeywords enables keyword handling on a short code (off by
	// default: carriers handle keywords for short codes unless configured).
	ShortCodeKeywords bool `json:"short_code_keywords,omitempty"`
	// Keywords: languages, custom keywords and the fuzzy mode, whose
	// default (no "fuzzy" setting) is "reasonable": clear requests opt out,
	// unclear replies get the suggest_opt_out reply (issue 11).
	Keywords keywords.Config `json:"keywords"`
	// DoubleOptIn: an opt-in (keyword, or a journey's opt_in step) leaves
	// the recipient pending until they answer a ConfirmKeywords word within
	// 24 hours; marketing needs that confirmation.
	DoubleOptIn     bool     `json:"double_opt_in,omitempty"`
	ConfirmKeywords []string `json:"confirm_keywords,omitempty"` // default YES, Y
	// StopBlocks is what an opt-out in this sender's scope blocks: "all"
	// (default: marketing and transactional) or "marketing".
	StopBlocks string `json:"stop_blocks,omitempty"`
	// FrequencyCap limits the marketing messages a recipient gets from the
	// program (see caps.go); state caps apply on top of it.
	FrequencyCap *FrequencyCap `json:"frequency_cap,omitempty"`
	// MaxPerSecond limits this number's (or messaging service's) journey
	// sends across all workers, through a send task queue of its own that
	// the Temporal server rate-limits; 0: no limit. Replies bypass it.
	MaxPerSecond float64 `json:"max_per_second,omitempty"`
	// Replies overrides reply templates: kind (see ReplyKinds) -> language
	// -> text/template over Brand, Support, Frequency and Confirm (the first
	// confirm keyword). An empty template disables that reply.
	Replies map[ReplyKind]map[string]string `json:"replies,omitempty"`
}

// Scope is the consent scope of the sender.
func (s Sender) Scope() string {
	if s.From != "" {
		return s.From
	}
	return s.MessagingServiceSID
}

// ConsentScope is the scope consent is recorded and checked in: the
// sender's program ("program:<name>") or, without one, the sender itself.
func (s Sender) ConsentScope() string {
	if s.Program != "" {
		return "program:" + s.Program
	}
	return s.Scope()
}

// ConsentScope maps a sending number or messaging service SID to its
// consent scope. The all-senders scope "*" maps to itself.
func (r *Registry) ConsentScope(addr string) string {
	if addr == AllScopes || strings.HasPrefix(addr, "program:") {
		return addr
	}
	return r.Lookup(addr, addr).ConsentScope()
}

// ProcessesKeywords reports whether inbound keywords to this sender change
// consent: long codes and toll-free numbers always, short codes when
// enabled, alphanumeric senders never (they cannot receive).
func (s Sender) ProcessesKeywords() bool {
	switch s.Type {
	case contract.SenderShortCode:
		return s.ShortCodeKeywords
	case contract.SenderAlphanumeric:
		return false
	}
	return true
}

// DefaultConfirmKeywords confirm a pending double opt-in.
var DefaultConfirmKeywords = []string{"YES", "Y"}

// Stop scopes.
const (
	StopBlocksAll       = "all"
	StopBlocksMarketing = "marketing"
)

// Confirms reports whether body confirms a pending double opt-in: it is
// one of the sender's confirm keywords, read like any keyword ("Yes!",
// "y", "ＹＥＳ").
func (s Sender) Confirms(body string) bool {
	if !s.DoubleOptIn {
		return false
	}
	words := s.ConfirmKeywords
	if len(words) == 0 {
		words = DefaultConfirmKeywords
	}
	return keywords.IsOneOf(body, words)
}

// MarketingOnlyStop reports whether an opt-out in the sender's scope
// leaves transactional messages allowed.
func (s Sender) MarketingOnlyStop() bool { return s.StopBlocks == StopBlocksMarketing }

// ProviderReplies reports whether the network or provider already confirms
// opt-outs for this sender, so stopline must not reply again (toll-free
// numbers in the US get a network-generated confirmation).
func (s Sender) ProviderReplies() bool { return s.Type == contract.SenderTollFree }

// Registry finds the sender an inbound message was addressed to.
type Registry struct {
	byAddr  map[string]Sender
	byScope map[string]Sender // first sender of each consent scope: its program's policy
}

// ScopeSender returns a sender of the consent scope (a program's senders
// agree on consent policy), or defaults.
func (r *Registry) ScopeSender(consentScope string) Sender {
	if r != nil {
		if s, ok := r.byScope[consentScope]; ok {
			return s
		}
	}
	return Sender{Type: contract.SenderLongCode, Language: "en"}
}

// ResolveScope maps a scope given by a person (support staff, an import
// file) to the consent scope journeys check: a program name or a sender
// in a program becomes "program:<name>"; "*" and other senders stay.
func (r *Registry) ResolveScope(scope string) string {
	if r != nil && scope != AllScopes {
		if _, ok := r.byScope["program:"+scope]; ok {
			return "program:" + scope
		}
	}
	return r.ConsentScope(scope)
}

// AllScopes is the scope of STOPALL.
const AllScopes = "*"

// Lookup returns the configured sender for a To number or messaging service
// SID, or a default long-code sender for it.
func (r *Registry) Lookup(to, messagingServiceSID string) Sender {
	if r != nil {
		if s, ok := r.byAddr[messagingServiceSID]; ok && messagingServiceSID != "" {
			return s
		}
		if s, ok := r.byAddr[to]; ok {
			return s
		}
	}
	// Unconfigured: a number in a Twilio messaging service shares the
	// service's scope, which is what journeys sending through it use.
	if messagingServiceSID != "" {
		return Sender{MessagingServiceSID: messagingServiceSID, Type: contract.SenderLongCode, Language: "en"}
	}
	return Sender{From: to, Type: contract.SenderLongCode, Language: "en"}
}

// Load reads and validates a senders file.
func Load(path string) (*Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Parse validates a senders file; errors name the field.
func Parse(data []byte) (*Registry, error) {
	var f struct {
		Senders []Sender `json:"senders"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("senders file: %w", err)
	}
	r := &Registry{byAddr: map[string]Sender{}, byScope: map[string]Sender{}}
	var errs []error
	for i, s := range f.Senders {
		at := fmt.Sprintf("senders[%d]", i)
		if err := s.validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s%w", at, err))
			continue
		}
		if s.Language == "" {
			s.Language = "en"
		}
		addr := s.Scope()
		if _, dup := r.byAddr[addr]; dup {
			errs = append(errs, fmt.Errorf("%s: %q is configured twice", at, addr))
		}
		r.byAddr[addr] = s
		if first, ok := r.byScope[s.ConsentScope()]; !ok {
			r.byScope[s.ConsentScope()] = s
		} else if err := sameConsentPolicy(first, s); err != nil {
			errs = append(errs, fmt.Errorf("%s%w", at, err))
		}
	}
	return r, errors.Join(errs...)
}

func (s Sender) validate() error {
	if !slices.Contains(contract.Providers, s.Provider) {
		names := make([]string, len(contract.Providers))
		for i, p := range contract.Providers {
			names[i] = string(p)
		}
		return fmt.Errorf(".provider: must be one of %s, got %q", strings.Join(names, ", "), s.Provider)
	}
	if (s.From == "") == (s.MessagingServiceSID == "") {
		return errors.New(`: set exactly one of "from" or "messaging_service_sid"`)
	}
	switch s.Type {
	case contract.SenderLongCode, contract.SenderTollFree, contract.SenderShortCode:
	case contract.SenderAlphanumeric:
		// Alphanumeric sender IDs cannot receive, so routing inbound
		// keywords to one is a configuration mistake.
		return fmt.Errorf(": alphanumeric sender %q cannot receive messages; keyword handling does not apply (remove it from the senders file)", s.From)
	default:
		return fmt.Errorf(".type: must be one of long_code, toll_free, short_code, alphanumeric, got %q", s.Type)
	}
	switch s.StopBlocks {
	case "", StopBlocksAll, StopBlocksMarketing:
	default:
		return fmt.Errorf(".stop_blocks: must be %q or %q, got %q", StopBlocksAll, StopBlocksMarketing, s.StopBlocks)
	}
	if err := validateRate(s.MaxPerSecond); err != nil {
		return err
	}
	if err := s.FrequencyCap.validate(); err != nil {
		return fmt.Errorf(".frequency_cap%w", err)
	}
	if len(s.ConfirmKeywords) > 0 && !s.DoubleOptIn {
		return errors.New(`.confirm_keywords: only used with "double_opt_in": true`)
	}
	for i, w := range s.ConfirmKeywords {
		// An opt-in keyword may confirm (YES is one); a STOP or HELP may not.
		if in := keywords.Classify(w, s.Keywords); in.Kind != keywords.None && in.Kind != keywords.OptIn || strings.TrimSpace(w) == "" {
			return fmt.Errorf(".confirm_keywords[%d]: %q is empty or an opt-out or help keyword", i, w)
		}
	}
	if err := s.Keywords.Validate(); err != nil {
		return fmt.Errorf(".keywords.%w", err)
	}
	for kind, byLang := range s.Replies {
		if _, ok := defaultReplies[kind]; !ok {
			return fmt.Errorf(".replies: unknown reply %q (want %s)", kind, replyKindList())
		}
		for lang, text := range byLang {
			if _, err := template.New("").Parse(text); err != nil {
				return fmt.Errorf(".replies.%s.%s: %w", kind, lang, err)
			}
		}
	}
	return nil
}

// sameConsentPolicy: consent is recorded per program, so its senders must
// agree on what consent means.
func sameConsentPolicy(a, b Sender) error {
	switch {
	case a.DoubleOptIn != b.DoubleOptIn:
		return fmt.Errorf(".double_opt_in: differs from sender %q of program %q", a.Scope(), a.Program)
	case a.MarketingOnlyStop() != b.MarketingOnlyStop():
		return fmt.Errorf(".stop_blocks: differs from sender %q of program %q", a.Scope(), a.Program)
	case !slices.Equal(a.ConfirmKeywords, b.ConfirmKeywords):
		return fmt.Errorf(".confirm_keywords: differs from sender %q of program %q", a.Scope(), a.Program)
	case a.Cap() != b.Cap():
		return fmt.Errorf(".frequency_cap: differs from sender %q of program %q", a.Scope(), a.Program)
	}
	return nil
}

// Reply renders the reply of the given kind in lang, falling back to the
// sender's language, then English. ok is false when the reply is disabled.
func (s Sender) Reply(kind ReplyKind, lang string) (text string, ok bool, err error) {
	tmpl, found := "", false
	for _, l := range []string{lang, s.Language, "en"} {
		if t, has := s.Replies[kind][l]; has {
			tmpl, found = t, true
			break
		}
		if t, has := defaultReplies[kind][l]; has {
			tmpl, found = t, true
			break
		}
	}
	if !found || tmpl == "" {
		return "", false, nil
	}
	brand := s.Brand
	if brand == "" {
		brand = "stopline"
	}
	confirm := DefaultConfirmKeywords[0]
	if len(s.ConfirmKeywords) > 0 {
		confirm = s.ConfirmKeywords[0]
	}
	data := map[string]string{"Brand": brand, "Support": or(s.Support, "your sender's support"), "Frequency": or(s.Frequency, "Msg frequency varies"), "Confirm": confirm}
	var b strings.Builder
	if err := template.Must(template.New("").Parse(tmpl)).Execute(&b, data); err != nil {
		return "", false, err
	}
	return b.String(), true, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// ReplyKind names a reply template, in the senders file's "replies".
type ReplyKind string

// The replies a sender can configure.
const (
	ReplyOptOut          ReplyKind = "opt_out"
	ReplyOptOutAll       ReplyKind = "opt_out_all"       // after STOPALL
	ReplyOptOutMarketing ReplyKind = "opt_out_marketing" // says transactional messages continue
	ReplyOptIn           ReplyKind = "opt_in"
	ReplyOptInPending    ReplyKind = "opt_in_pending" // asks for the double opt-in's YES
	ReplyConfirmed       ReplyKind = "confirmed"
	ReplyHelp            ReplyKind = "help"
	ReplySuggestOptOut   ReplyKind = "suggest_opt_out"
)

func replyKindList() string {
	names := make([]string, len(ReplyKinds))
	for i, k := range ReplyKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// ReplyKinds lists every ReplyKind.
var ReplyKinds = []ReplyKind{
	ReplyOptOut, ReplyOptOutAll, ReplyOptOutMarketing, ReplyOptIn, ReplyOptInPending, ReplyConfirmed, ReplyHelp, ReplySuggestOptOut,
}

// defaultReplies carry no marketing. HELP follows CTIA: brand, support
// contact, frequency, "Msg & data rates may apply", how to stop.
var defaultReplies = map[ReplyKind]map[string]string{
	ReplyOptOut: {
		"en": "{{.Brand}}: You are unsubscribed and will receive no more messages. Reply START to resubscribe.",
		"fr": "{{.Brand}} : Vous êtes désinscrit et ne recevrez plus de messages. Répondez START pour vous réinscrire.",
		"es": "{{.Brand}}: Se ha dado de baja y no recibirá más mensajes. Responda START para volver a suscribirse.",
		"pt": "{{.Brand}}: Você cancelou a inscrição e não receberá mais mensagens. Responda START para voltar.",
		"de": "{{.Brand}}: Sie sind abgemeldet und erhalten keine Nachrichten mehr. Antworten Sie START zur Wiederanmeldung.",
	},
	ReplyOptOutAll: {
		"en": "{{.Brand}}: You are unsubscribed from all our programs and will receive no more messages. Reply START to resubscribe.",
		"fr": "{{.Brand}} : Vous êtes désinscrit de tous nos programmes et ne recevrez plus de messages. Répondez START pour vous réinscrire.",
		"es": "{{.Brand}}: Se ha dado de baja de todos nuestros programas. Responda START para volver a suscribirse.",
		"pt": "{{.Brand}}: Você cancelou todos os nossos programas. Responda START para voltar.",
		"de": "{{.Brand}}: Sie sind von allen Programmen abgemeldet. Antworten Sie START zur Wiederanmeldung.",
	},
	ReplyOptOutMarketing: {
		"en": "{{.Brand}}: You will receive no more marketing messages. Messages about your account or orders continue. Reply START to resubscribe.",
		"fr": "{{.Brand}} : Vous ne recevrez plus de messages marketing. Les messages sur votre compte ou vos commandes continuent. Répondez START pour vous réinscrire.",
		"es": "{{.Brand}}: No recibirá más mensajes de marketing. Los mensajes sobre su cuenta o pedidos continúan. Responda START para volver a suscribirse.",
		"pt": "{{.Brand}}: Você não receberá mais mensagens de marketing. As mensagens sobre sua conta ou pedidos continuam. Responda START para voltar.",
		"de": "{{.Brand}}: Sie erhalten keine Werbenachrichten mehr. Nachrichten zu Ihrem Konto oder Ihren Bestellungen erhalten Sie weiterhin. Antworten Sie START zur Wiederanmeldung.",
	},
	ReplyOptInPending: {
		"en": "{{.Brand}}: Reply {{.Confirm}} to confirm you want our messages. {{.Frequency}}. Msg & data rates may apply. Reply HELP for help, STOP to cancel.",
		"fr": "{{.Brand}} : Répondez {{.Confirm}} pour confirmer votre inscription. {{.Frequency}}. Des frais peuvent s'appliquer. Répondez AIDE pour l'aide, STOP pour annuler.",
		"es": "{{.Brand}}: Responda {{.Confirm}} para confirmar su suscripción. {{.Frequency}}. Pueden aplicarse tarifas. Responda AYUDA para ayuda, BAJA para cancelar.",
		"pt": "{{.Brand}}: Responda {{.Confirm}} para confirmar sua inscrição. {{.Frequency}}. Podem ser cobradas tarifas. Responda AJUDA para ajuda, SAIR para cancelar.",
		"de": "{{.Brand}}: Antworten Sie {{.Confirm}}, um Ihre Anmeldung zu bestätigen. {{.Frequency}}. Es können Gebühren anfallen. Antworten Sie HILFE für Hilfe, STOPP zum Abbrechen.",
	},
	ReplyConfirmed: {
		"en": "{{.Brand}}: Thanks, you are subscribed. {{.Frequency}}. Msg & data rates may apply. Reply HELP for help, STOP to opt out.",
		"fr": "{{.Brand}} : Merci, votre inscription est confirmée. {{.Frequency}}. Des frais peuvent s'appliquer. Répondez AIDE pour l'aide, STOP pour vous désinscrire.",
		"es": "{{.Brand}}: Gracias, su suscripción está confirmada. {{.Frequency}}. Pueden aplicarse tarifas. Responda AYUDA para ayuda, BAJA para darse de baja.",
		"pt": "{{.Brand}}: Obrigado, sua inscrição está confirmada. {{.Frequency}}. Podem ser cobradas tarifas. Responda AJUDA para ajuda, SAIR para sair.",
		"de": "{{.Brand}}: Danke, Ihre Anmeldung ist bestätigt. {{.Frequency}}. Es können Gebühren anfallen. Antworten Sie HILFE für Hilfe, STOPP zum Abmelden.",
	},
	ReplyOptIn: {
		"en": "{{.Brand}}: You are subscribed again. {{.Frequency}}. Msg & data rates may apply. Reply HELP for help, STOP to opt out.",
		"fr": "{{.Brand}} : Vous êtes de nouveau inscrit. {{.Frequency}}. Des frais peuvent s'appliquer. Répondez AIDE pour l'aide, STOP pour vous désinscrire.",
		"es": "{{.Brand}}: Se ha suscrito de nuevo. {{.Frequency}}. Pueden aplicarse tarifas. Responda AYUDA para ayuda, BAJA para darse de baja.",
		"pt": "{{.Brand}}: Você está inscrito novamente. {{.Frequency}}. Podem ser cobradas tarifas. Responda AJUDA para ajuda, SAIR para sair.",
		"de": "{{.Brand}}: Sie sind wieder angemeldet. {{.Frequency}}. Es können Gebühren anfallen. Antworten Sie HILFE für Hilfe, STOPP zum Abmelden.",
	},
	ReplyHelp: {
		"en": "{{.Brand}}: Help at {{.Support}}. {{.Frequency}}. Msg & data rates may apply. Reply STOP to opt out.",
		"fr": "{{.Brand}} : Aide : {{.Support}}. {{.Frequency}}. Des frais peuvent s'appliquer. Répondez STOP pour vous désinscrire.",
		"es": "{{.Brand}}: Ayuda: {{.Support}}. {{.Frequency}}. Pueden aplicarse tarifas de mensajes y datos. Responda BAJA para darse de baja.",
		"pt": "{{.Brand}}: Ajuda: {{.Support}}. {{.Frequency}}. Podem ser cobradas tarifas de mensagens e dados. Responda SAIR para sair.",
		"de": "{{.Brand}}: Hilfe: {{.Support}}. {{.Frequency}}. Es können Gebühren anfallen. Antworten Sie STOPP zum Abmelden.",
	},
	ReplySuggestOptOut: {
		"en": "{{.Brand}}: Reply STOP to stop these messages.",
		"fr": "{{.Brand}} : Pour ne plus recevoir de messages, répondez STOP.",
		"es": "{{.Brand}}: Para no recibir más mensajes, responda BAJA.",
		"pt": "{{.Brand}}: Para não receber mais mensagens, responda SAIR.",
		"de": "{{.Brand}}: Um keine Nachrichten mehr zu erhalten, antworten Sie STOPP.",
	},
}
