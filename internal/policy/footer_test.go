package policy

import (
	"errors"
	"testing"

	"github.com/stopline/stopline/workflows/contract"
)

func TestEnsureOptOutInstructions(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		settings  FooterSettings
		want      string
		wantAdded bool
	}{
		// English default.
		{"no instruction gets the English footer", "Hi Ada, 10% off today!", FooterSettings{},
			"Hi Ada, 10% off today!\nReply STOP to opt out.", true},
		{"trailing whitespace is trimmed before the footer", "Hi Ada  \n\n", FooterSettings{Language: "en"},
			"Hi Ada\nReply STOP to opt out.", true},
		{"empty body is the footer alone", "", FooterSettings{}, "Reply STOP to opt out.", true},
		{"reply STOP", "Sale today! Reply STOP to unsubscribe", FooterSettings{}, "Sale today! Reply STOP to unsubscribe", false},
		{"lower case", "sale today. reply stop", FooterSettings{}, "sale today. reply stop", false},
		{"quoted keyword", `Sale! Reply "STOP" to end`, FooterSettings{}, `Sale! Reply "STOP" to end`, false},
		{"text the word STOP", "Sale! Text the word STOP", FooterSettings{}, "Sale! Text the word STOP", false},
		{"STOP to end", "Sale! STOP to end", FooterSettings{}, "Sale! STOP to end", false},
		{"STOP to a short code", "Sale! STOP 12345", FooterSettings{}, "Sale! STOP 12345", false},
		{"unsubscribe link", "Sale! Unsubscribe: acme.com/u", FooterSettings{}, "Sale! Unsubscribe: acme.com/u", false},
		{"opt-out with a hyphen", "To opt-out visit acme.com", FooterSettings{}, "To opt-out visit acme.com", false},
		{"full-width keyword", "Sale! Reply ＳＴＯＰ", FooterSettings{}, "Sale! Reply ＳＴＯＰ", false},
		// Copy that mentions a keyword without an instruction still gets one.
		{"don't stop", "Don't stop shopping!", FooterSettings{},
			"Don't stop shopping!\nReply STOP to opt out.", true},
		{"non-stop with a number", "Non-stop deals 24h", FooterSettings{},
			"Non-stop deals 24h\nReply STOP to opt out.", true},
		{"stop by", "Stop by our store", FooterSettings{},
			"Stop by our store\nReply STOP to opt out.", true},
		{"stop to think", "Stop to think: 2 for 1!", FooterSettings{},
			"Stop to think: 2 for 1!\nReply STOP to opt out.", true},
		{"a verb a few words before stop", "Text us to stop by our store", FooterSettings{},
			"Text us to stop by our store\nReply STOP to opt out.", true},
		{"an opt-in request that says stop", "Reply YES to stop missing deals", FooterSettings{},
			"Reply YES to stop missing deals\nReply STOP to opt out.", true},
		{"reply with STOP", "Sale! Reply with STOP to end", FooterSettings{}, "Sale! Reply with STOP to end", false},
		// French.
		{"French default", "Soldes -20% ce week-end", FooterSettings{Language: "fr"},
			"Soldes -20% ce week-end\nRépondez STOP pour vous désinscrire.", true},
		{"French with a region", "Soldes", FooterSettings{Language: "fr-CA"},
			"Soldes\nRépondez STOP pour vous désinscrire.", true},
		{"STOP au short code", "Soldes ! STOP au 36111", FooterSettings{Language: "fr"}, "Soldes ! STOP au 36111", false},
		{"STOP SMS number", "Soldes ! Stop SMS 36180", FooterSettings{Language: "fr"}, "Soldes ! Stop SMS 36180", false},
		{"désinscrire without accents", "Soldes. Pour vous desinscrire : acme.fr/d", FooterSettings{Language: "fr"},
			"Soldes. Pour vous desinscrire : acme.fr/d", false},
		{"répondez ARRÊT", "Soldes. Répondez ARRÊT", FooterSettings{Language: "fr"}, "Soldes. Répondez ARRÊT", false},
		{"répondez par STOP", "Soldes. Répondez par STOP", FooterSettings{Language: "fr"}, "Soldes. Répondez par STOP", false},
		// Spanish.
		{"Spanish default", "Oferta 2x1", FooterSettings{Language: "es"},
			"Oferta 2x1\nResponda BAJA para darse de baja.", true},
		{"envía BAJA al", "Oferta. Envía BAJA al 12345", FooterSettings{Language: "es"}, "Oferta. Envía BAJA al 12345", false},
		{"a la baja is copy", "Precios a la baja", FooterSettings{Language: "es"},
			"Precios a la baja\nResponda BAJA para darse de baja.", true},
		// Portuguese and German.
		{"Portuguese default", "Promoção hoje", FooterSettings{Language: "pt"},
			"Promoção hoje\nResponda SAIR para sair.", true},
		{"envie SAIR", "Promoção. Envie SAIR para 4567", FooterSettings{Language: "pt"}, "Promoção. Envie SAIR para 4567", false},
		{"antworten Sie mit STOPP", "Angebot. Antworten Sie mit STOPP", FooterSettings{Language: "de"}, "Angebot. Antworten Sie mit STOPP", false},
		{"German default", "Angebot der Woche", FooterSettings{Language: "de"},
			"Angebot der Woche\nAntworten Sie STOPP zum Abmelden.", true},
		{"Abmeldung", "Angebot. Abmeldung: acme.de/x", FooterSettings{Language: "de"}, "Angebot. Abmeldung: acme.de/x", false},
		{"unknown language falls back to English", "Offerta", FooterSettings{Language: "it"},
			"Offerta\nReply STOP to opt out.", true},
		// Custom footers.
		{"custom footer appended", "Promo", FooterSettings{Language: "fr", Footer: "STOP au 36111"},
			"Promo\nSTOP au 36111", true},
		{"custom footer already there, other case and accents", "Promo. desabonnement: ACME.FR/STOP",
			FooterSettings{Footer: "Désabonnement : acme.fr/stop"}, "Promo. desabonnement: ACME.FR/STOP", false},
		{"custom footer, body has another instruction", "Promo. Reply STOP to opt out",
			FooterSettings{Footer: "Opt out at acme.com/o"}, "Promo. Reply STOP to opt out", false},
		// Senders without keyword replies: only the alternative counts.
		{"alternative instruction appended", "Sale!", FooterSettings{AltInstruction: "Call 0800 123 456 to opt out"},
			"Sale!\nCall 0800 123 456 to opt out", true},
		{"reply STOP does not count without replies", "Sale! Reply STOP to opt out.", FooterSettings{AltInstruction: "Text STOP to 12345"},
			"Sale! Reply STOP to opt out.\nText STOP to 12345", true},
		{"alternative instruction already there", "Sale! text stop to 12345.", FooterSettings{AltInstruction: "Text STOP to 12345"},
			"Sale! text stop to 12345.", false},
		{"alternative instruction wins over the footer", "Sale!", FooterSettings{Footer: "STOP au 36111", AltInstruction: "Text STOP to 12345"},
			"Sale!\nText STOP to 12345", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, added := EnsureOptOutInstructions(tt.body, tt.settings)
			if got != tt.want || added != tt.wantAdded {
				t.Errorf("EnsureOptOutInstructions(%q) = %q, %v; want %q, %v", tt.body, got, added, tt.want, tt.wantAdded)
			}
			// Idempotent: a body that went through once needs nothing more.
			again, addedAgain := EnsureOptOutInstructions(got, tt.settings)
			if again != got || addedAgain {
				t.Errorf("second pass = %q, %v; want %q unchanged", again, addedAgain, got)
			}
		})
	}
}

func TestDefaultFootersAreInstructions(t *testing.T) {
	for lang, footer := range defaultFooters {
		if !HasOptOutInstructions(footer) {
			t.Errorf("default footer %s %q is not recognised as an opt-out instruction", lang, footer)
		}
		if enc, n := Segments(footer); enc != GSM7 || n != 1 {
			t.Errorf("default footer %s %q = %s, %d segments; want GSM-7, 1 (no forced UCS-2)", lang, footer, enc, n)
		}
	}
}

// TestMarketingStepPerSenderType is the journey-start decision for one
// marketing step: reject the sender, or send the body with what footer.
func TestMarketingStepPerSenderType(t *testing.T) {
	const body = "Hi Ada, 10% off today!"
	tests := []struct {
		name       string
		senderType contract.SenderType
		keywords   bool
		settings   FooterSettings
		want       string
		wantErr    string
	}{
		{"long code", contract.SenderLongCode, false, FooterSettings{},
			body + "\nReply STOP to opt out.", ""},
		{"toll-free, Spanish", contract.SenderTollFree, false, FooterSettings{Language: "es"},
			body + "\nResponda BAJA para darse de baja.", ""},
		{"short code with keywords, French", contract.SenderShortCode, true, FooterSettings{Language: "fr", Footer: "STOP au 36111"},
			body + "\nSTOP au 36111", ""},
		{"short code without keywords, alternative", contract.SenderShortCode, false, FooterSettings{AltInstruction: "Call 0800 123 456 to opt out"},
			body + "\nCall 0800 123 456 to opt out", ""},
		{"short code without keywords", contract.SenderShortCode, false, FooterSettings{Language: "de"}, "",
			`no way to opt out: a short code without keyword handling ignores STOP replies: enable short_code_keywords on the sender, or set alt_instruction (e.g. "Call 0800 123 456 to opt out")`},
		{"alphanumeric with alternative, German", contract.SenderAlphanumeric, false, FooterSettings{Language: "de", AltInstruction: "Abmelden: acme.de/x"},
			body + "\nAbmelden: acme.de/x", ""},
		{"alphanumeric without alternative", contract.SenderAlphanumeric, false, FooterSettings{Language: "fr"}, "",
			`no way to opt out: an alphanumeric sender cannot receive replies, so its marketing messages need an alternative opt-out instruction: set alt_instruction on the sender (e.g. "Text STOP to 12345" or "Call 0800 123 456 to opt out")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSender(tt.senderType, tt.keywords, contract.CategoryMarketing, tt.settings.AltInstruction)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("CheckSender error = %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("CheckSender: %v", err)
			}
			if got, _ := EnsureOptOutInstructions(body, tt.settings); got != tt.want {
				t.Errorf("body = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestCheckSender(t *testing.T) {
	const (
		alphaErr = `no way to opt out: an alphanumeric sender cannot receive replies, so its marketing messages need an alternative opt-out instruction: set alt_instruction on the sender (e.g. "Text STOP to 12345" or "Call 0800 123 456 to opt out")`
		shortErr = `no way to opt out: a short code without keyword handling ignores STOP replies: enable short_code_keywords on the sender, or set alt_instruction (e.g. "Call 0800 123 456 to opt out")`
		typeErr  = `unknown sender type "landline" (want long_code, toll_free, short_code or alphanumeric)`
	)
	tests := []struct {
		senderType contract.SenderType
		keywords   bool
		category   contract.Category
		alt        string
		want       string
	}{
		{contract.SenderLongCode, false, contract.CategoryMarketing, "", ""},
		{contract.SenderTollFree, false, contract.CategoryMarketing, "", ""},
		{contract.SenderShortCode, true, contract.CategoryMarketing, "", ""},
		{contract.SenderShortCode, false, contract.CategoryMarketing, "", shortErr},
		{contract.SenderShortCode, false, contract.CategoryMarketing, "  ", shortErr},
		{contract.SenderShortCode, false, contract.CategoryMarketing, "Call 0800 123 456 to opt out", ""},
		{contract.SenderShortCode, false, contract.CategoryTransactional, "", ""},
		{contract.SenderAlphanumeric, false, contract.CategoryMarketing, "", alphaErr},
		{contract.SenderAlphanumeric, true, contract.CategoryMarketing, "", alphaErr},
		{contract.SenderAlphanumeric, false, contract.CategoryMarketing, "Text STOP to 12345", ""},
		{contract.SenderAlphanumeric, false, contract.CategoryTransactional, "", ""},
		{contract.SenderAlphanumeric, false, "markting", "", alphaErr}, // a typo is marketing
		{"landline", false, contract.CategoryMarketing, "", typeErr},
		{"landline", false, contract.CategoryTransactional, "", typeErr},
	}
	for _, tt := range tests {
		err := CheckSender(tt.senderType, tt.keywords, tt.category, tt.alt)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("CheckSender(%q, %v, %q, %q) = %q; want %q", tt.senderType, tt.keywords, tt.category, tt.alt, got, tt.want)
		}
		if tt.want != "" && tt.want != typeErr && !errors.Is(err, ErrNoOptOutPath) {
			t.Errorf("CheckSender(%q, ...) error does not wrap ErrNoOptOutPath", tt.senderType)
		}
	}
}
