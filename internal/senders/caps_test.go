package senders

import (
	"testing"
	"time"

	"github.com/stopline/stopline/internal/policy"
)

func TestFrequencyCap(t *testing.T) {
	const head = `{"senders": [{"provider": "twilio", "from": "+15550001111", "type": "long_code", "program": "acme", `
	tests := []struct {
		name, json string
		cap        policy.Cap // when valid
		err        string
	}{
		{"none", head + `"brand": "Acme"}]}`, policy.Cap{}, ""},
		{"hours", head + `"frequency_cap": {"max": 2, "per": "24h"}}]}`, policy.Cap{Max: 2, Per: 24 * time.Hour}, ""},
		{"minutes", head + `"frequency_cap": {"max": 1, "per": "90m"}}]}`, policy.Cap{Max: 1, Per: 90 * time.Minute}, ""},
		{"zero max", head + `"frequency_cap": {"max": 0, "per": "24h"}}]}`, policy.Cap{},
			`senders[0].frequency_cap.max: must be at least 1, got 0`},
		{"days are not Go durations", head + `"frequency_cap": {"max": 2, "per": "1 day"}}]}`, policy.Cap{},
			`senders[0].frequency_cap.per: want a duration such as "24h", more than 0 and at most 8784h (366 days), got "1 day"`},
		{"missing per", head + `"frequency_cap": {"max": 2}}]}`, policy.Cap{},
			`senders[0].frequency_cap.per: want a duration such as "24h", more than 0 and at most 8784h (366 days), got ""`},
		{"negative per", head + `"frequency_cap": {"max": 2, "per": "-1h"}}]}`, policy.Cap{},
			`senders[0].frequency_cap.per: want a duration such as "24h", more than 0 and at most 8784h (366 days), got "-1h"`},
		{"unknown field", head + `"frequency_cap": {"max": 2, "per": "24h", "burst": 1}}]}`, policy.Cap{},
			`senders file: json: unknown field "burst"`},
		{"a program's senders disagree", head + `"frequency_cap": {"max": 2, "per": "24h"}},
			{"provider": "twilio", "from": "+15550002222", "type": "long_code", "program": "acme"}]}`, policy.Cap{},
			`senders[1].frequency_cap: differs from sender "+15550001111" of program "acme"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseCase(t, tt.json, tt.err)
			if r == nil {
				return
			}
			if got := r.ScopeSender("program:acme").Cap(); got != tt.cap {
				t.Errorf("cap = %v, want %v", got, tt.cap)
			}
		})
	}
}
