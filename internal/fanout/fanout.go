// Package fanout runs many independent calls with bounded parallelism.
package fanout

import (
	"errors"

	"golang.org/x/sync/errgroup"
)

// Run calls fn(i) for every i in [0, n), at most limit at a time, and
// returns the errors of all calls, joined. One call failing does not stop
// the others. Callers keep per-call results in slices indexed by i.
func Run(n, limit int, fn func(i int) error) error {
	var g errgroup.Group
	g.SetLimit(limit)
	errs := make([]error, n)
	for i := range n {
		g.Go(func() error {
			errs[i] = fn(i)
			return nil
		})
	}
	_ = g.Wait() // the calls report through errs
	return errors.Join(errs...)
}
