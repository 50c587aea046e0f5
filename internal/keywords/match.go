package keywords

import (
	"slices"
	"strings"
	"unicode"
)

// language is one built-in keyword set. Opt-in keywords are English only:
// granting consent back should take a deliberate, well-known word.
type language struct {
	code                string
	optOut, optIn, help []string
}

// builtinLanguages is in precedence order: a word listed by several languages
// reports the first enabled one. PARAR and CANCELAR are "es", or "pt" when
// Spanish is disabled; STOP is always "en".
var builtinLanguages = []language{
	{
		code: "en",
		// OPT-OUT tokenizes like OPT OUT, which it reports; it is listed so
		// the table reads like the FCC and carrier lists.
		optOut: []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT", "OPT-OUT"},
		optIn:  []string{"START", "YES", "UNSTOP"},
		help:   []string{"HELP", "INFO"},
	},
	// The French, Spanish, Portuguese and German lists hold the carriers'
	// keywords and the short requests people send in those languages
	// (issue 11); accents are optional, as Normalize drops them.
	{code: "fr", optOut: []string{
		"ARRET", "ARRÊT", "STOP", "ARRÊTER", "ARRÊTEZ", "ARRÊTE", "DÉSABONNER", "DÉSABONNEZ", "DÉSABONNEMENT",
		"DÉSINSCRIRE", "DÉSINSCRIVEZ", "DÉSINSCRIPTION", "NE PLUS RECEVOIR",
	}, help: []string{"AIDE"}},
	{code: "es", optOut: []string{
		"BAJA", "ALTO", "PARAR", "DETENER", "CANCELAR", "SALIR", "DARME DE BAJA", "DAR DE BAJA", "DAME DE BAJA",
		"DENME DE BAJA", "NO MÁS MENSAJES", "NO ME ESCRIBAN", "DESUSCRIBIR", "DESUSCRIBIRME",
	}, help: []string{"AYUDA"}},
	{code: "pt", optOut: []string{
		"PARAR", "CANCELAR", "SAIR", "PARE", "DESCADASTRAR", "DESCADASTRE", "DESCADASTRAMENTO",
		"CANCELAR INSCRIÇÃO", "NÃO QUERO MAIS", "NÃO QUERO MAIS MENSAGENS", "NÃO ME MANDEM MAIS", "NÃO RECEBER MAIS",
	}, help: []string{"AJUDA"}},
	{code: "de", optOut: []string{
		"STOPP", "ABMELDEN", "ABMELDUNG", "ABBESTELLEN", "AUSTRAGEN", "KEINE SMS MEHR", "KEINE NACHRICHTEN MEHR",
		"NICHT MEHR SCHREIBEN",
	}, help: []string{"HILFE"}},
}

const langCustom = "custom"

var languageCodes = func() []string {
	var codes []string
	for _, l := range builtinLanguages {
		codes = append(codes, l.code)
	}
	return codes
}()

// scopeAllKeywords revoke consent for every sender by themselves.
var scopeAllKeywords = []string{"STOPALL"}

// weakKeywords are opt-out keywords that are also everyday words ("cancel my
// order", "the end"). They match exactly on their own, but in fuzzy mode
// only next to a messaging word.
var weakKeywords = []string{"CANCEL", "END", "QUIT", "CANCELAR"}

// allWords, after an opt-out keyword, widen it to Scope All: "STOP ALL",
// "ARRET TOUT", "BAJA TODO", "PARAR TUDO", "STOPP ALLE".
var allWords = setOf("ALL", "EVERYTHING", "TOUT", "TOUS", "TODO", "TODOS", "TODAS", "TUDO", "ALLE", "ALLES")

var foldedAllWords = foldSet(allWords)

// maxCodeLen bounds the code argument of "STOP 12345"; a longer token is
// more likely a phone number pasted into a sentence than a program code.
const maxCodeLen = 16

// entry is one keyword, compiled to the words Classify compares.
type entry struct {
	kind     Kind
	lang     string
	keyword  string   // canonical form: the words joined by one space
	words    []string // tokenize(Normalize(keyword))
	folded   []string // words with repeated runes collapsed, for fuzzy mode
	runes    []rune   // folded[0] as runes, for typos
	scopeAll bool
	weak     bool
}

func (e *entry) custom() bool { return e.lang == langCustom }

func newEntry(kind Kind, lang, word string) *entry {
	words := tokenize(Normalize(word))
	if len(words) == 0 {
		return nil
	}
	kw := strings.Join(words, " ")
	return &entry{
		kind:     kind,
		lang:     lang,
		keyword:  kw,
		words:    words,
		folded:   foldAll(words),
		runes:    []rune(fold(words[0])),
		scopeAll: slices.Contains(scopeAllKeywords, kw),
		weak:     slices.Contains(weakKeywords, kw),
	}
}

// builtins holds every built-in keyword in precedence order: language order,
// then opt-out, opt-in, help within a language.
var builtins = func() []*entry {
	var es []*entry
	for _, l := range builtinLanguages {
		for _, w := range l.optOut {
			es = append(es, newEntry(OptOut, l.code, w))
		}
		for _, w := range l.optIn {
			es = append(es, newEntry(OptIn, l.code, w))
		}
		for _, w := range l.help {
			es = append(es, newEntry(Help, l.code, w))
		}
	}
	return es
}()

func customEntries(kind Kind, words []string) []*entry {
	var es []*entry
	for _, w := range words {
		if e := newEntry(kind, langCustom, w); e != nil {
			es = append(es, e)
		}
	}
	return es
}

// matcher holds the keywords in force for one Config, built-ins first so
// that a custom keyword repeating a built-in reports the built-in. The
// indexes keep each lookup to the few keywords starting with a word, since
// Classify runs on every inbound message.
type matcher struct {
	entries  []*entry
	byWord   map[string][]*entry // by first word, in entries order
	byFolded map[string][]*entry // by first folded word
	typos    []*entry            // one-word built-in opt-outs a typo may reach
}

func compile(entries []*entry) matcher {
	m := matcher{entries: entries, byWord: map[string][]*entry{}, byFolded: map[string][]*entry{}}
	for _, e := range entries {
		m.byWord[e.words[0]] = append(m.byWord[e.words[0]], e)
		m.byFolded[e.folded[0]] = append(m.byFolded[e.folded[0]], e)
		if e.kind == OptOut && !e.custom() && len(e.folded) == 1 && len(e.runes) >= minTypoLen {
			m.typos = append(m.typos, e)
		}
	}
	return m
}

// defaultMatcher serves the usual Config: all languages, no custom keywords.
var defaultMatcher = compile(builtins)

func newMatcher(cfg Config) matcher {
	if len(cfg.Languages) == 0 && len(cfg.OptOut)+len(cfg.OptIn)+len(cfg.Help) == 0 {
		return defaultMatcher
	}
	enabled := func(code string) bool {
		if code == "en" || len(cfg.Languages) == 0 {
			return true
		}
		return slices.ContainsFunc(cfg.Languages, func(c string) bool { return strings.EqualFold(c, code) })
	}
	var entries []*entry
	for _, e := range builtins {
		if enabled(e.lang) {
			entries = append(entries, e)
		}
	}
	entries = append(entries, customEntries(OptOut, cfg.OptOut)...)
	entries = append(entries, customEntries(OptIn, cfg.OptIn)...)
	entries = append(entries, customEntries(Help, cfg.Help)...)
	return compile(entries)
}

// longest returns the keyword of kind that covers the most leading words of
// toks (the first listed on a tie), or nil. folded compares fold()ed words.
func (m matcher) longest(kind Kind, toks []string, folded bool) *entry {
	if len(toks) == 0 {
		return nil
	}
	index := m.byWord
	if folded {
		index = m.byFolded
	}
	var best *entry
	for _, e := range index[toks[0]] {
		words := e.words
		if folded {
			words = e.folded
		}
		if e.kind == kind && len(words) <= len(toks) && slices.Equal(words, toks[:len(words)]) &&
			(best == nil || len(words) > len(best.words)) {
			best = e
		}
	}
	return best
}

// exact classifies toks by the exact rule (see the package comment), trying
// opt-out first so that no other kind can hide it.
func (m matcher) exact(toks []string) Intent {
	for _, kind := range []Kind{OptOut, Help, OptIn} {
		if in, ok := m.parse(kind, toks, false); ok {
			return in
		}
	}
	return Intent{}
}

// parse matches toks as one or more keywords of kind followed by arguments:
// "all" words and codes.
func (m matcher) parse(kind Kind, toks []string, folded bool) (Intent, bool) {
	var first *entry
	all := false
	i := 0
	for i < len(toks) {
		e := m.longest(kind, toks[i:], folded)
		if e == nil {
			break
		}
		if first == nil {
			first = e
		}
		all = all || e.scopeAll
		i += len(e.words)
	}
	if first == nil {
		return Intent{}, false
	}
	for _, arg := range toks[i:] {
		switch {
		case allWords[arg] || folded && foldedAllWords[arg]:
			all = true
		case isCode(arg): // "STOP 12345", "STOP 555-123-4567"
		default:
			return Intent{}, false // a sentence: "stop please", "quit playing"
		}
	}
	in := Intent{Kind: kind, Keyword: first.keyword, Language: first.lang}
	// Only a revocation is widened by ALL: "START ALL" re-subscribes to this
	// sender only, because consent given back should be read narrowly.
	if kind == OptOut && all {
		in.Scope = All
	}
	return in, true
}

// isCode reports whether a word is a program code or number, as in "STOP
// 12345": it has a digit, so it is not a word of a sentence.
func isCode(tok string) bool {
	return len(tok) <= maxCodeLen && strings.IndexFunc(tok, unicode.IsDigit) >= 0
}

func setOf(words ...string) map[string]bool {
	s := make(map[string]bool, len(words))
	for _, w := range words {
		s[w] = true
	}
	return s
}

func foldSet(s map[string]bool) map[string]bool {
	out := make(map[string]bool, len(s))
	for w := range s {
		out[fold(w)] = true
	}
	return out
}
