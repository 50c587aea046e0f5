package keywords

import (
	"slices"
	"unicode/utf8"
)

// maxFuzzyWords bounds fuzzy bodies. The closed vocabulary already rejects
// any sentence with a word it does not know; this only stops long chains of
// glue words ("please please remove me from your list thank you").
const maxFuzzyWords = 8

// minTypoLen is the shortest word, and keyword, that one typo may turn into
// a keyword: at 3 letters almost every edit is another real word (END/AND).
const minTypoLen = 4

// role is what a known word contributes to a fuzzy opt-out.
type role uint8

const (
	glue     role = 1 << iota // courtesy, pronouns, modals; phrase words
	object                    // what is being sent; lets CANCEL/END/QUIT count
	contact                   // "DON'T <contact> ME" is itself a request to stop
	self                      // the recipient or their listing
	allScope                  // widens the opt-out to Scope All
	negation
)

// vocabGroups is the closed vocabulary of fuzzy mode. A body with any other
// word (apart from opt-out keywords and their typos) is never a fuzzy opt-out.
// Words may sit in several groups; their roles add up.
var vocabGroups = []struct {
	roles role
	words []string
}{
	{glue, []string{
		"PLEASE", "PLS", "PLZ", "KINDLY", "THANK", "THANKS", "THANKYOU", "THX", "TY",
		"OK", "OKAY", "HI", "HELLO", "HEY", "SORRY", "NOW", "ASAP", "IMMEDIATELY", "JUST", "ALREADY",
		"POR", "FAVOR", "GRACIAS", "MERCI", "SVP", "SIL", "VOUS", "PLAIT", "BITTE", "DANKE", "OBRIGADO", "OBRIGADA",
		"I", "IM", "ID", "YOU", "U", "IT", "THIS", "THAT", "THESE", "THOSE", "THE", "YOUR", "FROM", "TO",
		"ANY", "ANYMORE", "AGAIN", "EVER", "MORE", "LONGER",
		"WANT", "WANNA", "WOULD", "LIKE", "CAN", "COULD", "WILL", "HOW", "DO", "SENDING",
		"SAID", "SAY", "TOLD", "WRONG",
		"REMOVE", "TAKE", "OFF", "LEAVE", "ALONE", "OPT", "OUT", "UNSUB", "INTERESTED",
	}},
	{object, []string{
		"TEXT", "TEXTS", "TEXTING", "MESSAGE", "MESSAGES", "MESSAGING", "MSG", "MSGS", "SMS",
		"ALERT", "ALERTS", "NOTIFICATIONS", "SUBSCRIPTION", "PROMO", "PROMOS", "PROMOTIONS",
		"ADS", "SPAM", "SPAMMING", "MARKETING", "CONTACTING", "CALLING", "CALLS",
	}},
	// Not CALL or EMAIL: "don't call me, text me" must not opt out of texts.
	{contact, []string{"TEXT", "MESSAGE", "MSG", "SMS", "CONTACT", "SEND", "SPAM"}},
	{self, []string{"ME", "MY", "US", "NUMBER", "PHONE", "LIST", "LISTS", "MAILING"}},
	{allScope, []string{"ALL", "EVERYTHING", "TOUT", "TOUS", "TODO", "TODOS", "TODAS", "TUDO", "ALLE", "ALLES"}},
	{negation, []string{
		"DONT", "NOT", "NEVER", "CANT", "CANNOT", "WONT", "DIDNT", "DOESNT", "ISNT", "ARENT",
		"WASNT", "WERENT", "SHOULDNT", "WOULDNT", "COULDNT", "AINT", "NO", "NON",
		"NAO", "NE", "PAS", "NICHT", "KEIN", "KEINE", "NUNCA", "JAMAIS", "NIE",
	}},
}

type vocabWord struct {
	word  string
	roles role
}

// vocabulary is keyed by fold(word), like the tokens it is looked up with.
var vocabulary = func() map[string]vocabWord {
	v := make(map[string]vocabWord)
	for _, g := range vocabGroups {
		for _, w := range g.words {
			k := fold(w)
			v[k] = vocabWord{word: w, roles: v[k].roles | g.roles}
		}
	}
	return v
}()

// typoExclusions are real words one typo away from a keyword (ATOP/STOP,
// STAIR/SAIR, ARREST/ARRET); a recipient who sends them meant them.
var typoExclusions = foldSet(setOf(
	"ATOP", "STROP", "STOMP", "QUITE", "QUIET", "QUILT", "QUINT", "QUITS",
	"ARREST", "CARET", "HAJA", "BAIA", "SALTO", "ALTOS", "STAIR", "SARI", "SAIT",
))

// fuzzy looks for an opt-out in a body that exact matching rejected; see the
// package comment for the rules. Help and opt-in are never fuzzy.
func (m matcher) fuzzy(toks []string) (Intent, bool) {
	if len(toks) > maxFuzzyWords {
		return Intent{}, false
	}
	folded := foldAll(toks)
	// Keyword bodies with held-down letters: STOPPPP, STOOOP ALL, OPTT OUT.
	if in, ok := m.parse(OptOut, folded, true); ok {
		in.Confidence = Fuzzy
		return in, true
	}

	// Give every word a meaning or give up: an unknown word means a sentence
	// about something else ("stop by the store later").
	words := make([]string, len(folded))
	roles := make([]role, len(folded))
	kws := make([]*entry, len(folded))
	for i, f := range folded {
		if e := m.singleWord(toks[i], f); e != nil {
			if e.kind != OptOut || e.custom() {
				return Intent{}, false // START, HELP, a sender's word: not ours to guess
			}
			kws[i] = e
		} else if v, ok := vocabulary[f]; ok {
			words[i], roles[i] = v.word, v.roles
		} else if e := m.typo(f); e != nil {
			kws[i] = e
		} else {
			return Intent{}, false
		}
	}
	has := func(w string) bool { return slices.Contains(words, w) }
	hasRole := func(r role) bool { return slices.ContainsFunc(roles, func(x role) bool { return x&r != 0 }) }

	// Negations. Those in front of a keyword reject the body outright;
	// those that are requests themselves become triggers below.
	var noMore, negContact, negWant bool
	for i := range words {
		if roles[i]&negation == 0 {
			continue
		}
		j := i + 1
		if j < len(words) && words[j] == "EVER" {
			j++ // "don't ever text me"
		}
		var next string
		var nextRoles role
		if j < len(words) {
			next, nextRoles = words[j], roles[j]
		}
		switch {
		case words[i] == "NO" && (next == "MORE" || next == "LONGER"):
			noMore = true
		case words[i] == "NO" && (next == "THANKS" || next == "THANK"),
			words[i] == "NOT" && next == "INTERESTED":
			// A polite decline, not a negated request.
		case nextRoles&contact != 0:
			negContact = true
		case next == "WANT":
			negWant = true
		default:
			return Intent{}, false // "don't stop", "do not unsubscribe me", "no, stop"
		}
	}

	in := Intent{Kind: OptOut, Language: "en", Confidence: Fuzzy}
	trigger := slices.IndexFunc(kws, func(e *entry) bool {
		return e != nil && (!e.weak || hasRole(object))
	})
	switch {
	case trigger >= 0:
		e := kws[trigger]
		in.Keyword, in.Language = e.keyword, e.lang
		if e.scopeAll {
			in.Scope = All
		}
	case has("UNSUB"):
		in.Keyword = "UNSUBSCRIBE"
	case has("OPT") && has("OUT"):
		in.Keyword = "OPT OUT"
	case has("REMOVE") && (hasRole(self) || len(words) == 1):
		in.Keyword = "REMOVE"
	case has("TAKE") && has("OFF") && hasRole(self):
		in.Keyword = "TAKE ME OFF"
	case has("LEAVE") && has("ALONE"):
		in.Keyword = "LEAVE ME ALONE"
	case has("WRONG") && has("NUMBER"):
		// Whoever consented no longer has this number: stop texting it.
		in.Keyword = "WRONG NUMBER"
	case noMore && hasRole(object):
		in.Keyword = "NO MORE"
	case negContact:
		in.Keyword = "DONT TEXT ME"
	case negWant && hasRole(object):
		in.Keyword = "DONT WANT"
	default:
		return Intent{}, false
	}
	if negWant && in.Keyword != "DONT WANT" {
		// "I don't want to stop", "I don't want you to remove me": the wish
		// is negated; only "I don't want these texts" is a request.
		return Intent{}, false
	}
	if hasRole(allScope) {
		in.Scope = All // "stop all texts", "remove me from all lists"
	}
	return in, true
}

// singleWord returns the first one-word keyword of any kind that is tok, or
// else whose folded form is f: STOPP is German STOPP, STOPPP is English STOP.
func (m matcher) singleWord(tok, f string) *entry {
	for _, e := range m.entries {
		if len(e.words) == 1 && e.words[0] == tok {
			return e
		}
	}
	for _, e := range m.entries {
		if len(e.folded) == 1 && e.folded[0] == f {
			return e
		}
	}
	return nil
}

// typo returns the first built-in one-word opt-out keyword that f is one typo
// away from.
func (m matcher) typo(f string) *entry {
	if utf8.RuneCountInString(f) < minTypoLen || typoExclusions[f] {
		return nil
	}
	for _, e := range m.entries {
		if e.kind == OptOut && !e.custom() && len(e.folded) == 1 &&
			utf8.RuneCountInString(e.folded[0]) >= minTypoLen && oneTypo([]rune(f), []rune(e.folded[0])) {
			return e
		}
	}
	return nil
}

// oneTypo reports whether got is want with one slip of the finger: one rune
// inserted or deleted, two adjacent runes swapped (STPO), or one rune replaced
// by a neighbouring QWERTY key (SROP). Replacements by far keys are not typos
// but other words: STEP, SHOP, SLOP.
func oneTypo(got, want []rune) bool {
	switch len(got) - len(want) {
	case 1:
		return dropsTo(got, want)
	case -1:
		return dropsTo(want, got)
	case 0:
		i := 0
		for i < len(got) && got[i] == want[i] {
			i++
		}
		if i == len(got) {
			return false // equal is not a typo
		}
		if slices.Equal(got[i+1:], want[i+1:]) {
			return adjacentKeys(got[i], want[i])
		}
		return i+1 < len(got) && got[i] == want[i+1] && got[i+1] == want[i] &&
			slices.Equal(got[i+2:], want[i+2:])
	}
	return false
}

// dropsTo reports whether removing one rune from long gives short.
func dropsTo(long, short []rune) bool {
	i := 0
	for i < len(short) && long[i] == short[i] {
		i++
	}
	return slices.Equal(long[i+1:], short[i:])
}

var qwertyNeighbours = map[rune]string{
	'Q': "WA", 'W': "QEAS", 'E': "WRSD", 'R': "ETDF", 'T': "RYFG", 'Y': "TUGH", 'U': "YIHJ", 'I': "UOJK", 'O': "IPKL", 'P': "OL",
	'A': "QWSZ", 'S': "AWEDZX", 'D': "SERFXC", 'F': "DRTGCV", 'G': "FTYHVB", 'H': "GYUJBN", 'J': "HUIKNM", 'K': "JIOLM", 'L': "KOP",
	'Z': "ASX", 'X': "ZSDC", 'C': "XDFV", 'V': "CFGB", 'B': "VGHN", 'N': "BHJM", 'M': "NJK",
}

func adjacentKeys(a, b rune) bool {
	for _, n := range qwertyNeighbours[a] {
		if n == b {
			return true
		}
	}
	return false
}
