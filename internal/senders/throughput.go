package senders

import "fmt"

// maxRate bounds max_per_second: above any provider's per-number limit.
const maxRate = 10_000

// validateRate checks max_per_second; errors are relative to the sender.
func validateRate(r float64) error {
	if r < 0 || r > maxRate {
		return fmt.Errorf(".max_per_second: must be between 0 (no limit) and %d, got %v", maxRate, r)
	}
	return nil
}

// RateLimited returns the senders with a max_per_second, by address
// (number or messaging service SID), for the workers of their send queues.
func (r *Registry) RateLimited() map[string]float64 {
	out := map[string]float64{}
	if r != nil {
		for addr, s := range r.byAddr {
			if s.MaxPerSecond > 0 {
				out[addr] = s.MaxPerSecond
			}
		}
	}
	return out
}
