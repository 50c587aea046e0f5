package keywords

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// modes are the fuzzy settings; cases that must not depend on the setting
// are checked under each.
var modes = []FuzzyMode{FuzzyReasonable, FuzzyOff, FuzzyConfirm, FuzzyOptOut}

func withMode(cfg Config, m FuzzyMode) Config {
	cfg.Fuzzy = m
	return cfg
}

// Exact matches: the same intent in every fuzzy mode.
func TestClassifyExact(t *testing.T) {
	enOnly := Config{Languages: []string{"en"}}
	custom := Config{
		OptOut: []string{"Stop Acme", "halt"},
		OptIn:  []string{"Subscribe"},
		Help:   []string{"support", "¿Qué?"},
	}
	tests := []struct {
		body string
		cfg  Config
		want Intent
	}{
		// English opt-out, as sent.
		{"STOP", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"stop", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"Stop.", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"  Stop  ", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"Stop!!!", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"STOP?", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"stop\n", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"\r\n\tSTOP\t\r\n", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"STOP 🛑", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"🛑🛑 stop 🙏🏽", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"\"Stop\"", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"ＳＴＯＰ", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"ｓｔｏｐ！", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"𝐒𝐓𝐎𝐏", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"S\u200bTOP", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"\ufeffStop\u00a0", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"Unsubscribe", Config{}, Intent{Kind: OptOut, Keyword: "UNSUBSCRIBE", Language: "en"}},
		{"cancel", Config{}, Intent{Kind: OptOut, Keyword: "CANCEL", Language: "en"}},
		{"End.", Config{}, Intent{Kind: OptOut, Keyword: "END", Language: "en"}},
		{"QUIT", Config{}, Intent{Kind: OptOut, Keyword: "QUIT", Language: "en"}},
		{"Revoke", Config{}, Intent{Kind: OptOut, Keyword: "REVOKE", Language: "en"}},
		{"optout", Config{}, Intent{Kind: OptOut, Keyword: "OPTOUT", Language: "en"}},
		{"opt out", Config{}, Intent{Kind: OptOut, Keyword: "OPT OUT", Language: "en"}},
		{"Opt-Out", Config{}, Intent{Kind: OptOut, Keyword: "OPT OUT", Language: "en"}},
		{"OPT\n\n  OUT", Config{}, Intent{Kind: OptOut, Keyword: "OPT OUT", Language: "en"}},
		// Repeats and arguments.
		{"STOP STOP STOP", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"Stop. Stop!", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"stop, unsubscribe", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"STOP 12345", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"stop #12345", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"Stop A1B2", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"Stop 555-123-4567", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"STOP ALL 12345", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en", Scope: All}},
		// Scope All.
		{"STOPALL", Config{}, Intent{Kind: OptOut, Keyword: "STOPALL", Language: "en", Scope: All}},
		{"stop all", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en", Scope: All}},
		{"Stop-All!", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en", Scope: All}},
		{"STOP   ALL", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en", Scope: All}},
		{"Unsubscribe all", Config{}, Intent{Kind: OptOut, Keyword: "UNSUBSCRIBE", Language: "en", Scope: All}},
		{"revoke all", Config{}, Intent{Kind: OptOut, Keyword: "REVOKE", Language: "en", Scope: All}},
		{"opt out all", Config{}, Intent{Kind: OptOut, Keyword: "OPT OUT", Language: "en", Scope: All}},
		{"stop everything", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en", Scope: All}},
		{"Arrêt tout", Config{}, Intent{Kind: OptOut, Keyword: "ARRET", Language: "fr", Scope: All}},
		{"BAJA TODO", Config{}, Intent{Kind: OptOut, Keyword: "BAJA", Language: "es", Scope: All}},
		{"stopp alle", Config{}, Intent{Kind: OptOut, Keyword: "STOPP", Language: "de", Scope: All}},
		{"STOP STOPALL", Config{}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en", Scope: All}},
		// Other languages.
		{"ARRET", Config{}, Intent{Kind: OptOut, Keyword: "ARRET", Language: "fr"}},
		{"Arrêt", Config{}, Intent{Kind: OptOut, Keyword: "ARRET", Language: "fr"}},
		{"ARRÊT.", Config{}, Intent{Kind: OptOut, Keyword: "ARRET", Language: "fr"}},
		{"Arre\u0302t", Config{}, Intent{Kind: OptOut, Keyword: "ARRET", Language: "fr"}},
		{"Arrête", Config{}, Intent{Kind: OptOut, Keyword: "ARRETE", Language: "fr"}},
		{"¡Baja!", Config{}, Intent{Kind: OptOut, Keyword: "BAJA", Language: "es"}},
		{"¿Alto?", Config{}, Intent{Kind: OptOut, Keyword: "ALTO", Language: "es"}},
		{"Detener", Config{}, Intent{Kind: OptOut, Keyword: "DETENER", Language: "es"}},
		{"salir", Config{}, Intent{Kind: OptOut, Keyword: "SALIR", Language: "es"}},
		{"PARAR", Config{}, Intent{Kind: OptOut, Keyword: "PARAR", Language: "es"}},
		{"cancelar", Config{}, Intent{Kind: OptOut, Keyword: "CANCELAR", Language: "es"}},
		{"Sair", Config{}, Intent{Kind: OptOut, Keyword: "SAIR", Language: "pt"}},
		{"STOPP", Config{}, Intent{Kind: OptOut, Keyword: "STOPP", Language: "de"}},
		{"Abmelden", Config{}, Intent{Kind: OptOut, Keyword: "ABMELDEN", Language: "de"}},
		{"stop", Config{Languages: []string{"fr"}}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		// Shared words take the first enabled of es, pt.
		{"parar", Config{Languages: []string{"pt"}}, Intent{Kind: OptOut, Keyword: "PARAR", Language: "pt"}},
		{"Cancelar", Config{Languages: []string{"PT", "es"}}, Intent{Kind: OptOut, Keyword: "CANCELAR", Language: "es"}},
		{"Sair", Config{Languages: []string{"de"}}, Intent{}},
		// Disabled languages are not matched; English always is.
		{"ARRET", enOnly, Intent{}},
		{"Baja", enOnly, Intent{}},
		{"Hilfe", enOnly, Intent{}},
		{"Ayuda", Config{Languages: []string{"fr"}}, Intent{}},
		{"STOP", enOnly, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"Help", Config{Languages: []string{"de"}}, Intent{Kind: Help, Keyword: "HELP", Language: "en"}},
		// Opt-in and help.
		{"START", Config{}, Intent{Kind: OptIn, Keyword: "START", Language: "en"}},
		{"yes", Config{}, Intent{Kind: OptIn, Keyword: "YES", Language: "en"}},
		{"Unstop", Config{}, Intent{Kind: OptIn, Keyword: "UNSTOP", Language: "en"}},
		{"start 12345", Config{}, Intent{Kind: OptIn, Keyword: "START", Language: "en"}},
		{"START ALL", Config{}, Intent{Kind: OptIn, Keyword: "START", Language: "en"}},
		{"HELP", Config{}, Intent{Kind: Help, Keyword: "HELP", Language: "en"}},
		{"help?", Config{}, Intent{Kind: Help, Keyword: "HELP", Language: "en"}},
		{"Info", Config{}, Intent{Kind: Help, Keyword: "INFO", Language: "en"}},
		{"Aide", Config{}, Intent{Kind: Help, Keyword: "AIDE", Language: "fr"}},
		{"¡AYUDA!", Config{}, Intent{Kind: Help, Keyword: "AYUDA", Language: "es"}},
		{"ajuda", Config{}, Intent{Kind: Help, Keyword: "AJUDA", Language: "pt"}},
		{"HILFE", Config{}, Intent{Kind: Help, Keyword: "HILFE", Language: "de"}},
		// Mixed kinds are not exact; opt-out is never hidden by another kind.
		{"STOP START", Config{}, Intent{}},
		{"help stop", Config{}, Intent{}},
		// Custom keywords.
		{"stop acme", custom, Intent{Kind: OptOut, Keyword: "STOP ACME", Language: "custom"}},
		{"STOP ACME!", custom, Intent{Kind: OptOut, Keyword: "STOP ACME", Language: "custom"}},
		{"Halt", custom, Intent{Kind: OptOut, Keyword: "HALT", Language: "custom"}},
		{"halt 42", custom, Intent{Kind: OptOut, Keyword: "HALT", Language: "custom"}},
		{"HALT ALL", custom, Intent{Kind: OptOut, Keyword: "HALT", Language: "custom", Scope: All}},
		{"subscribe", custom, Intent{Kind: OptIn, Keyword: "SUBSCRIBE", Language: "custom"}},
		{"Support", custom, Intent{Kind: Help, Keyword: "SUPPORT", Language: "custom"}},
		{"que", custom, Intent{Kind: Help, Keyword: "QUE", Language: "custom"}},
		{"STOP", custom, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
		{"STOP ACME", Config{}, Intent{}},
		{"halt please", custom, Intent{}},
		{"support me", custom, Intent{}},
		{"stop", Config{OptOut: []string{"STOP"}}, Intent{Kind: OptOut, Keyword: "STOP", Language: "en"}},
	}
	for _, tt := range tests {
		if tt.want.Kind != None {
			tt.want.Rule = RuleExact
		}
		for _, m := range modes {
			t.Run(fmt.Sprintf("%s/%q", m, tt.body), func(t *testing.T) {
				if got := Classify(tt.body, withMode(tt.cfg, m)); got != tt.want {
					t.Errorf("Classify(%q, %+v) = %+v, want %+v", tt.body, tt.cfg, got, tt.want)
				}
			})
		}
	}
}

// Fuzzy opt-outs: None when off, SuggestOptOut when confirming, OptOut in
// the reasonable (default) and opt-out modes; Confidence Fuzzy. The rule is
// checked by TestIssue11.
func TestClassifyFuzzy(t *testing.T) {
	tests := []struct {
		body    string
		cfg     Config
		keyword string
		lang    string
		scope   Scope
	}{
		{"Stop. Thank you", Config{}, "STOP", "en", Sender},
		{"stop please", Config{}, "STOP", "en", Sender},
		{"Please stop", Config{}, "STOP", "en", Sender},
		{"please stop texting me", Config{}, "STOP", "en", Sender},
		{"Stop it!", Config{}, "STOP", "en", Sender},
		{"stop now!!", Config{}, "STOP", "en", Sender},
		{"STOP SENDING ME MESSAGES", Config{}, "STOP", "en", Sender},
		{"Can you please stop", Config{}, "STOP", "en", Sender},
		{"I want to unsubscribe", Config{}, "UNSUBSCRIBE", "en", Sender},
		{"unsubscribe me", Config{}, "UNSUBSCRIBE", "en", Sender},
		{"unsubscribe please 🙏", Config{}, "UNSUBSCRIBE", "en", Sender},
		{"how do I unsubscribe?", Config{}, "UNSUBSCRIBE", "en", Sender},
		{"Stop, not interested", Config{}, "STOP", "en", Sender},
		{"no thanks, stop", Config{}, "STOP", "en", Sender},
		{"Stop. Don't text me again", Config{}, "STOP", "en", Sender},
		{"I said stop", Config{}, "STOP", "en", Sender},
		{"I told you to stop!", Config{}, "STOP", "en", Sender},
		{"Stop, wrong number", Config{}, "STOP", "en", Sender},
		// Flipped by issue 11: a reasonable person reads these as "stop".
		{"stop why", Config{}, "STOP", "en", Sender},
		{"I want to cancel", Config{}, "CANCEL", "en", Sender},
		{"wrong number", Config{}, "WRONG NUMBER", "en", Sender},
		// Typos and held-down letters.
		{"Stpo", Config{}, "STOP", "en", Sender},
		{"sotp", Config{}, "STOP", "en", Sender},
		{"SROP", Config{}, "STOP", "en", Sender},
		{"STOPPPP", Config{}, "STOP", "en", Sender},
		{"Stooooop!!!", Config{}, "STOP", "en", Sender},
		{"STOPPP ALL", Config{}, "STOP", "en", All},
		{"stooop 12345", Config{}, "STOP", "en", Sender},
		{"Unsuscribe", Config{}, "UNSUBSCRIBE", "en", Sender},
		{"unsubscibe me pls", Config{}, "UNSUBSCRIBE", "en", Sender},
		{"Revokee", Config{}, "REVOKE", "en", Sender},
		{"stopp", Config{Languages: []string{"en"}}, "STOP", "en", Sender},
		// Phrases.
		{"unsub", Config{}, "UNSUBSCRIBE", "en", Sender},
		{"opt me out", Config{}, "OPT OUT", "en", Sender},
		{"remove me", Config{}, "REMOVE", "en", Sender},
		{"Remove", Config{}, "REMOVE", "en", Sender},
		{"Please remove my number from your list", Config{}, "REMOVE", "en", Sender},
		{"take me off your list", Config{}, "TAKE ME OFF", "en", Sender},
		{"Take me off this list please", Config{}, "TAKE ME OFF", "en", Sender},
		{"leave me alone", Config{}, "LEAVE ME ALONE", "en", Sender},
		{"no more texts", Config{}, "NO MORE", "en", Sender},
		{"No more messages please!", Config{}, "NO MORE", "en", Sender},
		{"I no longer want these texts", Config{}, "NO MORE", "en", Sender},
		{"don't text me", Config{}, "DONT TEXT ME", "en", Sender},
		{"Do not contact me again", Config{}, "DONT TEXT ME", "en", Sender},
		{"never ever text me again", Config{}, "DONT TEXT ME", "en", Sender},
		{"I don’t want these texts anymore", Config{}, "DONT WANT", "en", Sender},
		// Weak keywords next to a messaging word.
		{"cancel my subscription", Config{}, "CANCEL", "en", Sender},
		{"quit texting me", Config{}, "QUIT", "en", Sender},
		{"end these messages", Config{}, "END", "en", Sender},
		// Scope All.
		{"stop all texts", Config{}, "STOP", "en", All},
		{"remove me from all lists", Config{}, "REMOVE", "en", All},
		{"please stop everything", Config{}, "STOP", "en", All},
		// Other languages.
		{"arret svp", Config{}, "ARRET", "fr", Sender},
		{"Baja por favor", Config{}, "BAJA", "es", Sender},
		{"Para!", Config{Languages: []string{"pt"}}, "PARAR", "pt", Sender},
		{"Stopp bitte", Config{}, "STOPP", "de", Sender},
		// Custom keywords get held-down letters only.
		{"HALTTT", Config{OptOut: []string{"halt"}}, "HALT", "custom", Sender},
	}
	for _, tt := range tests {
		optOut := Intent{Kind: OptOut, Keyword: tt.keyword, Language: tt.lang, Scope: tt.scope, Confidence: Fuzzy}
		suggest := optOut
		suggest.Kind = SuggestOptOut
		want := map[FuzzyMode]Intent{FuzzyReasonable: optOut, FuzzyOff: {}, FuzzyConfirm: suggest, FuzzyOptOut: optOut}
		for _, m := range modes {
			t.Run(fmt.Sprintf("%s/%q", m, tt.body), func(t *testing.T) {
				got := Classify(tt.body, withMode(tt.cfg, m))
				if got.Kind != None && got.Rule == RuleNone {
					t.Errorf("Classify(%q, %v) = %+v: no rule", tt.body, m, got)
				}
				if got.Rule = RuleNone; got != want[m] {
					t.Errorf("Classify(%q, %v) = %+v, want %+v", tt.body, m, got, want[m])
				}
			})
		}
	}
}

// falsePositives mention a keyword but do not ask to stop. Each must be None
// in every mode.
var falsePositives = []string{
	"I can't stop smiling",
	"Para mí", "para qué?", "Para todos los niños",
	"I never said stop",
	"not the wrong number",
	"don't cancel my order",
	"we need to stop this bill",
	"What time do you end today?",
	"Don't stop",
	"Don't stop!!",
	"stop by the store later",
	"Is the sale ending soon?",
	"When does it end",
	"quit playing",
	"cancel my 3pm appointment and rebook",
	"Please don't stop sending deals",
	"Never stop",
	"No stop",
	"do not unsubscribe me",
	"don't unsubscribe me please",
	"please don't remove me",
	"don't take me off the list",
	"I don't want to stop",
	"I don't want to unsubscribe",
	"I don't want you to remove me",
	"I don't want to opt out",
	"don't want to leave me alone",
	"I won't quit",
	"non-stop deals",
	"the end",
	"Cancel my order",
	"Can you stop by?",
	"I'll stop in tomorrow",
	"stop and shop",
	"bus stop",
	"Help me stop smoking",
	"stopping by later",
	"Unstoppable deals!",
	"Stop! You guys are great",
	"I quit my job",
	"Why did my texts stop?",
	"texts stopped coming",
	"Stop sign",
	"Don't end the sale",
	"Is this the end?",
	"Weekend plans?",
	"Ending soon?",
	"revoked my card?",
	"step",
	"shop",
	"atop",
	"quite",
	"quiet please",
	"said",
	"stair",
	"Arrest",
	"Baja California",
	"Para mi mamá",
	"Sair amanhã",
	"alto volume",
	"take it off",
	"Yes please",
	"Yes stop by tomorrow",
	"help me please",
	"info about the sale?",
	"Start the order",
	"more please",
	"OK thanks",
	"Thank you",
	"Who is this",
	"hello",
	"🛑",
	"",
	"   \n\t ",
	"!!!",
	"S T O P",
	"stop me if you've heard this",
	"don't call me text me",
	"Stop texting my wife she loves your deals",
}

// A STOP on a line of its own opts out in every mode, whatever comes
// before or after it: a keyword, a greeting, a signature.
func TestStopOnItsOwnLine(t *testing.T) {
	for _, body := range []string{"YES\n\nSTOP", "Yes\nSTOP", "START\n\nstop", "Great\n\nSTOP", "Sent from my iPhone\nSTOP",
		"HELP\nStop", "thanks\n\nstop\n\nSent from my iPhone"} {
		for _, m := range modes {
			if got := Classify(body, Config{Fuzzy: m}); got.Kind != OptOut || got.Keyword != "STOP" {
				t.Errorf("Classify(%q, %v) = %+v, want an opt-out by STOP", body, m, got)
			}
		}
	}
}

func TestClassifyFalsePositives(t *testing.T) {
	for _, body := range falsePositives {
		for _, m := range modes {
			t.Run(fmt.Sprintf("%s/%q", m, body), func(t *testing.T) {
				if got := Classify(body, Config{Fuzzy: m}); got != (Intent{}) {
					t.Errorf("Classify(%q, %v) = %+v, want none", body, m, got)
				}
			})
		}
	}
}

// unclearReplies might mean "stop" but do not say it: the default mode asks
// (SuggestOptOut, rule unclear); no mode opts out.
var unclear = []string{
	"no", "No.", "NOPE", "nah", "no thanks", "No thank you!", "not interested", "no more", "why?", "Why",
	"cancel it", "end it", "Quit it", "Non merci", "No gracias", "Nein danke", "Não", "pourquoi ?",
}

func TestClassifyUnclear(t *testing.T) {
	for _, body := range unclear {
		for _, m := range modes {
			t.Run(fmt.Sprintf("%s/%q", m, body), func(t *testing.T) {
				got := Classify(body, Config{Fuzzy: m})
				switch {
				case m == FuzzyReasonable && (got.Kind != SuggestOptOut || got.Rule != RuleUnclear || got.Keyword == ""):
					t.Errorf("Classify(%q, %v) = %+v, want an unclear suggestion", body, m, got)
				case m != FuzzyReasonable && got != (Intent{}):
					t.Errorf("Classify(%q, %v) = %+v, want none", body, m, got)
				}
			})
		}
	}
}

func TestClassifyUnknownFuzzyModeIsOff(t *testing.T) {
	if got := Classify("stop please", Config{Fuzzy: FuzzyMode(9)}); got != (Intent{}) {
		t.Errorf("Classify with FuzzyMode(9) = %+v, want none", got)
	}
	want := Intent{Kind: OptOut, Keyword: "STOP", Language: "en", Rule: RuleExact}
	if got := Classify("stop", Config{Fuzzy: FuzzyMode(-1)}); got != want {
		t.Errorf("Classify with FuzzyMode(-1) = %+v, want %+v", got, want)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"stop", "STOP"},
		{"  Stop.  ", "STOP"},
		{"Stop!!!\n", "STOP"},
		{"\tstop\r\n", "STOP"},
		{"stop   \t all", "STOP ALL"},
		{"stop\n\nall", "STOP ALL"},
		{"Stop 🛑🛑", "STOP"},
		{"👉 stop 👈", "STOP"},
		{"Stop. Thank you!", "STOP. THANK YOU"},
		{"ＳＴＯＰ", "STOP"},
		{"𝐬𝐭𝐨𝐩", "STOP"},
		{"ArrÊt", "ARRET"},
		{"arre\u0302t", "ARRET"},
		{"¡Baja!", "BAJA"},
		{"¿Ayuda?", "AYUDA"},
		{"Ａｂｍｅｌｄｅｎ", "ABMELDEN"},
		{"s\u200bt\u200dop\ufeff", "STOP"},
		{"stop\u00a0all", "STOP ALL"},
		{"STOPPPP", "STOPPPP"},
		{"Opt-Out", "OPT-OUT"},
		{"don’t stop", "DON’T STOP"},
		{"ﬁn", "FIN"},
		{"1️⃣", "1"},
		{"stop\xffall", "STOPALL"},
		{"", ""},
		{"!!! ???", ""},
		{"🛑", ""},
	}
	for _, tt := range tests {
		got := Normalize(tt.in)
		if got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if again := Normalize(got); again != got {
			t.Errorf("Normalize not idempotent on %q: %q then %q", tt.in, got, again)
		}
	}
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"OPT-OUT", []string{"OPT", "OUT"}},
		{"OPT_OUT", []string{"OPT", "OUT"}},
		{"STOP. THANK YOU", []string{"STOP", "THANK", "YOU"}},
		{"DON'T STOP", []string{"DONT", "STOP"}},
		{"DON’T STOP", []string{"DONT", "STOP"}},
		{"DONʼT", []string{"DONT"}},
		{"'STOP'", []string{"STOP"}},
		{"STOP #12345", []string{"STOP", "12345"}},
		{"", nil},
	}
	for _, tt := range tests {
		got := tokenize(tt.in)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("tokenize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOneTypo(t *testing.T) {
	tests := []struct {
		got, want string
		ok        bool
	}{
		{"STPO", "STOP", true},  // transposition
		{"SOTP", "STOP", true},  // transposition
		{"SROP", "STOP", true},  // R is next to T
		{"STIP", "STOP", true},  // I is next to O
		{"STP", "STOP", true},   // deletion (too short for Classify, see minTypoLen)
		{"STOPS", "STOP", true}, // insertion
		{"STEP", "STOP", false}, // E is far from O: another word
		{"SHOP", "STOP", false},
		{"SPOT", "STOP", false}, // two edits
		{"STOP", "STOP", false}, // equal is not a typo
		{"UNSUSCRIBE", "UNSUBSCRIBE", true},
		{"TSOPP", "STOP", false},
	}
	for _, tt := range tests {
		if got := oneTypo([]rune(tt.got), []rune(tt.want)); got != tt.ok {
			t.Errorf("oneTypo(%q, %q) = %v, want %v", tt.got, tt.want, got, tt.ok)
		}
	}
}

// The vocabulary must not shadow keywords, and folding must not merge two
// different words, or fuzzy matching would read one as the other.
func TestVocabularyIsConsistent(t *testing.T) {
	seen := map[string]string{}
	for _, g := range vocabGroups {
		for _, w := range g.words {
			k := fold(w)
			if prev, ok := seen[k]; ok && prev != w {
				t.Errorf("%q and %q fold to the same key %q", prev, w, k)
			}
			seen[k] = w
			if got := tokenize(Normalize(w)); len(got) != 1 || got[0] != w {
				t.Errorf("vocabulary word %q is not normalised: %q", w, got)
			}
			for _, e := range builtins {
				if len(e.folded) == 1 && e.folded[0] == k {
					t.Errorf("vocabulary word %q is also keyword %q", w, e.keyword)
				}
			}
		}
	}
	kinds := map[string]Kind{}
	for _, e := range builtins {
		if k, ok := kinds[e.keyword]; ok && k != e.kind {
			t.Errorf("built-in %q is both %v and %v", e.keyword, k, e.kind)
		}
		kinds[e.keyword] = e.kind
	}
	for a, ns := range qwertyNeighbours {
		for _, b := range ns {
			if !adjacentKeys(b, a) {
				t.Errorf("qwerty neighbours not symmetric: %c-%c", a, b)
			}
		}
	}
}

func TestFromTwilioOptOutType(t *testing.T) {
	tests := []struct {
		in   string
		want Intent
		ok   bool
	}{
		{"STOP", Intent{Kind: OptOut, Keyword: "STOP", Rule: RuleExact}, true},
		{"stop", Intent{Kind: OptOut, Keyword: "STOP", Rule: RuleExact}, true},
		{" Stop\n", Intent{Kind: OptOut, Keyword: "STOP", Rule: RuleExact}, true},
		{"START", Intent{Kind: OptIn, Keyword: "START", Rule: RuleExact}, true},
		{"start", Intent{Kind: OptIn, Keyword: "START", Rule: RuleExact}, true},
		{"HELP", Intent{Kind: Help, Keyword: "HELP", Rule: RuleExact}, true},
		{"Help", Intent{Kind: Help, Keyword: "HELP", Rule: RuleExact}, true},
		{"", Intent{}, false},
		{"STOPALL", Intent{}, false},
		{"UNSUBSCRIBE", Intent{}, false},
		{"ARRET", Intent{}, false},
	}
	for _, tt := range tests {
		got, ok := FromTwilioOptOutType(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("FromTwilioOptOutType(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" means valid
	}{
		{"zero", Config{}, ""},
		{"all options", Config{
			Languages: []string{"en", "FR", "es", "pt", "de"},
			Fuzzy:     FuzzyOptOut,
			OptOut:    []string{"Stop Acme", "halt"},
			OptIn:     []string{"subscribe"},
			Help:      []string{"support"},
		}, ""},
		{"custom repeats built-in of same kind", Config{OptOut: []string{"STOP"}, Help: []string{"info"}}, ""},
		{"unknown language", Config{Languages: []string{"en", "xx"}}, `languages[1]: unknown language "xx"`},
		{"empty language", Config{Languages: []string{""}}, `languages[0]: unknown language ""`},
		{"unknown fuzzy mode", Config{Fuzzy: FuzzyMode(4)}, `fuzzy: unknown mode 4`},
		{"negative fuzzy mode", Config{Fuzzy: FuzzyMode(-1)}, `fuzzy: unknown mode -1`},
		{"empty opt-out", Config{OptOut: []string{""}}, `opt_out[0]: empty keyword`},
		{"blank help", Config{Help: []string{"support", " \t"}}, `help[1]: empty keyword`},
		{"punctuation only", Config{OptIn: []string{"!!!"}}, `opt_in[0]: "!!!" has no letters or digits`},
		{"too long", Config{OptOut: []string{"please stop it now thanks"}},
			`opt_out[0]: "please stop it now thanks" has 5 words, at most 4 allowed`},
		{"opt-in is a built-in opt-out", Config{OptIn: []string{"Stop"}}, `opt_in[0]: "Stop" would be read as opt_out`},
		{"opt-in is an opt-out with a code", Config{OptIn: []string{"STOP 123"}},
			`opt_in[0]: "STOP 123" would be read as opt_out`},
		{"help in a disabled language", Config{Languages: []string{"en"}, Help: []string{"baja"}},
			`help[0]: "baja" would be read as opt_out`},
		{"opt-out is a built-in opt-in", Config{OptOut: []string{"yes"}}, `opt_out[0]: "yes" would be read as opt_in`},
		{"opt-in is a built-in help", Config{OptIn: []string{"INFO"}}, `opt_in[0]: "INFO" would be read as help`},
		{"opt-in contains an opt-out", Config{OptIn: []string{"stop acme"}},
			`opt_in[0]: "stop acme" contains opt-out keyword "STOP"`},
		{"help contains a two-word opt-out", Config{Help: []string{"opt-out help"}},
			`help[0]: "opt-out help" contains opt-out keyword "OPT OUT"`},
		{"custom lists conflict", Config{OptOut: []string{"halt"}, Help: []string{"HALT!"}},
			"opt_out[0]: \"halt\" would be read as help\nhelp[0]: \"HALT!\" would be read as opt_out"},
		{"several errors", Config{Languages: []string{"xx"}, Fuzzy: 7, OptOut: []string{""}},
			"languages[0]: unknown language \"xx\"\nfuzzy: unknown mode 7\nopt_out[0]: empty keyword"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %q, want nil", err)
			case tt.want != "" && err == nil:
				t.Errorf("Validate() = nil, want %q", tt.want)
			case tt.want != "" && err.Error() != tt.want:
				t.Errorf("Validate() = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestEnumStrings(t *testing.T) {
	tests := []struct {
		v    fmt.Stringer
		want string
	}{
		{None, "none"}, {OptOut, "opt_out"}, {OptIn, "opt_in"}, {Help, "help"}, {SuggestOptOut, "suggest_opt_out"},
		{Kind(42), "Kind(42)"},
		{Sender, "sender"}, {All, "all"}, {Scope(-1), "Scope(-1)"},
		{Exact, "exact"}, {Fuzzy, "fuzzy"},
		{FuzzyReasonable, "reasonable"}, {FuzzyOff, "off"}, {FuzzyConfirm, "confirm"}, {FuzzyOptOut, "opt_out"},
		{RuleNone, "none"}, {RuleExact, "exact"}, {RuleCourtesy, "courtesy"}, {RuleObject, "object"}, {RuleTypo, "typo"},
		{RulePhrase, "phrase"}, {RuleQuestion, "question"}, {RuleUnclear, "unclear"}, {Rule(9), "Rule(9)"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestIntentJSON(t *testing.T) {
	in := Intent{Kind: SuggestOptOut, Keyword: "STOP", Language: "en", Scope: All, Confidence: Fuzzy, Rule: RuleCourtesy, Stripped: true}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"kind":"suggest_opt_out","keyword":"STOP","language":"en","scope":"all","confidence":"fuzzy","rule":"courtesy","signature_stripped":true}`
	if string(b) != want {
		t.Errorf("json.Marshal = %s, want %s", b, want)
	}
	var back Intent
	if err := json.Unmarshal(b, &back); err != nil || back != in {
		t.Errorf("round trip = %+v, %v; want %+v", back, err, in)
	}

	var cfg Config
	if err := json.Unmarshal([]byte(`{"languages":["en","fr"],"fuzzy":"confirm","opt_out":["halt"]}`), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Fuzzy != FuzzyConfirm || len(cfg.Languages) != 2 || cfg.OptOut[0] != "halt" {
		t.Errorf("config = %+v", cfg)
	}

	bad := []string{`{"kind":"stop"}`, `{"scope":"everyone"}`, `{"kind":"OPT_OUT"}`, `{"confidence":""}`, `{"rule":"vibes"}`}
	for _, s := range bad {
		var in Intent
		if err := json.Unmarshal([]byte(s), &in); err == nil {
			t.Errorf("json.Unmarshal(%s) = nil error, want one", s)
		}
	}
	if _, err := json.Marshal(Intent{Kind: Kind(9)}); err == nil {
		t.Error("json.Marshal of Kind(9) succeeded, want an error")
	}
}
