package keywords

import (
	"strings"
	"unicode"
)

// maxHeadLen bounds the text before a signature that is read on its own: a
// complete request is short, and the bound keeps long bodies linear.
const maxHeadLen = 1024

// signaturePrefixes start the lines that phones and mail apps append,
// compared after Normalize.
var signaturePrefixes = []string{
	"SENT FROM ", "SENT WITH ", "SENT VIA ", "GET OUTLOOK FOR ",
	"ENVOYE DE ", "ENVOYE DEPUIS ", "ENVIADO DESDE ", "ENVIADO DE ", "ENVIADO DO ", "VON MEINEM ", "GESENDET VON ",
}

// heads returns the texts before each line that may start a signature or
// quoted text (a blank line, "Sent from my iPhone", "Get Outlook for iOS",
// a line starting with "--", or a quoted line starting with ">"), when
// something follows that line. Classify reads each on its own: the person
// wrote what comes before.
func heads(body string) []string {
	last := strings.LastIndexFunc(body, func(r rune) bool { return !unicode.IsSpace(r) })
	var out []string
	prevCut := false
	for i := strings.IndexByte(body, '\n'); i >= 0 && i < maxHeadLen && i < last; {
		line := body[i+1:]
		next := strings.IndexByte(line, '\n')
		if next >= 0 {
			line = line[:next]
		}
		isCut := cut(line)
		if isCut && !prevCut && strings.TrimSpace(body[:i]) != "" {
			out = append(out, body[:i])
		}
		prevCut = isCut
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return out
}

// ownLines returns the lines of a multi-line body that the person wrote:
// not blank, not a signature or quoted line. Within maxHeadLen, to stay
// linear.
func ownLines(body string) []string {
	if len(body) > maxHeadLen {
		body = body[:maxHeadLen]
	}
	if !strings.Contains(strings.TrimSpace(body), "\n") {
		return nil
	}
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if t := strings.TrimSpace(line); t != "" && !cut(line) {
			out = append(out, t)
		}
	}
	return out
}

// cut reports whether a line may start a signature or quoted text.
func cut(line string) bool {
	t := strings.TrimSpace(line)
	switch {
	case t == "", strings.HasPrefix(t, "--"), strings.HasPrefix(t, "—"), strings.HasPrefix(t, ">"):
		return true
	}
	if len(t) > 64 {
		t = t[:64]
	}
	n := Normalize(t) + " "
	for _, p := range signaturePrefixes {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}
