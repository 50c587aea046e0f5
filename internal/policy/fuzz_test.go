package policy

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"
)

// Rendered bodies carry recipient attributes from CSV files: outside input.

func FuzzEnsureOptOutInstructions(f *testing.F) {
	for _, s := range []string{"", "Sale!", "Reply STOP", "Don't stop", "STOP au 36111", "Précios a la baja", "😀 deals\n\n"} {
		f.Add(s, "fr", "", "")
		f.Add(s, "en", "", "Text STOP to 12345")
	}
	f.Fuzz(func(t *testing.T, body, lang, footer, alt string) {
		s := FooterSettings{Language: lang, Footer: footer, AltInstruction: alt}
		got, added := EnsureOptOutInstructions(body, s)
		if !added {
			if got != body {
				t.Fatalf("not added but body changed: %q -> %q", body, got)
			}
		} else if !strings.HasPrefix(got, strings.TrimRightFunc(body, unicode.IsSpace)) {
			t.Fatalf("footer added but body %q is not a prefix of %q", body, got)
		}
		if again, addedAgain := EnsureOptOutInstructions(got, s); addedAgain || again != got {
			t.Fatalf("not idempotent: %q -> %q", got, again)
		}
		if strings.TrimSpace(alt) == "" && strings.TrimSpace(footer) == "" && !HasOptOutInstructions(got) {
			t.Fatalf("result %q has no opt-out instructions", got)
		}
	})
}

func FuzzSegments(f *testing.F) {
	for _, s := range []string{"", "hello", "€{}", "😀", "ж", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		enc, n := Segments(body)
		if body == "" {
			if n != 0 {
				t.Fatalf("empty body: %d segments", n)
			}
			return
		}
		units := 0
		for _, r := range body {
			if enc == GSM7 {
				units += 1 + btoi(gsmExtension[r])
			} else {
				units += utf16.RuneLen(r)
			}
		}
		single, part := gsmSingle, gsmPart
		if enc == UCS2 {
			single, part = ucsSingle, ucsPart
		}
		// Packing wastes at most one unit per part (a 2-unit character
		// that did not fit).
		lo, hi := (units+part-1)/part, (units+part-2)/(part-1)
		switch {
		case units <= single && n != 1:
			t.Fatalf("%d units in %s: %d segments, want 1", units, enc, n)
		case units > single && (n < lo || n > hi):
			t.Fatalf("%d units in %s: %d segments, want %d..%d", units, enc, n, lo, hi)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The audience file's state column is outside input.
func FuzzParseState(f *testing.F) {
	for _, s := range []string{"", "FL", "fl", "Florida", "Washington D.C.", "new  york", "XX", "\xff", "Ｆｌｏｒｉｄａ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, err := ParseState(s)
		checkStateRead(t, "ParseState", s, code, err)
		if err == nil && code != "" {
			if again, err := ParseState(code); err != nil || again != code {
				t.Fatalf("ParseState(%q) = %q, %v; not stable", code, again, err)
			}
			_ = Rule(code).Window.Validate()
		}
	})
}

// The audience file's postal_code column is outside input too.
func FuzzZIPState(f *testing.F) {
	for _, s := range []string{"", "33101", "33101-1234", "331011234", "00601", "2134", "69401", "ABCDE", "\xff", "３３１０１"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, err := ZIPState(s)
		checkStateRead(t, "ZIPState", s, code, err)
	})
}

// checkStateRead checks one reading of an audience column: a known state
// or an error short enough for a row report, never both.
func checkStateRead(t *testing.T, name, in, code string, err error) {
	t.Helper()
	switch {
	case err != nil && code != "":
		t.Fatalf("%s(%q) = %q and error %v", name, in, code, err)
	case err == nil && code != "" && stateNames[code] == "":
		t.Fatalf("%s(%q) = unknown code %q", name, in, code)
	case err != nil && len(err.Error()) > 300:
		t.Fatalf("error too long for a row report: %d bytes", len(err.Error()))
	}
}
