package keywords

import (
	"testing"
	"unicode/utf8"
)

// FuzzClassify checks the properties the rest of stopline relies on for any
// inbound body: no panic, Normalize idempotent, a valid Kind, the same answer
// twice (Classify runs inside Temporal workflows), and consistency between
// the fuzzy modes.
func FuzzClassify(f *testing.F) {
	seeds := []string{
		"STOP", "stop", "Stop.", "STOP 12345", "stop all", "STOPALL", "Stop-All!", "Opt-Out", "opt out all",
		"ARRÊT", "Arre\u0302t", "¡Baja!", "PARAR", "STOPP", "Abmelden", "ＳＴＯＰ", "𝐒𝐓𝐎𝐏", "S\u200bTOP",
		"START", "YES", "UNSTOP", "HELP", "INFO", "AIDE", "AYUDA", "HILFE",
		"stop please", "Stop. Thank you", "please stop texting me", "Stpo", "STOPPPP", "unsubscribe me",
		"remove me", "no more texts", "take me off your list", "don't text me", "I don't want these texts",
		"Stop, not interested", "arrête", "Baja por favor", "cancel my subscription", "STOPPP ALL",
		"\xff\xfe", "stop\x00", "'", "don'", "’t", "STOP \U0001F6D1", "1\ufe0f\u20e3", "ﬁ", "ǅ", "ß", "İ", "ı",
		"\u0345", "\u1fbe", "\u00b5", "\u2126", "\u212b", "\uac00", "\u1100\u1161",
	}
	seeds = append(seeds, falsePositives...)
	for _, s := range seeds {
		f.Add(s)
	}
	custom := Config{OptOut: []string{"Stop Acme", "halt"}, OptIn: []string{"subscribe"}, Help: []string{"support"}}

	f.Fuzz(func(t *testing.T, body string) {
		n := Normalize(body)
		if again := Normalize(n); again != n {
			t.Fatalf("Normalize not idempotent: %q -> %q -> %q", body, n, again)
		}
		if !utf8.ValidString(n) {
			t.Fatalf("Normalize(%q) = %q is not valid UTF-8", body, n)
		}
		// IsOneOf (double opt-in confirm words) reads bodies like Classify:
		// on the normalised form, and a body with a word is one of itself.
		confirm := []string{"YES", "Y", "OUI"}
		if IsOneOf(body, confirm) != IsOneOf(n, confirm) {
			t.Fatalf("IsOneOf(%q) differs from IsOneOf(Normalize)", body)
		}
		if len(tokenize(n)) > 0 && !IsOneOf(body, []string{body}) {
			t.Fatalf("IsOneOf(%q, itself) = false", body)
		}
		for _, base := range []Config{{}, {Languages: []string{"en"}}, custom} {
			got := map[FuzzyMode]Intent{}
			for _, m := range modes {
				cfg := withMode(base, m)
				in := Classify(body, cfg)
				if again := Classify(body, cfg); again != in {
					t.Fatalf("Classify(%q, %+v) not deterministic: %+v then %+v", body, cfg, in, again)
				}
				// Normalize joins lines, so only a body read whole (no
				// signature cut off) reads the same normalised.
				if onNorm := Classify(n, cfg); !in.Stripped && onNorm != in {
					t.Fatalf("Classify(%q) = %+v but Classify(Normalize) = %+v", body, in, onNorm)
				}
				checkIntent(t, body, m, in)
				checkSignatures(t, body, cfg, in)
				got[m] = in
			}
			// Exact answers do not depend on the mode; fuzzy ones differ
			// only in Kind between confirm and opt-out, and the reasonable
			// mode is opt-out plus suggestions on unclear replies.
			off, confirm, optOut, reasonable := got[FuzzyOff], got[FuzzyConfirm], got[FuzzyOptOut], got[FuzzyReasonable]
			if off.Kind != None && (confirm != off || optOut != off || reasonable != off) {
				t.Fatalf("%q: exact %+v but confirm %+v, opt_out %+v, reasonable %+v", body, off, confirm, optOut, reasonable)
			}
			if confirm.Kind == SuggestOptOut {
				confirm.Kind = OptOut
			}
			if confirm != optOut {
				t.Fatalf("%q: confirm %+v and opt_out %+v disagree", body, got[FuzzyConfirm], optOut)
			}
			if reasonable != optOut && (optOut.Kind != None || reasonable.Rule != RuleUnclear) {
				t.Fatalf("%q: reasonable %+v and opt_out %+v disagree", body, reasonable, optOut)
			}
		}
	})
}

func checkIntent(t *testing.T, body string, m FuzzyMode, in Intent) {
	t.Helper()
	if in.Kind < None || in.Kind > SuggestOptOut || in.Scope < Sender || in.Scope > All ||
		in.Confidence < Exact || in.Confidence > Fuzzy {
		t.Fatalf("Classify(%q, %v) = %+v: value out of range", body, m, in)
	}
	switch {
	case in.Kind == None && in != (Intent{}):
		t.Fatalf("Classify(%q, %v) = %+v: none must be the zero Intent", body, m, in)
	case in.Kind != None && (in.Keyword == "" || Normalize(in.Keyword) != in.Keyword):
		t.Fatalf("Classify(%q, %v) = %+v: keyword not canonical", body, m, in)
	case in.Kind != None && in.Rule == RuleNone, in.Kind == None && in.Rule != RuleNone:
		t.Fatalf("Classify(%q, %v) = %+v: rule does not match kind", body, m, in)
	case in.Confidence == Fuzzy && (m == FuzzyOff || (in.Kind != OptOut && in.Kind != SuggestOptOut)):
		t.Fatalf("Classify(%q, %v) = %+v: fuzzy result outside fuzzy opt-out", body, m, in)
	case in.Confidence == Fuzzy && in.Rule == RuleExact, in.Confidence == Exact && in.Rule != RuleExact && in.Kind != None:
		t.Fatalf("Classify(%q, %v) = %+v: confidence does not match rule", body, m, in)
	case in.Kind == SuggestOptOut && in.Confidence != Fuzzy,
		in.Kind == SuggestOptOut && m != FuzzyConfirm && (m != FuzzyReasonable || in.Rule != RuleUnclear),
		in.Rule == RuleUnclear && (m != FuzzyReasonable || in.Kind != SuggestOptOut):
		t.Fatalf("Classify(%q, %v) = %+v: suggestion outside confirm mode or an unclear reply", body, m, in)
	case in.Scope == All && in.Kind != OptOut && in.Kind != SuggestOptOut:
		t.Fatalf("Classify(%q, %v) = %+v: scope all on a non-opt-out", body, m, in)
	}
}

// signatures are what phones, mail apps and replies append to a message.
var signatures = []string{
	"\n\nSent from my iPhone",
	"\nSent from my Galaxy",
	"\r\n\r\nGet Outlook for iOS",
	"\n-- \nJohn Smith\nAcme Corp",
	"\n> Acme: 20% off today only! Reply STOP to opt out",
	"\n\nEnvoyé de mon iPhone",
}

// checkSignatures: a classification never changes when a signature is
// appended, except that it records the signature was stripped.
func checkSignatures(t *testing.T, body string, cfg Config, in Intent) {
	t.Helper()
	in.Stripped = false
	for _, sig := range signatures {
		got := Classify(body+sig, cfg)
		got.Stripped = false
		if got != in {
			t.Fatalf("Classify(%q, %v) = %+v but with signature %q = %+v", body, cfg.Fuzzy, in, sig, got)
		}
	}
}
