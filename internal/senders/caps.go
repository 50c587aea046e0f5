package senders

import (
	"fmt"
	"time"

	"github.com/stopline/stopline/internal/policy"
)

// FrequencyCap is a program's own cap on marketing messages per recipient,
// across all its senders and journeys: {"max": 2, "per": "24h"}.
type FrequencyCap struct {
	Max int    `json:"max"`
	Per string `json:"per"` // a Go duration: "24h", "168h", "90m"
}

// maxCapPeriod bounds "per": the ledger is counted over it on every send.
const maxCapPeriod = 366 * 24 * time.Hour

// Cap returns the sender's program cap, or the zero Cap.
func (s Sender) Cap() policy.Cap {
	if s.FrequencyCap == nil {
		return policy.Cap{}
	}
	per, _ := time.ParseDuration(s.FrequencyCap.Per) // validated
	return policy.Cap{Max: s.FrequencyCap.Max, Per: per}
}

// validate checks c; errors are relative to frequency_cap.
func (c *FrequencyCap) validate() error {
	if c == nil {
		return nil
	}
	if c.Max < 1 {
		return fmt.Errorf(".max: must be at least 1, got %d", c.Max)
	}
	per, err := time.ParseDuration(c.Per)
	if err != nil || per <= 0 || per > maxCapPeriod {
		return fmt.Errorf(`.per: want a duration such as "24h", more than 0 and at most 8784h (366 days), got %q`, c.Per)
	}
	return nil
}
