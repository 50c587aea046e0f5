package policy

import (
	"testing"
	"time"
)

func TestStateCap(t *testing.T) {
	three := Cap{Max: 3, Per: 24 * time.Hour}
	tests := []struct {
		name, e164, residence string
		want                  Cap
	}{
		{"Florida (Miami)", "+13055550123", "", three},
		{"Oklahoma (Oklahoma City)", "+14055550123", "", three},
		{"Maryland (Baltimore)", "+14105550123", "", three},
		{"New York: no state cap", "+12125550123", "", Cap{}},
		{"Texas: a window, no cap", "+12145550123", "", Cap{}},
		{"a New York number living in Florida", "+12125550123", "FL", three},
		{"a Florida number living in New York", "+13055550123", "NY", three},
		{"non-geographic (toll-free): unknown US", "+18005550123", "", three},
		{"non-geographic, living in California", "+18005550123", "CA", Cap{}},
		{"France: none", "+33123456789", "", Cap{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StateCap(tt.e164, tt.residence); got != tt.want {
				t.Errorf("StateCap(%s, %q) = %v, want %v", tt.e164, tt.residence, got, tt.want)
			}
		})
	}
}
