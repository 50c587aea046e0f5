// Package keywords turns the body of an inbound SMS into an intent: opt-out,
// opt-in, help or nothing. It is pure: no I/O, no clock, no randomness, so it
// is safe to call from Temporal workflow code and its answer for a body and a
// Config never changes.
//
// It reads a reply the way a reasonable person would (47 CFR §
// 64.1200(a)(10), FCC 24-24): a listed keyword revokes consent, and so does
// any other wording whose evident meaning is "stop messaging me", in any
// supported language. Every answer records the Rule that decided it.
//
// # What the person wrote
//
// Text after a blank line or a signature line ("Sent from my iPhone", "Get
// Outlook for iOS", a line starting with "--", quoted lines starting with
// ">") is ignored when what comes before it is a complete request on its
// own (Intent.Stripped). An opt-out found that way wins over other kinds,
// and so does a line that opts out on its own ("YES", a blank line, "STOP").
//
// # Exact matching (always on)
//
// The body is normalised (see Normalize) and split into words at anything that
// is not a letter or digit, so "Stop.", "STOP 🛑", "ＳＴＯＰ" and "Opt-Out" are
// read as STOP, STOP, STOP and OPT OUT. The body matches when it is made only
// of keywords of one kind, optionally followed by arguments:
//
//   - an "all" word (ALL, TOUT, TODO, TUDO, ALLE, ...): "STOP ALL" revokes
//     consent for every sender (Scope All), like STOPALL;
//   - codes, words containing a digit: "STOP 12345" (program codes on
//     shared short codes), "STOP 555-123-4567".
//
// Repeats ("STOP STOP", "stop, unsubscribe") match too. Anything else is a
// sentence and is not an exact match: "stop please", "Stop. Thank you" and
// "STOP ACME" (a brand name, indistinguishable from "quit playing") are left
// to fuzzy matching or to a per-sender custom keyword such as "STOP ACME".
// When the body is keywords of several kinds ("STOP START") nothing matches
// exactly; kinds are tried opt-out first, so a custom opt-in or help keyword
// can never hide an opt-out.
//
// # Fuzzy opt-out
//
// Only opt-out is ever fuzzy; opt-in and help grant consent or trigger a reply
// and stay exact. A clear fuzzy opt-out is a short sentence built only from
// a closed vocabulary: an opt-out trigger plus courtesy, emphasis and glue
// words, or words naming the messages, the sender or the recipient ("please
// stop texting me", "Stop. Thank you", "take me off your list", "Arrêtez
// svp"). One unknown word rejects the sentence, which is what keeps "stop by
// the store later" or "cancel my 3pm appointment" out. Triggers are:
//
//   - an opt-out keyword of an enabled language, with held-down letters
//     collapsed (STOPPPP) or one typo on words of 4+ letters (Stpo, Unsuscribe);
//   - CANCEL, END, QUIT and CANCELAR only next to a messaging word ("cancel
//     my subscription", "quit texting me") or a wish ("I want to cancel"),
//     since alone in a sentence they are everyday words;
//   - phrases: UNSUB, OPT ... OUT, REMOVE ME, TAKE ME OFF, LEAVE ME ALONE,
//     NO MORE texts, DON'T TEXT ME, I DON'T WANT these texts, WRONG NUMBER,
//     and their fr, es, pt and de counterparts ("ne plus recevoir",
//     "retirez-moi", "no me envíen más", "número errado", "keine Werbung").
//
// A request may come with a trailing or leading question ("Stop!!! Who is
// this", "stop why"). A request that names the messages or the recipient
// ("stop texting me", "remove me from your list") may come with any other
// sentence that does not itself mention a keyword ("Stop texting me. I
// never signed up").
//
// A negation in front of a trigger ("don't stop", "do not unsubscribe me",
// "no stop", "non-stop") rejects the whole body in every mode. Negations that
// are themselves a request to stop ("don't text me", "no more texts", "ne
// m'envoyez plus") do not. A keyword of another kind (START, HELP, a custom
// keyword) anywhere rejects a fuzzy reading: that is not ours to guess.
//
// # Modes
//
// FuzzyReasonable (the default) opts out on clear fuzzy requests and answers
// an unclear reply that might be one ("no", "why?", "not interested") with
// SuggestOptOut: a reply asking the recipient to text STOP, changing
// nothing. FuzzyOptOut opts out on clear fuzzy requests and ignores unclear
// replies; FuzzyConfirm suggests on clear fuzzy requests; FuzzyOff matches
// exact keywords only.
package keywords

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Kind is what an inbound message asks for.
type Kind int

const (
	None Kind = iota
	OptOut
	OptIn
	Help
	// SuggestOptOut is a fuzzy opt-out seen in FuzzyConfirm mode: the sender
	// should ask the recipient to text STOP and must not record an opt-out.
	SuggestOptOut
)

// Scope is how far an opt-out reaches. It is only meaningful for OptOut and
// SuggestOptOut; other kinds always report Sender.
type Scope int

const (
	// Sender revokes consent for the sender (number, short code or
	// messaging service) the message was sent to.
	Sender Scope = iota
	// All revokes consent for every sender of the business: STOPALL, "STOP
	// ALL", and FCC "revoke all" style requests.
	All
)

// Confidence says how the intent was recognised. It is only meaningful when
// Kind is not None.
type Confidence int

const (
	Exact Confidence = iota
	Fuzzy
)

// FuzzyMode is the per-sender policy for bodies that look like an opt-out
// but are not a keyword. The zero value is the default, FuzzyReasonable;
// only the names are stored (see MarshalText), never the numbers.
type FuzzyMode int

const (
	// FuzzyReasonable: clear fuzzy requests opt out (Confidence Fuzzy);
	// unclear replies ("no", "why?") get SuggestOptOut.
	FuzzyReasonable FuzzyMode = iota
	FuzzyOff                  // only exact keywords count
	FuzzyConfirm              // clear fuzzy requests get SuggestOptOut; nothing opts out
	FuzzyOptOut               // clear fuzzy requests opt out; unclear replies are ignored
)

// Rule is the rule that decided an intent, recorded with every consent
// event and inbound message so that an auditor can see why.
type Rule int

const (
	RuleNone     Rule = iota
	RuleExact         // only keywords and arguments: "STOP", "STOP ALL", "arrêter"
	RuleCourtesy      // a keyword with courtesy or emphasis: "STOP please", "stop now"
	RuleObject        // a keyword naming the messages, sender or recipient: "stop texting me"
	RuleTypo          // a misspelt or held-down keyword: "Stpo", "STOPPPP"
	RulePhrase        // wording without a keyword: "no more texts", "wrong number"
	RuleQuestion      // a request with a question: "Stop!!! Who is this", "stop why"
	RuleUnclear       // might be a request, is not clear: "no", "why?"
)

// Intent is the classification of one inbound body.
type Intent struct {
	Kind Kind `json:"kind"`
	// Keyword is the canonical keyword or phrase that matched, upper case and
	// without diacritics: "STOP", "ARRET", "OPT OUT", "TAKE ME OFF".
	Keyword string `json:"keyword,omitempty"`
	// Language is "en", "fr", "es", "pt" or "de" for built-in keywords,
	// "custom" for a sender's own keywords, and "" when unknown.
	Language   string     `json:"language,omitempty"`
	Scope      Scope      `json:"scope"`
	Confidence Confidence `json:"confidence"`
	Rule       Rule       `json:"rule,omitempty"`
	// Stripped: a signature or quoted text after the request was ignored.
	Stripped bool `json:"signature_stripped,omitempty"`
}

// Explanation is the rule as stored with consent events and inbound
// messages: the Rule's name, with "+signature_stripped" when text after the
// request was ignored ("courtesy+signature_stripped"), or "" for None.
func (in Intent) Explanation() string {
	if in.Rule == RuleNone {
		return ""
	}
	if in.Stripped {
		return in.Rule.String() + "+signature_stripped"
	}
	return in.Rule.String()
}

// Config is a sender's keyword policy. The zero Config is the default: all
// built-in languages, FuzzyReasonable, no custom keywords.
type Config struct {
	// Languages enables built-in languages besides English, which is always
	// on. Empty (nil or []) means all built-in languages; to get English only,
	// list "en". Codes are case-insensitive.
	Languages []string  `json:"languages,omitempty"`
	Fuzzy     FuzzyMode `json:"fuzzy,omitempty"`
	// Custom keywords, matched like the built-in ones (after Normalize, with
	// an optional ALL or code argument, Language "custom"). They take part in
	// fuzzy mode only through held-down letters ("HALTTT"), not through typos
	// or phrases: their ambiguity is unknown.
	OptOut []string `json:"opt_out,omitempty"`
	OptIn  []string `json:"opt_in,omitempty"`
	Help   []string `json:"help,omitempty"`
}

// maxCustomWords bounds custom keywords: a longer one is a sentence, which
// exact matching deliberately does not accept.
const maxCustomWords = 4

// Validate reports every problem in c, each naming its field, for example
// `languages[1]: unknown language "xx"` or `opt_out[0]: empty keyword`.
// Classify does not need a valid Config: it ignores unknown languages, treats
// an unknown fuzzy mode as FuzzyOff and tries opt-out before help and opt-in.
func (c Config) Validate() error {
	var errs []error
	for i, code := range c.Languages {
		if !slices.Contains(languageCodes, strings.ToLower(code)) {
			errs = append(errs, fmt.Errorf("languages[%d]: unknown language %q", i, code))
		}
	}
	if c.Fuzzy < FuzzyReasonable || c.Fuzzy > FuzzyOptOut {
		errs = append(errs, fmt.Errorf("fuzzy: unknown mode %d", int(c.Fuzzy)))
	}
	lists := []struct {
		field string
		kind  Kind
		words []string
	}{
		{"opt_out", OptOut, c.OptOut},
		{"opt_in", OptIn, c.OptIn},
		{"help", Help, c.Help},
	}
	for _, l := range lists {
		// Conflicts are judged against every built-in language, enabled or
		// not, and against the sender's other lists: a keyword that means two
		// things is a configuration mistake even if precedence would hide it.
		entries := slices.Clone(builtins)
		for _, o := range lists {
			if o.kind != l.kind {
				entries = append(entries, customEntries(o.kind, o.words)...)
			}
		}
		others := compile(entries)
		for i, w := range l.words {
			if err := validateCustom(w, l.kind, others); err != nil {
				errs = append(errs, fmt.Errorf("%s[%d]: %w", l.field, i, err))
			}
		}
	}
	return errors.Join(errs...)
}

func validateCustom(w string, kind Kind, others matcher) error {
	toks := tokenize(Normalize(w))
	switch {
	case strings.TrimSpace(w) == "":
		return errors.New("empty keyword")
	case len(toks) == 0:
		return fmt.Errorf("%q has no letters or digits", w)
	case len(toks) > maxCustomWords:
		return fmt.Errorf("%q has %d words, at most %d allowed", w, len(toks), maxCustomWords)
	}
	if in := others.exact(toks); in.Kind != None && in.Kind != kind {
		return fmt.Errorf("%q would be read as %s", w, in.Kind)
	}
	if kind != OptOut {
		// "STOP ACME" as an opt-in would win over STOP for that body, since
		// STOP + a non-code word is not an exact opt-out. Refuse it.
		for i := range toks {
			if e := others.longest(OptOut, toks[i:], false); e != nil && !e.custom() {
				return fmt.Errorf("%q contains opt-out keyword %q", w, e.keyword)
			}
		}
	}
	return nil
}

// Classify returns the intent of an inbound SMS body under cfg. It never
// panics and is deterministic; a body that matches nothing is Intent{}.
//
// It reads the text before each signature or quoted part (see cut), then
// each line the person wrote on its own (for an opt-out only), then the
// whole body, and keeps the first reading of the highest rank: an opt-out,
// then another keyword, then an unclear reply. So a STOP is never hidden by
// a signature, nor by what precedes or follows it ("YES\n\nSTOP" opts out).
func Classify(body string, cfg Config) Intent {
	mode := cfg.Fuzzy
	if mode < FuzzyReasonable || mode > FuzzyOptOut {
		mode = FuzzyOff
	}
	m := newMatcher(cfg)
	var best Intent
	for _, head := range heads(body) {
		if in := m.read(head, mode); rank(in) > rank(best) {
			best = in
			best.Stripped = true
			if best.Kind == OptOut {
				return best
			}
		}
	}
	for _, line := range ownLines(body) {
		if in := m.read(line, mode); in.Kind == OptOut {
			in.Stripped = true
			return in
		}
	}
	if in := m.read(body, mode); rank(in) > rank(best) {
		best = in
	}
	return best
}

const rankOptOut = 3

// rank orders readings: an opt-out (or its suggestion) first, then other
// keywords, then unclear replies.
func rank(in Intent) int {
	switch {
	case in.Kind == None:
		return 0
	case in.Rule == RuleUnclear:
		return 1
	case in.Kind == OptOut || in.Kind == SuggestOptOut:
		return rankOptOut
	}
	return 2
}

// read classifies one text under mode: exact keywords, then a clear fuzzy
// request, then (reasonable mode) an unclear reply.
func (m matcher) read(text string, mode FuzzyMode) Intent {
	norm := Normalize(text)
	toks := tokenize(norm)
	if len(toks) == 0 {
		return Intent{}
	}
	if in := m.exact(toks); in.Kind != None {
		in.Rule = RuleExact
		return in
	}
	if mode == FuzzyOff {
		return Intent{}
	}
	if in, ok := m.fuzzy(norm, toks); ok {
		if mode == FuzzyConfirm {
			in.Kind = SuggestOptOut
		}
		return in
	}
	if mode == FuzzyReasonable {
		if in, ok := m.unclearIntent(toks); ok {
			return in
		}
	}
	return Intent{}
}

// FromTwilioOptOutType maps the OptOutType field that Twilio Advanced Opt-Out
// adds to inbound webhooks (STOP, START or HELP, any case) to an intent. Twilio
// has already acted on it and replied, so the caller must record the change
// but not send its own confirmation. Language is "" because Twilio does not
// say which keyword matched; Classify the Body for that.
func FromTwilioOptOutType(v string) (Intent, bool) {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "STOP":
		return Intent{Kind: OptOut, Keyword: "STOP", Rule: RuleExact}, true
	case "START":
		return Intent{Kind: OptIn, Keyword: "START", Rule: RuleExact}, true
	case "HELP":
		return Intent{Kind: Help, Keyword: "HELP", Rule: RuleExact}, true
	}
	return Intent{}, false
}

// The enum names are the stored and wire form (Postgres, Temporal signals,
// JSON), so they must never be renamed or reordered.
var (
	kindNames       = []string{None: "none", OptOut: "opt_out", OptIn: "opt_in", Help: "help", SuggestOptOut: "suggest_opt_out"}
	scopeNames      = []string{Sender: "sender", All: "all"}
	confidenceNames = []string{Exact: "exact", Fuzzy: "fuzzy"}
	fuzzyModeNames  = []string{FuzzyReasonable: "reasonable", FuzzyOff: "off", FuzzyConfirm: "confirm", FuzzyOptOut: "opt_out"}
	ruleNames       = []string{RuleNone: "none", RuleExact: "exact", RuleCourtesy: "courtesy", RuleObject: "object",
		RuleTypo: "typo", RulePhrase: "phrase", RuleQuestion: "question", RuleUnclear: "unclear"}
)

func (k Kind) String() string       { return enumString(kindNames, k, "Kind") }
func (s Scope) String() string      { return enumString(scopeNames, s, "Scope") }
func (c Confidence) String() string { return enumString(confidenceNames, c, "Confidence") }
func (f FuzzyMode) String() string  { return enumString(fuzzyModeNames, f, "FuzzyMode") }
func (r Rule) String() string       { return enumString(ruleNames, r, "Rule") }

// MarshalText makes Rule a JSON string such as "courtesy".
func (r Rule) MarshalText() ([]byte, error) { return enumMarshal(ruleNames, r, "rule") }

// UnmarshalText accepts the names produced by MarshalText.
func (r *Rule) UnmarshalText(b []byte) error { return enumUnmarshal(ruleNames, b, "rule", r) }

// MarshalText makes Kind a JSON string such as "opt_out".
func (k Kind) MarshalText() ([]byte, error) { return enumMarshal(kindNames, k, "kind") }

// UnmarshalText accepts the names produced by MarshalText.
func (k *Kind) UnmarshalText(b []byte) error { return enumUnmarshal(kindNames, b, "kind", k) }

// MarshalText makes Scope a JSON string: "sender" or "all".
func (s Scope) MarshalText() ([]byte, error) { return enumMarshal(scopeNames, s, "scope") }

// UnmarshalText accepts the names produced by MarshalText.
func (s *Scope) UnmarshalText(b []byte) error { return enumUnmarshal(scopeNames, b, "scope", s) }

// MarshalText makes Confidence a JSON string: "exact" or "fuzzy".
func (c Confidence) MarshalText() ([]byte, error) {
	return enumMarshal(confidenceNames, c, "confidence")
}

// UnmarshalText accepts the names produced by MarshalText.
func (c *Confidence) UnmarshalText(b []byte) error {
	return enumUnmarshal(confidenceNames, b, "confidence", c)
}

// MarshalText makes FuzzyMode a JSON string: "reasonable", "off", "confirm"
// or "opt_out".
func (f FuzzyMode) MarshalText() ([]byte, error) {
	return enumMarshal(fuzzyModeNames, f, "fuzzy mode")
}

// UnmarshalText accepts the names produced by MarshalText.
func (f *FuzzyMode) UnmarshalText(b []byte) error {
	return enumUnmarshal(fuzzyModeNames, b, "fuzzy mode", f)
}

func enumString[E ~int](names []string, v E, typ string) string {
	if v >= 0 && int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", typ, int(v))
}

// enumMarshal refuses out-of-range values rather than writing "Kind(7)",
// which nothing could read back.
func enumMarshal[E ~int](names []string, v E, typ string) ([]byte, error) {
	if v < 0 || int(v) >= len(names) {
		return nil, fmt.Errorf("keywords: invalid %s %d", typ, int(v))
	}
	return []byte(names[v]), nil
}

func enumUnmarshal[E ~int](names []string, b []byte, typ string, dst *E) error {
	if i := slices.Index(names, string(b)); i >= 0 {
		*dst = E(i)
		return nil
	}
	return fmt.Errorf("keywords: unknown %s %q", typ, b)
}
