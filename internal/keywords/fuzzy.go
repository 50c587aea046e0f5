package keywords

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// maxFuzzyWords bounds one fuzzy request. The closed vocabulary already
// rejects any sentence with a word it does not know; this only stops long
// chains of glue words ("please please remove me from your list thank you").
const maxFuzzyWords = 10

// maxSentencesWords bounds a body read sentence by sentence ("Stop texting
// me. I never signed up for this"): longer bodies are letters, not replies.
const maxSentencesWords = 30

// minTypoLen is the shortest word, and keyword, that one typo may turn into
// a keyword: at 3 letters almost every edit is another real word (END/AND).
const minTypoLen = 4

// role is what a known word contributes to a fuzzy opt-out.
type role uint16

const (
	glue     role = 1 << iota // courtesy, pronouns, modals; phrase words
	courtesy                  // politeness and emphasis only: "cancel please"
	object                    // what is being sent; lets CANCEL/END/QUIT count
	contact                   // "DON'T <contact> ME" is itself a request to stop
	self                      // the recipient or their listing
	allScope                  // widens the opt-out to Scope All
	negation
	want   // "I want to cancel"; "I don't want these texts"
	more   // "no more", "no longer", "ne ... plus", "nicht mehr"
	remove // "remove me", "retirez-moi", "sáquenme"
	leave  // "leave me alone", "laissez-moi tranquille"
	alone
	wrong  // "wrong number", "mauvais numéro"
	number // the recipient's number
)

// vocabGroups is the closed vocabulary of fuzzy mode. A body with any other
// word (apart from opt-out keywords and their typos) is never a fuzzy opt-out.
// Words may sit in several groups; their roles add up, and a word's language
// is that of its first group (it names the language of a phrase).
var vocabGroups = []struct {
	lang  string
	roles role
	words []string
}{
	{"en", glue, []string{
		"PLEASE", "PLS", "PLZ", "KINDLY", "THANK", "THANKS", "THANKYOU", "THX", "TY",
		"OK", "OKAY", "HI", "HELLO", "HEY", "SORRY", "NOW", "ASAP", "IMMEDIATELY", "JUST", "ALREADY",
		"I", "IM", "ID", "YOU", "U", "IT", "THIS", "THAT", "THESE", "THOSE", "THE", "YOUR", "FROM", "TO", "ON", "AND", "HAVE", "GOT",
		"ANY", "ANYMORE", "AGAIN", "EVER", "LIKE", "WOULD", "CAN", "COULD", "WILL", "HOW", "DO", "SENDING",
		"SAID", "SAY", "TOLD", "TAKE", "OFF", "OPT", "OUT", "UNSUB", "INTERESTED", "RIGHT", "SERIOUSLY",
	}},
	{"en", object, []string{
		"TEXT", "TEXTS", "TEXTING", "MESSAGE", "MESSAGES", "MESSAGING", "MSG", "MSGS", "SMS",
		"ALERT", "ALERTS", "NOTIFICATIONS", "SUBSCRIPTION", "PROMO", "PROMOS", "PROMOTIONS", "SENDING", "CONSENT",
		"ADS", "SPAM", "SPAMMING", "MARKETING", "CONTACTING", "CALLING", "CALLS", "RECEIVE", "RECEIVING",
	}},
	// Not CALL or EMAIL: "don't call me, text me" must not opt out of texts.
	{"en", contact, []string{"TEXT", "MESSAGE", "MSG", "SMS", "CONTACT", "SEND", "SPAM"}},
	{"", courtesy, []string{
		"PLEASE", "PLS", "PLZ", "KINDLY", "THANK", "THANKS", "THANKYOU", "THX", "TY", "YOU", "OK", "OKAY", "HI", "HELLO", "HEY",
		"SORRY", "NOW", "ASAP", "IMMEDIATELY", "POR", "FAVOR", "GRACIAS", "YA", "AHORA", "SVP", "STP", "SIL", "VOUS", "PLAIT",
		"MERCI", "MAINTENANT", "OBRIGADO", "OBRIGADA", "AGORA", "BITTE", "DANKE", "SOFORT", "JETZT",
	}},
	{"en", self, []string{"ME", "MY", "US", "PHONE", "LIST", "LISTS", "MAILING"}},
	{"en", number, []string{"NUMBER"}},
	{"en", allScope, []string{"ALL", "EVERYTHING"}},
	{"en", negation, []string{
		"DONT", "NOT", "NEVER", "CANT", "CANNOT", "WONT", "DIDNT", "DOESNT", "ISNT", "ARENT",
		"WASNT", "WERENT", "SHOULDNT", "WOULDNT", "COULDNT", "AINT", "NO",
	}},
	{"en", want, []string{"WANT", "WANNA", "LIKE"}},
	{"en", more, []string{"MORE", "LONGER"}},
	{"en", remove, []string{"REMOVE", "DELETE"}},
	{"en", leave, []string{"LEAVE"}},
	{"en", alone, []string{"ALONE"}},
	{"en", wrong, []string{"WRONG"}},

	{"es", glue, []string{"POR", "FAVOR", "GRACIAS", "YA", "DE", "LA", "LOS", "Y", "EL", "SU", "SUS", "HOLA", "AHORA", "EN", "A", "TODAS"}},
	{"es", object, []string{"MENSAJES", "MENSAJE", "TEXTOS", "PUBLICIDAD", "PROMOCIONES", "NOTIFICACIONES", "RECIBIR"}},
	{"es", contact, []string{"ENVIEN", "ENVIES", "ENVIAR", "MANDEN", "MANDES", "MANDAR", "ESCRIBAN", "ESCRIBAS", "CONTACTEN"}},
	{"es", self, []string{"MI", "LISTA"}},
	{"es", number, []string{"NUMERO"}},
	{"es", negation, []string{"NUNCA"}},
	{"es", want, []string{"QUIERO"}},
	{"es", more, []string{"MAS"}},
	{"es", remove, []string{"QUITAR", "QUITEN", "QUITENME", "SACAR", "SAQUEN", "SAQUENME", "ELIMINAR", "ELIMINEN", "BORRAR", "BORREN"}},
	{"es", leave, []string{"DEJAME", "DEJENME"}},
	{"es", alone, []string{"PAZ"}},
	{"es", wrong, []string{"EQUIVOCADO"}},

	{"fr", glue, []string{"SVP", "STP", "SIL", "VOUS", "PLAIT", "MERCI", "JE", "LE", "LES", "DES", "DU", "VOS", "VOTRE", "BONJOUR", "MAINTENANT", "TOUS", "ET"}},
	{"fr", object, []string{"TEXTO", "NOTIFICATIONS", "PUBLICITE", "PUB", "PUBS", "RECEVOIR"}},
	{"fr", contact, []string{"ENVOYER", "ENVOYEZ", "MENVOYER", "MENVOYEZ", "ECRIRE", "ECRIVEZ", "MECRIVEZ", "CONTACTER", "CONTACTEZ"}},
	{"fr", self, []string{"MOI", "MON", "MA", "LISTE"}},
	{"fr", negation, []string{"NON", "NE", "PAS", "JAMAIS"}},
	{"fr", want, []string{"VEUX", "VOUDRAIS"}},
	{"fr", more, []string{"PLUS"}},
	{"fr", remove, []string{"RETIREZ", "RETIRER", "SUPPRIMEZ", "SUPPRIMER", "ENLEVEZ", "ENLEVER"}},
	{"fr", leave, []string{"LAISSEZ", "LAISSE"}},
	{"fr", alone, []string{"TRANQUILLE"}},
	{"fr", wrong, []string{"MAUVAIS"}},

	{"pt", glue, []string{"OBRIGADO", "OBRIGADA", "DA", "DO", "SUA", "SEU", "SUAS", "AGORA", "OLA", "EM", "E"}},
	{"pt", object, []string{"MENSAGENS", "MENSAGEM", "PROMOCOES", "PUBLICIDADE", "NOTIFICACOES", "RECEBER"}},
	{"pt", contact, []string{"MANDE", "MANDEM", "ENVIE", "ENVIEM", "ESCREVAM", "ESCREVA"}},
	{"pt", self, []string{"MEU", "MINHA"}},
	{"pt", negation, []string{"NAO"}},
	{"pt", want, []string{"QUERO"}},
	{"pt", more, []string{"MAIS"}},
	{"pt", remove, []string{"REMOVER", "REMOVAM", "RETIRAR", "TIRAR", "TIREM", "EXCLUIR", "EXCLUAM"}},
	{"pt", leave, []string{"DEIXE", "DEIXEM"}},
	{"pt", wrong, []string{"ERRADO"}},

	{"de", glue, []string{"BITTE", "DANKE", "ICH", "SIE", "VON", "IHRE", "IHREN", "DER", "DIE", "DEN", "DAS", "SOFORT", "JETZT", "HALLO", "AUS", "IN", "UND"}},
	{"de", object, []string{"NACHRICHTEN", "NACHRICHT", "WERBUNG", "NEWSLETTER", "ERHALTEN"}},
	{"de", contact, []string{"SCHREIBEN", "SENDEN", "SCHICKEN", "KONTAKTIEREN"}},
	{"de", self, []string{"MICH", "MIR", "MEINE", "LISTE"}},
	{"de", number, []string{"NUMMER"}},
	{"de", negation, []string{"NICHT", "KEIN", "KEINE", "NIE"}},
	{"de", want, []string{"MOCHTE"}},
	{"de", more, []string{"MEHR"}},
	{"de", remove, []string{"ENTFERNEN", "LOSCHEN", "STREICHEN"}},
	{"de", leave, []string{"LASS", "LASSEN"}},
	{"de", alone, []string{"RUHE"}},
	{"de", wrong, []string{"FALSCHE", "FALSCH"}},

	{"", allScope, []string{"TOUT", "TOUS", "TODO", "TODOS", "TODAS", "TUDO", "ALLE", "ALLES"}},
}

type vocabWord struct {
	word  string
	lang  string
	roles role
}

// vocabulary is keyed by fold(word), like the tokens it is looked up with.
var vocabulary = func() map[string]vocabWord {
	v := make(map[string]vocabWord)
	for _, g := range vocabGroups {
		for _, w := range g.words {
			k := fold(w)
			lang := v[k].lang
			if lang == "" {
				lang = g.lang
			}
			v[k] = vocabWord{word: w, lang: lang, roles: v[k].roles | g.roles}
		}
	}
	return v
}()

// typoExclusions are real words one typo away from a keyword (ATOP/STOP,
// STAIR/SAIR, ARREST/ARRET); a recipient who sends them meant them.
var typoExclusions = foldSet(setOf(
	"ATOP", "STROP", "STOMP", "QUITE", "QUIET", "QUILT", "QUINT", "QUITS",
	"ARREST", "CARET", "HAJA", "BAIA", "SALTO", "ALTOS", "STAIR", "SARI", "SAIT",
	"SPARE", "PARES", "PARED", "PAREN", "PARIS", "PAREI", "PATE", "PARER",
))

// typoAlone are common words one typo away from a keyword that mean the
// keyword only on their own: "¡Para!" is "Stop!", "para mí" is "for me".
var typoAlone = foldSet(setOf("PARA"))

// negationSkips may sit between a negation and what it negates.
var negationSkips = setOf("EVER", "ME", "MOI", "MIR", "MICH")

// questionWords open a question: "Stop!!! Who is this", "stop why".
var questionWords = setOf(
	"WHO", "WHOS", "WHAT", "WHATS", "WHY", "HOW", "WHERE", "WHEN", "WHICH",
	"QUI", "QUOI", "POURQUOI", "COMMENT", "QUIEN", "QUE", "PORQUE", "COMO", "QUEM", "WER", "WAS", "WARUM", "WIE",
)

// fuzzy looks for a clear opt-out in a body that exact matching rejected:
// the whole body as one request, or else sentence by sentence. Help and
// opt-in are never fuzzy.
func (m matcher) fuzzy(norm string, toks []string) (Intent, bool) {
	if in, ok := m.request(toks, len(toks)); ok {
		return in, true
	}
	if len(toks) > maxSentencesWords {
		return Intent{}, false
	}
	// First the requests, which most bodies lack (and request rejects at
	// the first unknown word); only then the checks on the other sentences.
	sentences := splitSentences(norm)
	var req Intent
	isReq := make([]bool, len(sentences))
	questions, others := 0, 0
	for k, s := range sentences {
		in, ok := m.request(s.toks, len(toks))
		if !ok {
			if i := slices.IndexFunc(s.toks, func(t string) bool { return questionWords[t] }); i > 0 {
				if in, ok = m.request(s.toks[:i], len(toks)); ok { // "stop why", "Stop who is this"
					questions++
				}
			}
		}
		if !ok {
			continue
		}
		isReq[k] = true
		if req.Kind == None {
			req = in
		}
		if in.Scope == All {
			req.Scope = All
		}
	}
	if req.Kind == None {
		return Intent{}, false
	}
	for _, t := range toks {
		if e := m.singleWord(t, fold(t)); e != nil && (e.kind != OptOut || e.custom()) {
			return Intent{}, false // START, HELP, a sender's word: not ours to guess
		}
	}
	for k, s := range sentences {
		switch {
		case isReq[k]:
		case m.mentionsOptOut(s.toks):
			return Intent{}, false // "Stop! Don't stop the deals", "Stop. I can't stop smiling"
		case s.question || questionWords[s.toks[0]]:
			questions++
		case m.unclear(s.toks) || m.courtesy(s.toks):
			// "No! Stop texting me", "Stop. Thank you so much"
		default:
			others++
		}
	}
	switch {
	case others > 0 && req.Rule != RuleObject && req.Rule != RulePhrase:
		// Only a request naming the messages or the recipient is clear
		// next to a statement: "Stop! You guys are great" is not.
		return Intent{}, false
	case questions > 0:
		req.Rule = RuleQuestion
	}
	return req, true
}

// mentionsOptOut reports whether a sentence has an opt-out keyword, a typo
// of one, or a word that starts a request phrase.
func (m matcher) mentionsOptOut(toks []string) bool {
	folded := foldAll(toks)
	for i, f := range folded {
		if e, _ := m.keywordAt(toks[i:], folded[i:]); e != nil || m.typoWithin(f, len(folded)) != nil {
			return true
		}
		if v, ok := vocabulary[f]; ok && v.roles&(remove|leave|wrong) != 0 {
			return true
		}
	}
	return false
}

// request reads toks, part of a message of total words, as one short
// request built from the closed vocabulary; see the package comment for
// the rules.
func (m matcher) request(toks []string, total int) (Intent, bool) {
	if len(toks) > maxFuzzyWords {
		return Intent{}, false
	}
	folded := foldAll(toks)
	// Keyword bodies with held-down letters: STOPPPP, STOOOP ALL, OPTT OUT.
	if in, ok := m.parse(OptOut, folded, true); ok {
		in.Confidence, in.Rule = Fuzzy, RuleTypo
		return in, true
	}

	// Give every word a meaning or give up: an unknown word means a sentence
	// about something else ("stop by the store later").
	words := make([]string, len(folded))
	roles := make([]role, len(folded))
	langs := make([]string, len(folded))
	kws := make([]*entry, len(folded))
	typo := make([]bool, len(folded))
	for i := 0; i < len(folded); {
		if e, exact := m.keywordAt(toks[i:], folded[i:]); e != nil {
			if e.kind != OptOut || e.custom() {
				return Intent{}, false // START, HELP, a sender's word: not ours to guess
			}
			kws[i], typo[i] = e, !exact
			i += len(e.words)
			continue
		}
		f := folded[i]
		if v, ok := vocabulary[f]; ok {
			words[i], roles[i], langs[i] = v.word, v.roles, v.lang
		} else if e := m.typoWithin(f, total); e != nil {
			kws[i], typo[i] = e, true
		} else {
			return Intent{}, false
		}
		i++
	}
	has := func(w string) bool { return slices.Contains(words, w) }
	hasRole := func(r role) bool { return slices.ContainsFunc(roles, func(x role) bool { return x&r != 0 }) }

	// Negations. Those in front of a keyword reject the body outright;
	// those that are requests themselves become triggers below.
	var noMore, negContact, negWant bool
	ne := false // French "ne ... pas" / "ne ... plus": one negation
	for i := range words {
		if roles[i]&negation == 0 {
			continue
		}
		if words[i] == "PAS" && ne {
			continue
		}
		if words[i] == "NE" {
			ne = true
			if hasRole(more) {
				noMore = true // "ne plus recevoir", "je ne veux plus de messages"
				continue
			}
		}
		j := i + 1
		for j < len(words) && negationSkips[words[j]] {
			j++ // "don't ever text me", "no me envíen"
		}
		var next string
		var nextRoles role
		if j < len(words) {
			next, nextRoles = words[j], roles[j]
		}
		switch {
		case nextRoles&more != 0:
			noMore = true // "no more", "no longer", "nicht mehr", "não mais"
		case (next == "THANKS" || next == "THANK" || next == "MERCI" || next == "GRACIAS" || next == "DANKE" ||
			next == "OBRIGADO" || next == "OBRIGADA" || next == "INTERESTED"):
			// A polite decline, not a negated request.
		case nextRoles&contact != 0:
			negContact = true
		case nextRoles&want != 0 && next != "LIKE":
			negWant = true
		case nextRoles&object != 0 && (words[i] == "NO" || words[i] == "KEIN" || words[i] == "KEINE"):
			noMore = true // "no spam please", "keine Werbung"
		default:
			return Intent{}, false // "don't stop", "do not unsubscribe me", "no, stop"
		}
	}

	in := Intent{Kind: OptOut, Language: "en", Confidence: Fuzzy, Rule: RulePhrase}
	if l := slices.IndexFunc(langs, func(l string) bool { return l != "" && l != "en" }); l >= 0 {
		in.Language = langs[l] // "retirez-moi": fr; "no me envíen más": es
	}
	// CANCEL, END and QUIT need a messaging word, a wish, or nothing but
	// courtesy around them: "cancel please", not "cancel it".
	onlyCourtesy := !slices.ContainsFunc(roles, func(r role) bool { return r != 0 && r&courtesy == 0 })
	trigger := slices.IndexFunc(kws, func(e *entry) bool {
		return e != nil && (!e.weak || hasRole(object|want) || onlyCourtesy)
	})
	named := hasRole(object | self | contact | number)
	switch {
	case trigger >= 0:
		e := kws[trigger]
		in.Keyword, in.Language = e.keyword, e.lang
		if e.scopeAll {
			in.Scope = All
		}
		switch {
		case typo[trigger]:
			in.Rule = RuleTypo
		case named:
			in.Rule = RuleObject
		default:
			in.Rule = RuleCourtesy
		}
	case has("UNSUB"):
		in.Keyword, in.Rule = "UNSUBSCRIBE", RuleTypo
	case has("OPT") && has("OUT"):
		in.Keyword = "OPT OUT"
	case hasRole(remove) && (hasRole(self|number) || len(words) == 1 && words[0] == "REMOVE"):
		in.Keyword = "REMOVE"
	case has("TAKE") && has("OFF") && hasRole(self):
		in.Keyword = "TAKE ME OFF"
	case hasRole(leave) && hasRole(alone):
		in.Keyword = "LEAVE ME ALONE"
	case hasRole(wrong) && hasRole(number):
		// Whoever consented no longer has this number: stop texting it.
		in.Keyword = "WRONG NUMBER"
	case (noMore || words[0] == "PLUS") && hasRole(object|contact): // fr "plus de messages"
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

// keywordAt returns the keyword of any kind that covers the most leading
// words of toks, compared as written or else with held-down letters
// collapsed (folded); exact reports the former. STOPP is German STOPP,
// STOPPP is English STOP.
func (m matcher) keywordAt(toks, folded []string) (e *entry, exact bool) {
	for _, kind := range []Kind{OptOut, Help, OptIn} {
		if c := m.longest(kind, toks, false); c != nil && (e == nil || len(c.words) > len(e.words)) {
			e = c
		}
	}
	if e != nil {
		return e, true
	}
	for _, kind := range []Kind{OptOut, Help, OptIn} {
		if c := m.longest(kind, folded, true); c != nil && (e == nil || len(c.folded) > len(e.folded)) {
			e = c
		}
	}
	return e, false
}

// unclearReplies might be a wish to stop but are not clear; the default
// mode answers them with a suggestion to text STOP. Matched on folded words
// after dropping greetings and "please".
var unclearReplies = func() map[string]string {
	byLang := map[string][]string{
		"en": {"NO", "NOPE", "NAH", "NO THANKS", "NO THANK YOU", "NO THX", "NO TY", "NOT INTERESTED", "IM NOT INTERESTED",
			"NO MORE", "WHY", "WHY ME", "ENOUGH", "CANCEL IT", "END IT", "QUIT IT", "TOO MANY TEXTS", "TOO MANY MESSAGES",
			"HOW DID YOU GET MY NUMBER", "WHO GAVE YOU MY NUMBER", "WHY ARE YOU TEXTING ME", "I NEVER SIGNED UP"},
		"es": {"NO GRACIAS", "NO ME INTERESA", "POR QUE", "NO MAS", "BASTA", "YA BASTA"},
		"fr": {"NON", "NON MERCI", "PAS INTERESSE", "POURQUOI", "CA SUFFIT", "ASSEZ"},
		"pt": {"NAO", "NAO OBRIGADO", "NAO OBRIGADA", "NAO TENHO INTERESSE", "CHEGA"},
		"de": {"NEIN", "NEIN DANKE", "KEIN INTERESSE", "WARUM", "NICHT INTERESSIERT"},
	}
	out := map[string]string{}
	for _, lang := range languageCodes {
		for _, p := range byLang[lang] {
			out[strings.Join(foldAll(tokenize(p)), " ")] = lang
		}
	}
	return out
}()

// unclearFiller may surround an unclear reply without making it clear.
var unclearFiller = foldSet(setOf("PLEASE", "PLS", "OK", "OKAY", "HI", "HELLO", "HEY", "SORRY", "UM", "UMM", "LOL"))

// courtesy reports whether toks are only glue words: "Thank you", "ok".
func (m matcher) courtesy(toks []string) bool {
	for _, t := range toks {
		if v, ok := vocabulary[fold(t)]; !ok || v.roles != glue {
			return false
		}
	}
	return true
}

// unclear reports whether toks are an unclear reply such as "no" or "why?".
func (m matcher) unclear(toks []string) bool {
	_, ok := m.unclearIntent(toks)
	return ok
}

func (m matcher) unclearIntent(toks []string) (Intent, bool) {
	if len(toks) > maxFuzzyWords {
		return Intent{}, false
	}
	var words []string
	for _, f := range foldAll(toks) {
		if !unclearFiller[f] && (len(words) == 0 || words[len(words)-1] != f) { // "no no no"
			words = append(words, f)
		}
	}
	phrase := strings.Join(words, " ")
	lang, ok := unclearReplies[phrase]
	if !ok {
		return Intent{}, false
	}
	return Intent{Kind: SuggestOptOut, Keyword: phrase, Language: lang, Confidence: Fuzzy, Rule: RuleUnclear}, true
}

// singleWord returns the first one-word keyword of any kind that is tok, or
// else whose folded form is f: STOPP is German STOPP, STOPPP is English STOP.
func (m matcher) singleWord(tok, f string) *entry {
	for _, e := range m.byWord[tok] {
		if len(e.words) == 1 {
			return e
		}
	}
	for _, e := range m.byFolded[f] {
		if len(e.folded) == 1 {
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
	got := []rune(f)
	for _, e := range m.typos {
		if oneTypo(got, e.runes) {
			return e
		}
	}
	return nil
}

// typoWithin is typo for a word of a text of n words.
func (m matcher) typoWithin(f string, n int) *entry {
	if n > 1 && typoAlone[f] {
		return nil
	}
	return m.typo(f)
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
