package policy

import (
	"slices"
	"testing"
)

// LegalRules names the rules LegalWindow combines, region first.
func TestLegalRules(t *testing.T) {
	tests := []struct {
		e164, residence string
		want            []string
	}{
		{"+12125550123", "", []string{"federal"}},               // NY: the TCPA alone
		{"+13055550123", "", []string{"federal", "FL"}},         // Miami
		{"+12125550123", "CT", []string{"federal", "CT"}},       // a NY number living in CT
		{"+13055550123", "TX", []string{"federal", "FL", "TX"}}, // both states count
		{"+18005550123", "", []string{"federal", "unknown US"}}, // toll-free, no state
		{"+18005550123", "NY", []string{"federal"}},             // toll-free, lives in NY
		{"+33612345678", "", []string{"France"}},                //
		{"+4915123456789", "", []string{"default (DE)"}},        //
		{"not a number", "", []string{"default"}},               //
	}
	for _, tt := range tests {
		var names []string
		for _, r := range LegalRules(tt.e164, tt.residence) {
			names = append(names, r.Name)
		}
		if !slices.Equal(names, tt.want) {
			t.Errorf("LegalRules(%s, %q) = %v, want %v", tt.e164, tt.residence, names, tt.want)
		}
	}
}
