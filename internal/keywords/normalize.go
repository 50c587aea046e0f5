package keywords

import (
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Normalize returns the canonical form of an SMS body that keywords are
// matched against:
//
//   - compatibility forms are folded (NFKD): full-width ＳＴＯＰ, ligatures
//     and "fancy text" such as 𝐒𝐓𝐎𝐏 become plain STOP;
//   - diacritics are dropped (ARRÊT -> ARRET), as are zero-width and format
//     characters and emoji variation selectors;
//   - letters are upper-cased;
//   - runs of whitespace and control characters (newlines, tabs) become one
//     space;
//   - leading and trailing characters that are not letters or digits
//     (punctuation, emoji, ¡ and ¿) are trimmed.
//
// Inner punctuation and repeated letters are kept: "Stop. Thank you" becomes
// "STOP. THANK YOU" and STOPPPP stays STOPPPP (collapsing is fuzzy-only).
// Invalid UTF-8 bytes are dropped. Normalize is idempotent.
func Normalize(body string) string {
	body = strings.ToValidUTF8(body, "")
	var b strings.Builder
	b.Grow(len(body))
	pendingSpace := false
	for _, r := range norm.NFKD.String(body) {
		switch {
		case unicode.In(r, unicode.M, unicode.Cf):
			// After NFKD, diacritics are separate marks; Cf holds zero-width
			// spaces and joiners that phones insert inside words.
			continue
		case unicode.IsSpace(r) || unicode.IsControl(r) || unicode.In(r, unicode.Z):
			pendingSpace = true
			continue
		}
		if pendingSpace && b.Len() > 0 {
			b.WriteByte(' ')
		}
		pendingSpace = false
		// Upper-casing after NFKD and mark removal keeps this idempotent: no
		// upper-case letter decomposes further (checked over all code points).
		b.WriteRune(unicode.ToUpper(r))
	}
	return strings.TrimFunc(b.String(), func(r rune) bool { return !isWordRune(r) })
}

// isWordRune reports whether r can be part of a word. Apostrophe-like letters
// (ʼ) are not: they join words instead, see tokenize.
func isWordRune(r rune) bool {
	return (unicode.IsLetter(r) || unicode.IsNumber(r)) && !isApostrophe(r)
}

func isApostrophe(r rune) bool {
	switch r {
	case '\'', '’', '‘', 'ʼ', '`':
		return true
	}
	return false
}

// tokenize splits a normalised body into words at every rune that is not a
// letter or digit, so "OPT-OUT", "OPT OUT" and "opt_out" all give [OPT OUT].
// An apostrophe between letters is dropped instead, so DON'T and DON’T both
// give DONT, which the negation check relies on.
func tokenize(s string) []string {
	var toks []string
	var word strings.Builder
	flush := func() {
		if word.Len() > 0 {
			toks = append(toks, word.String())
			word.Reset()
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case isWordRune(r):
			word.WriteRune(r)
		case isApostrophe(r) && word.Len() > 0 && i+1 < len(rs) && isWordRune(rs[i+1]):
			// Inside a word: drop it and keep the word going.
		default:
			flush()
		}
	}
	flush()
	return toks
}

// fold collapses runs of the same rune, so the held-down STOOOPPP and STOP
// compare equal. Keys on both sides must be folded: STOPP folds to STOP and
// ALL to AL.
func fold(s string) string {
	if !hasRepeat(s) {
		return s // most words: no copy (fold runs on every word, often twice)
	}
	var b strings.Builder
	b.Grow(len(s))
	var prev rune = -1
	for _, r := range s {
		if r != prev {
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}

func hasRepeat(s string) bool {
	var prev rune = -1
	for _, r := range s {
		if r == prev {
			return true
		}
		prev = r
	}
	return false
}

func foldAll(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = fold(t)
	}
	return out
}

// IsOneOf reports whether body, normalised and split into words like a
// keyword, is exactly one of words ("Yes!" and "ｙｅｓ" are YES). It is for
// short answers that are not keywords of their own, such as the YES that
// confirms a double opt-in.
func IsOneOf(body string, words []string) bool {
	got := tokenize(Normalize(body))
	if len(got) == 0 {
		return false
	}
	for _, w := range words {
		if slices.Equal(got, tokenize(Normalize(w))) {
			return true
		}
	}
	return false
}

// sentence is one sentence of a normalised body.
type sentence struct {
	toks     []string
	question bool // it ended with a question mark
}

// splitSentences splits a normalised body at sentence punctuation, so that
// "STOP!!! WHO IS THIS" is a request and a question.
func splitSentences(norm string) []sentence {
	var out []sentence
	start := 0
	for i, r := range norm {
		switch r {
		case '.', '!', '?', ';', '¿', '¡', '…':
			if toks := tokenize(norm[start:i]); len(toks) > 0 {
				out = append(out, sentence{toks: toks, question: r == '?'})
			}
			start = i + len(string(r))
		}
	}
	if toks := tokenize(norm[start:]); len(toks) > 0 {
		out = append(out, sentence{toks: toks})
	}
	return out
}
