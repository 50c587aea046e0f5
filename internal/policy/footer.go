package policy

import (
	"slices"
	"strings"
	"unicode"

	"github.com/stopline/stopline/internal/keywords"
)

// FooterSettings are a sender's opt-out instruction settings.
type FooterSettings struct {
	// Language picks the default footer: "en", "fr", "es", "pt", "de"
	// (a region suffix such as "fr-CA" is ignored). Others get English.
	Language string
	// Footer replaces the default footer, e.g. "STOP au 36111".
	Footer string
	// AltInstruction is how recipients of a sender that cannot take keyword
	// replies opt out: an alphanumeric sender ID, or a short code without
	// keyword handling. E.g. "Text STOP to 12345" or "Call 0800 123 456 to
	// opt out". When set, it is the only instruction that counts and the one
	// appended, because "Reply STOP" to such a sender goes nowhere.
	AltInstruction string
}

// defaultFooters are the footers appended when a sender sets none. Each names
// the keyword the keyword engine recognises in that language (STOPP is read
// as STOP, SAIR and BAJA are opt-out words), so the instruction works when
// followed. English is CTIA's wording ("Reply STOP to opt out").
var defaultFooters = map[string]string{
	"en": "Reply STOP to opt out.",
	"fr": "Répondez STOP pour vous désinscrire.",
	"es": "Responda BAJA para darse de baja.",
	"pt": "Responda SAIR para sair.",
	"de": "Antworten Sie STOPP zum Abmelden.",
}

// DefaultFooter returns the default footer for a language, English when the
// language has none.
func DefaultFooter(language string) string {
	lang := strings.ToLower(strings.TrimSpace(language))
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i]
	}
	if f, ok := defaultFooters[lang]; ok {
		return f
	}
	return defaultFooters["en"]
}

// FooterSeparator goes between a body and the footer appended to it. A
// newline rather than a space sets the instruction apart from the offer, so
// it reads as an instruction and not as part of the copy, and in GSM-7 it
// costs the same single septet as a space.
const FooterSeparator = "\n"

// EnsureOptOutInstructions returns body with opt-out instructions: body
// itself when it already has them, else body (trailing whitespace trimmed),
// FooterSeparator and the footer; added reports whether the footer was
// appended. The footer is s.AltInstruction if set, else s.Footer, else the
// default footer of s.Language.
//
// Which bodies already have instructions:
//   - with AltInstruction set, only bodies containing that text;
//   - otherwise bodies containing s.Footer, or for which
//     HasOptOutInstructions is true.
//
// Text is compared ignoring case, diacritics, punctuation and spacing.
// It is meant for marketing steps; transactional steps get a footer only
// when the sender configures one, which is for the caller to decide.
func EnsureOptOutInstructions(body string, s FooterSettings) (string, bool) {
	footer := strings.TrimSpace(s.AltInstruction)
	present := false
	if footer != "" {
		present = containsText(body, footer)
	} else {
		footer = strings.TrimSpace(s.Footer)
		if footer != "" && containsText(body, footer) {
			present = true
		} else {
			present = HasOptOutInstructions(body)
		}
		if footer == "" {
			footer = DefaultFooter(s.Language)
		}
	}
	if present {
		return body, false
	}
	trimmed := strings.TrimRightFunc(body, unicode.IsSpace)
	if trimmed == "" {
		return footer, true
	}
	return trimmed + FooterSeparator + footer, true
}

// HasOptOutInstructions reports whether body tells the recipient how to opt
// out by keyword or link, in English, French, Spanish, Portuguese or German.
//
// A missed instruction only costs a duplicate footer, while a false match
// would send a marketing SMS without one. So bare keywords do not count
// ("Don't stop shopping!", "precios a la baja"): a keyword counts only in an
// instruction, after a verb ("Reply STOP", "Text the word STOP", "Répondez
// STOP", "Antworten Sie STOPP") or before a number or an opt-out word ("STOP
// au 36111", "STOP SMS 36180", "STOP to end"). Opt-out phrases count
// anywhere: unsubscribe, opt out, désinscrire, désabonner, darse de baja,
// descadastrar, abmelden, abbestellen.
func HasOptOutInstructions(body string) bool {
	toks := words(body)
	for i, t := range toks {
		if isOptOutPhrase(toks, i) {
			return true
		}
		if !optOutKeywords[t] || i > 0 && negations[toks[i-1]] {
			continue
		}
		// The verb comes right before the keyword, or with only words
		// that name it between ("Reply with STOP", "Text the word STOP"):
		// "Text us to stop by" and "Reply YES to stop missing out" are copy.
		for j := i - 1; j >= max(0, i-4); j-- {
			if instructionVerbs[toks[j]] {
				return true
			}
			if !keywordFillers[toks[j]] {
				break
			}
		}
		if keywordTarget(toks[i+1:]) {
			return true
		}
	}
	return false
}

// keywordFillers may stand between an instruction verb and its keyword.
var keywordFillers = set(
	"WITH", "THE", "WORD", "JUST", // en
	"PAR", "LE", "MOT", // fr
	"CON", "LA", "PALABRA", "COM", "A", "PALAVRA", "O", // es, pt
	"SIE", "MIT", "DEM", "WORT", // de
)

// optOutKeywords are the keywords an instruction tells recipients to send.
// STOP and its translations only: CANCEL, END or QUIT alone are too common
// in copy to mark an instruction.
var optOutKeywords = set("STOP", "STOPP", "STOPALL", "ARRET", "BAJA", "SAIR", "PARAR")

// instructionVerbs introduce a keyword to send: "Reply STOP".
var instructionVerbs = set(
	"REPLY", "TEXT", "TXT", "SEND", "RESPOND", // en
	"REPONDEZ", "REPONDRE", "REPONDS", "ENVOYEZ", "ENVOYER", "ENVOIE", "TAPEZ", // fr
	"RESPONDA", "RESPONDE", "RESPONDER", "ENVIA", "ENVIE", "ENVIAR", "ESCRIBA", "ESCREVA", // es, pt
	"ANTWORTEN", "ANTWORTE", "SENDEN", "SENDE", "SCHREIBEN", // de
)

// negations in front of a keyword make it copy, not an instruction:
// "non-stop deals", "don't stop now".
var negations = set("NON", "NO", "NOT", "DONT", "NEVER", "NUNCA", "NICHT", "NAO")

// keywordLinks may sit between a keyword and where to send it: "STOP SMS au
// 36180", "BAJA al 12345", "STOPP an 12345".
var keywordLinks = set("SMS", "AU", "AL", "A", "TO", "AN", "PARA", "AT", "ON")

// keywordEnds follow "STOP to" in an instruction: "STOP to end", "STOP to
// opt out", "STOP to unsubscribe".
var keywordEnds = set("END", "OPT", "UNSUBSCRIBE", "CANCEL", "QUIT", "STOP")

// keywordTarget reports whether the words after a keyword name where or why
// to send it: up to two link words, then a number of 3 digits or more (a
// short code or phone number, not "24h" or "2") or, after "to", an opt-out
// word.
func keywordTarget(after []string) bool {
	for i, t := range after {
		if i > 2 {
			return false
		}
		if len(t) >= 3 && !strings.ContainsFunc(t, func(r rune) bool { return r < '0' || r > '9' }) {
			return true
		}
		if i > 0 && keywordEnds[t] && after[i-1] == "TO" {
			return true
		}
		if !keywordLinks[t] {
			return false
		}
	}
	return false
}

// isOptOutPhrase reports whether an opt-out phrase starts at toks[i].
func isOptOutPhrase(toks []string, i int) bool {
	t := toks[i]
	next := func(k int) string {
		if i+k < len(toks) {
			return toks[i+k]
		}
		return ""
	}
	switch {
	case t == "UNSUBSCRIBE", t == "OPTOUT", t == "OPT" && next(1) == "OUT":
		return true
	case t == "DE" && next(1) == "BAJA": // darse de baja, dar de baja
		return true
	}
	for _, p := range optOutPrefixes {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// optOutPrefixes catch the inflections of opt-out verbs: désinscrire,
// désinscription, désabonnement, descadastrar, abmelden, Abmeldung,
// abbestellen.
var optOutPrefixes = []string{"DESINSCRI", "DESABONN", "DESCADASTR", "ABMELD", "ABBESTELL"}

// words splits text into upper-case words without diacritics, the way the
// keyword engine reads inbound messages ("Répondez « STOP »" -> [REPONDEZ
// STOP]). Apostrophes are dropped rather than split at, so "don't" is one
// word, DONT, as in the keyword engine.
func words(text string) []string {
	norm := strings.Map(func(r rune) rune {
		switch r {
		case '\'', '’', '‘', 'ʼ', '`':
			return -1
		}
		return r
	}, keywords.Normalize(text))
	return strings.FieldsFunc(norm, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	})
}

// containsText reports whether text contains the words of sub, in order and
// adjacent; or sub itself, when it has no words ("☎ 📧"), so that a body
// that got such a footer once is not given it again.
func containsText(text, sub string) bool {
	want := words(sub)
	if len(want) == 0 {
		return strings.Contains(text, sub)
	}
	have := words(text)
	for i := 0; i+len(want) <= len(have); i++ {
		if slices.Equal(have[i:i+len(want)], want) {
			return true
		}
	}
	return false
}

func set(items ...string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, s := range items {
		m[s] = true
	}
	return m
}
