package policy

import (
	"strings"
	"testing"
)

func TestSegments(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name     string
		body     string
		encoding string
		segments int
	}{
		{"empty", "", GSM7, 0},
		{"short", "hello", GSM7, 1},
		{"GSM accents", "Répondez STOP pour vous désinscrire.", GSM7, 1},
		{"capital C cedilla is GSM", "Ç", GSM7, 1},
		{"small c cedilla is not", "ç", UCS2, 1},
		{"curly apostrophe is not GSM", "don’t", UCS2, 1},
		{"newline is GSM", "a\nb", GSM7, 1},
		{"160 septets", a(160), GSM7, 1},
		{"161 septets", a(161), GSM7, 2},
		{"306 septets", a(306), GSM7, 2},
		{"307 septets", a(307), GSM7, 3},
		{"1530 septets", a(1530), GSM7, 10},
		{"1531 septets", a(1531), GSM7, 11},
		{"extension chars take two septets: 80 euros", strings.Repeat("€", 80), GSM7, 1},
		{"81 euros", strings.Repeat("€", 81), GSM7, 2},
		{"braces: 159 septets + 2", a(159) + "{", GSM7, 2},
		{"all extension chars", "^{}\\[~]|€\f", GSM7, 1},
		// 152 + ESC€ does not fit 153: the euro starts part 2, which then
		// overflows by one septet. Plain division would say 2.
		{"escape pair never split", a(152) + "€" + a(152), GSM7, 3},
		{"70 UCS-2", strings.Repeat("ж", 70), UCS2, 1},
		{"71 UCS-2", strings.Repeat("ж", 71), UCS2, 2},
		{"134 UCS-2", strings.Repeat("ж", 134), UCS2, 2},
		{"135 UCS-2", strings.Repeat("ж", 135), UCS2, 3},
		{"one emoji forces UCS-2", "Hello 😀", UCS2, 1},
		{"35 emoji are 70 code units", strings.Repeat("😀", 35), UCS2, 1},
		{"69 + emoji is 71 code units", a(69) + "😀", UCS2, 2},
		// 33 emoji (66 units) per part: the 34th pair would straddle.
		{"36 emoji", strings.Repeat("😀", 36), UCS2, 2},
		{"surrogate pair never split", a(66) + "😀" + a(66), UCS2, 3},
		{"invalid UTF-8", "\xff", UCS2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, n := Segments(tt.body)
			if enc != tt.encoding || n != tt.segments {
				t.Errorf("Segments = %s, %d; want %s, %d", enc, n, tt.encoding, tt.segments)
			}
		})
	}
}

func TestCheckSegments(t *testing.T) {
	tests := []struct {
		body string
		want string
	}{
		{strings.Repeat("a", 1530), ""},
		{strings.Repeat("a", 1531), "body is 11 segments (GSM-7), more than 10"},
		{strings.Repeat("ж", 670), ""},
		{strings.Repeat("ж", 671), "body is 11 segments (UCS-2), more than 10"},
	}
	for _, tt := range tests {
		got := ""
		if err := CheckSegments(tt.body); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("CheckSegments(%d chars) = %q; want %q", len([]rune(tt.body)), got, tt.want)
		}
	}
}

// TestFooterSegments shows the case the starter warns about: the footer
// pushes a body that fitted one segment into two.
func TestFooterSegments(t *testing.T) {
	body := strings.Repeat("a", 150)
	_, before := Segments(body)
	withFooter, _ := EnsureOptOutInstructions(body, FooterSettings{})
	_, after := Segments(withFooter)
	if before != 1 || after != 2 {
		t.Errorf("segments before/after footer = %d/%d; want 1/2", before, after)
	}
}
