package preview

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText writes the report for people; audience names the file in
// line references, as the starter's row reports do.
func (r *Report) WriteText(w io.Writer, audience string) error {
	ew := &errWriter{w: w}
	p := ew.printf
	p("preview of journey %q from %s at %s (scope %s): nothing is started or sent\n", r.Journey, audience, stamp(r.At), r.Scope)
	for _, s := range r.Samples {
		consent := s.Consent
		if consent == "" {
			consent = "none recorded"
		}
		p("\n%s:%d: %s, consent: %s", audience, s.Line, s.Phone, consent)
		if s.Blocked != "" {
			p(", first message refused: %s\n", s.Blocked)
		} else {
			p(", first message at %s\n", stamp(s.FirstSend))
		}
		for _, m := range s.Messages {
			p("  steps[%d]: %s, %s\n", m.Step, m.Encoding, plural(m.Segments, "segment"))
			p("    %s\n", strings.ReplaceAll(m.Body, "\n", "\n    "))
		}
	}
	p("\nrows %d: valid %d, duplicates %d, skipped %d\n", r.Rows, r.Valid, r.Duplicates.Count, skippedCount(r.Skipped))
	for _, g := range append([]Group{r.Duplicates}, r.Skipped...) {
		if g.Count > 0 {
			p("  %s: %s: %s\n", plural(g.Count, "row"), g.Reason, lines(g))
		}
	}
	c := r.Consent
	p("consent in %s: opted out %d, pending %d, unconfirmed %d, confirmed %d; first message refused %d, sent %d\n",
		r.Scope, c.OptedOut, c.Pending, c.Unconfirmed, c.Confirmed, c.Blocked, c.WouldSend)
	for _, s := range r.Steps {
		p("steps[%d] (%s): %s, %s, %d as UCS-2\n", s.Step, s.Kind, plural(s.Messages, "message"), plural(s.Segments, "segment"), s.UCS2)
	}
	p("segments in all: %d\n", r.Segments)
	if len(r.Deferred) == 0 {
		p("first messages outside the sending window: none\n")
	}
	for _, d := range r.Deferred {
		p("first messages outside the sending window (%s): %d, going from %s to %s\n", d.Rule, d.Count, stamp(d.Earliest), stamp(d.Latest))
	}
	return ew.err
}

func skippedCount(gs []Group) int {
	n := 0
	for _, g := range gs {
		n += g.Count
	}
	return n
}

// lines lists a group's kept line numbers, saying when there are more.
func lines(g Group) string {
	s := make([]string, len(g.Lines))
	for i, l := range g.Lines {
		s[i] = fmt.Sprint(l)
	}
	out := "line " + strings.Join(s, ", ")
	if len(g.Lines) > 1 {
		out = "lines " + strings.Join(s, ", ")
	}
	if more := g.Count - len(g.Lines); more > 0 {
		out += fmt.Sprintf(" and %d more", more)
	}
	return out
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func stamp(t time.Time) string { return t.Format(time.RFC3339) }

// errWriter keeps the first write error, so printing reads straight.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
