package webhook

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// Redriver delivers committed keyword signals to the recipients' Recipient
// workflows with SignalWithStart. It is the only path signals take, so they
// arrive in commit order; when Temporal is unreachable the rows stay pending
// and are delivered once it is back. A Postgres advisory lock keeps one
// re-driver active across worker processes.
type Redriver struct {
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	Logger    *slog.Logger
	// Interval between sweeps when nothing wakes it; default 1s.
	Interval time.Duration

	wake chan struct{}
}

// NewRedriver returns a re-driver; call Run to start it.
func NewRedriver(st *store.Store, c client.Client, taskQueue string, log *slog.Logger) *Redriver {
	return &Redriver{Store: st, Temporal: c, TaskQueue: taskQueue, Logger: log, wake: make(chan struct{}, 1)}
}

// Wake asks for a sweep now (non-blocking).
func (r *Redriver) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run sweeps until ctx ends.
func (r *Redriver) Run(ctx context.Context) {
	interval := r.Interval
	if interval == 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-t.C:
		}
		if _, err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
			r.Logger.Warn("keyword signals pending; will retry", "err", err)
		}
	}
}

// Sweep delivers pending signals until none are left or one fails. A
// recipient's signals go in commit order; after a failure the recipient's
// later signals wait for the next sweep, so they never overtake each other.
func (r *Redriver) Sweep(ctx context.Context) (delivered int, err error) {
	for {
		n, more, err := r.batch(ctx)
		delivered += n
		if err != nil || !more {
			return delivered, err
		}
	}
}

func (r *Redriver) batch(ctx context.Context) (n int, more bool, err error) {
	const size = 500
	read, n, err := r.Store.Redrive(ctx, size, func(msgs []contract.Inbound) ([]int64, error) {
		return r.signalAll(ctx, msgs)
	})
	return n, read == size && err == nil, err
}

// signalAll signals msgs (oldest first) with recipients in parallel and
// each recipient's messages in order. A failure stops that recipient's
// delivery only; its undelivered messages stay pending for the next sweep.
func (r *Redriver) signalAll(ctx context.Context, msgs []contract.Inbound) ([]int64, error) {
	var queues [][]contract.Inbound
	index := map[string]int{} // recipient key -> queue
	for _, m := range msgs {
		i, ok := index[m.RecipientKey]
		if !ok {
			i = len(queues)
			index[m.RecipientKey] = i
			queues = append(queues, nil)
		}
		queues[i] = append(queues[i], m)
	}
	signaled := make([]int, len(queues)) // how many of each queue went out
	var g errgroup.Group                 // a failed recipient does not stop the others
	g.SetLimit(32)
	for i, q := range queues {
		g.Go(func() error {
			for _, m := range q {
				if err := r.signal(ctx, m); err != nil {
					return err
				}
				signaled[i]++
			}
			return nil
		})
	}
	err := g.Wait()
	var done []int64
	for i, q := range queues {
		for _, m := range q[:signaled[i]] {
			done = append(done, m.ID)
		}
	}
	return done, err
}

func (r *Redriver) signal(ctx context.Context, m contract.Inbound) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return workflows.SignalRecipient(ctx, r.Temporal, r.TaskQueue, m)
}
