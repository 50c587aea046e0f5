package senders

import (
	"maps"
	"testing"
)

func TestMaxPerSecond(t *testing.T) {
	const head = `{"senders": [{"provider": "twilio", "from": "+15550001111", "type": "long_code"`
	tests := []struct {
		name, json string
		want       map[string]float64
		err        string
	}{
		{"none", head + `}]}`, map[string]float64{}, ""},
		{"a limit", head + `, "max_per_second": 5}, {"provider": "twilio", "messaging_service_sid": "MG00000000000000000000000000000001", "type": "long_code", "max_per_second": 0.5}]}`,
			map[string]float64{"+15550001111": 5, "MG00000000000000000000000000000001": 0.5}, ""},
		{"negative", head + `, "max_per_second": -1}]}`, nil, `senders[0].max_per_second: must be between 0 (no limit) and 10000, got -1`},
		{"not a number", head + `, "max_per_second": "5"}]}`, nil, `senders file: json: cannot unmarshal string into Go struct field Sender.senders.max_per_second of type float64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseCase(t, tt.json, tt.err)
			if r == nil {
				return
			}
			if got := r.RateLimited(); !maps.Equal(got, tt.want) {
				t.Errorf("RateLimited() = %v, want %v", got, tt.want)
			}
		})
	}
}
