package fanout_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stopline/stopline/internal/fanout"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		n, limit int
		wantErrs int
	}{
		{name: "none", n: 0, limit: 4},
		{name: "all succeed", n: 50, limit: 4},
		{name: "every third fails, the rest still run", n: 30, limit: 8, wantErrs: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var running, peak, calls atomic.Int32
			ran := make([]bool, tt.n)
			err := fanout.Run(tt.n, tt.limit, func(i int) error {
				calls.Add(1)
				if r := running.Add(1); r > peak.Load() {
					peak.Store(r) // approximate, but never above the true peak
				}
				defer running.Add(-1)
				ran[i] = true
				if tt.wantErrs > 0 && i%3 == 0 {
					return errors.New("fail")
				}
				return nil
			})
			errs := 0
			if err != nil {
				errs = len(err.(interface{ Unwrap() []error }).Unwrap())
			}
			if int(calls.Load()) != tt.n || errs != tt.wantErrs || int(peak.Load()) > tt.limit {
				t.Errorf("calls %d, errors %d, peak %d; want %d, %d, ≤ %d", calls.Load(), errs, peak.Load(), tt.n, tt.wantErrs, tt.limit)
			}
			for i, ok := range ran {
				if !ok {
					t.Errorf("fn(%d) not called", i)
				}
			}
		})
	}
}
