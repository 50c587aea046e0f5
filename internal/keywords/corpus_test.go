package keywords

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestIssue11 is the fixed must-pass set: every example of issue 11. Clear
// revocations opt out in the default and opt_out modes, with the rule that
// explains them; the item-4 sentences opt out in no mode; unclear replies
// get a suggestion in the default mode only.
func TestIssue11(t *testing.T) {
	revocations := []struct{ body, keyword, rule string }{
		// Courtesy.
		{"STOP please", "STOP", "courtesy"},
		{"Stop. Thank you", "STOP", "courtesy"},
		{"stop pls", "STOP", "courtesy"},
		{"STOP SVP", "STOP", "courtesy"},
		{"stop merci", "STOP", "courtesy"},
		// An object.
		{"Stop texting me", "STOP", "object"},
		{"stop sending me messages", "STOP", "object"},
		{"Unsubscribe me", "UNSUBSCRIBE", "object"},
		// Emphasis.
		{"STOP NOW", "STOP", "courtesy"},
		// A question after the keyword.
		{"Stop!!! Who is this", "STOP", "question"},
		// A phone's signature.
		{"STOP\n\nSent from my iPhone", "STOP", "exact+signature_stripped"},
		// French and Spanish.
		{"Arrêtez svp", "ARRETEZ", "courtesy"},
		{"désabonner", "DESABONNER", "exact"},
		{"me désinscrire", "DESINSCRIRE", "object"},
		{"baja por favor", "BAJA", "courtesy"},
		// Clear non-keyword requests.
		{"no more texts", "NO MORE", "phrase"},
		{"remove me from your list", "REMOVE", "phrase"},
		{"leave me alone", "LEAVE ME ALONE", "phrase"},
		{"wrong number", "WRONG NUMBER", "phrase"},
		{"no más mensajes", "NO MAS MENSAJES", "exact"},
		{"ne plus recevoir", "NE PLUS RECEVOIR", "exact"},
		// Item 3's vocabulary, accents optional.
		{"arrêter", "ARRETER", "exact"},
		{"ARRETEZ", "ARRETEZ", "exact"},
		{"désabonnement", "DESABONNEMENT", "exact"},
		{"desinscrire", "DESINSCRIRE", "exact"},
		{"Désinscription", "DESINSCRIPTION", "exact"},
		{"darme de baja", "DARME DE BAJA", "exact"},
		{"No me escriban", "NO ME ESCRIBAN", "exact"},
		{"descadastrar", "DESCADASTRAR", "exact"},
		{"não quero mais mensagens", "NAO QUERO MAIS MENSAGENS", "exact"},
		{"abbestellen", "ABBESTELLEN", "exact"},
		{"keine SMS mehr", "KEINE SMS MEHR", "exact"},
		// Item 6: labels flipped by the reasonable-person reading.
		{"stop why", "STOP", "question"},
		{"I want to cancel", "CANCEL", "courtesy"},
	}
	for _, tt := range revocations {
		for _, m := range []FuzzyMode{FuzzyReasonable, FuzzyOptOut} {
			got := Classify(tt.body, Config{Fuzzy: m})
			if got.Kind != OptOut || got.Keyword != tt.keyword || got.Explanation() != tt.rule {
				t.Errorf("Classify(%q, %v) = %+v (%s), want an opt-out by %s, keyword %s", tt.body, m, got, got.Explanation(), tt.rule, tt.keyword)
			}
		}
	}
	notRequests := []string{
		"I can't stop smiling", "Can I stop by the store tomorrow?", "When does the sale end?", "Don't cancel my order",
		"Never stop sending these deals!", "STOPWATCH for sale?", "Unstoppable deal", "The stop on 5th street is closed",
	}
	for _, body := range notRequests {
		for _, m := range modes {
			if got := Classify(body, Config{Fuzzy: m}); got != (Intent{}) {
				t.Errorf("Classify(%q, %v) = %+v, want none", body, m, got)
			}
		}
	}
	for _, body := range []string{"no", "why?"} {
		want := map[FuzzyMode]Kind{FuzzyReasonable: SuggestOptOut, FuzzyOff: None, FuzzyConfirm: None, FuzzyOptOut: None}
		for _, m := range modes {
			if got := Classify(body, Config{Fuzzy: m}); got.Kind != want[m] {
				t.Errorf("Classify(%q, %v) = %+v, want %v", body, m, got, want[m])
			}
		}
	}
}

// TestCorpus checks the labelled replies in testdata/corpus.tsv in every
// mode and prints precision and recall of opt-outs per mode, against the
// reasonable-person reading (the reasonable column). In the default mode a
// false opt-out or a missed clear revocation fails.
func TestCorpus(t *testing.T) {
	f, err := os.Open("testdata/corpus.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type stats struct{ tp, fp, fn, asked int }
	got := map[FuzzyMode]*stats{}
	for _, m := range modes {
		got[m] = &stats{}
	}
	// Columns 2-5 hold the expected intent in these modes.
	cols := []FuzzyMode{FuzzyOff, FuzzyConfirm, FuzzyOptOut, FuzzyReasonable}
	n, revocations := 0, 0
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if strings.HasPrefix(sc.Text(), "#") || sc.Text() == "" {
			continue
		}
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 7 {
			t.Fatalf("corpus.tsv:%d: %d fields, want 7", line, len(fields))
		}
		body, err := strconv.Unquote(fields[0])
		if err != nil {
			t.Fatalf("corpus.tsv:%d: text: %v", line, err)
		}
		n++
		revocation := fields[5] == "opt_out"
		if revocation {
			revocations++
		}
		for i, m := range cols {
			var want Kind
			if err := want.UnmarshalText([]byte(fields[2+i])); err != nil {
				t.Fatalf("corpus.tsv:%d: %v", line, err)
			}
			in := Classify(body, Config{Fuzzy: m})
			s := got[m]
			switch {
			case in.Kind == OptOut && revocation:
				s.tp++
			case in.Kind == OptOut:
				s.fp++
			case revocation:
				s.fn++
			}
			if in.Kind == SuggestOptOut {
				s.asked++
			}
			if in.Kind != want {
				t.Errorf("corpus.tsv:%d: Classify(%q, %v) = %v (%s), want %v [%s]", line, body, m, in.Kind, in.Explanation(), want, fields[6])
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 400 {
		t.Errorf("corpus has %d replies, want at least 400", n)
	}
	t.Logf("corpus: %d replies, %d clear revocations", n, revocations)
	for _, m := range cols {
		s := got[m]
		t.Logf("%-10v precision %.3f  recall %.3f  (opt-outs %d, false %d, missed %d, clarifications asked %d)",
			m, ratio(s.tp, s.tp+s.fp), ratio(s.tp, s.tp+s.fn), s.tp+s.fp, s.fp, s.fn, s.asked)
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}
