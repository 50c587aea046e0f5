package inbound

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/stopline/stopline/internal/consent"
	"github.com/stopline/stopline/workflows"
)

// Redriver delivers committed keyword signals to the recipients' OptOut
// workflows with SignalWithStart. It is the only path signals take, so they
// arrive in commit order; when Temporal is unreachable the rows stay pending
// and are delivered once it is back. A Postgres advisory lock keeps one
// re-driver active across worker processes.
type Redriver struct {
	Store     *consent.Store
	Temporal  client.Client
	TaskQueue string
	Logger    *slog.Logger
	// Interval between sweeps when nothing wakes it; default 1s.
	Interval time.Duration

	wake chan struct{}
}

// NewRedriver returns a re-driver; call Run to start it.
func NewRedriver(store *consent.Store, c client.Client, taskQueue string, log *slog.Logger) *Redriver {
	return &Redriver{Store: store, Temporal: c, TaskQueue: taskQueue, Logger: log, wake: make(chan struct{}, 1)}
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
	var sendErr error
	err = pgx.BeginFunc(ctx, r.Store.Pool(), func(tx pgx.Tx) error {
		msgs, locked, err := consent.PendingSignals(ctx, tx, size)
		if err != nil || !locked {
			return err
		}
		var done []int64
		done, sendErr = r.deliver(ctx, msgs)
		if len(done) > 0 {
			// Committed even when another recipient's signal failed, or
			// these would all be delivered again next sweep.
			if err := consent.MarkSignaled(ctx, tx, done); err != nil {
				return err
			}
		}
		n, more = len(done), len(msgs) == size && sendErr == nil
		return nil
	})
	return n, more, errors.Join(err, sendErr)
}

// deliver signals msgs (oldest first) with recipients in parallel and each
// recipient's messages in order. A failure stops that recipient's delivery
// only; its undelivered messages stay pending for the next sweep.
func (r *Redriver) deliver(ctx context.Context, msgs []consent.Inbound) ([]int64, error) {
	byRecipient := map[string][]consent.Inbound{}
	var order []string
	for _, m := range msgs {
		if _, ok := byRecipient[m.RecipientKey]; !ok {
			order = append(order, m.RecipientKey)
		}
		byRecipient[m.RecipientKey] = append(byRecipient[m.RecipientKey], m)
	}
	var (
		mu   sync.Mutex
		done []int64
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 32)
	)
	for _, key := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func(queue []consent.Inbound) {
			defer func() { <-sem; wg.Done() }()
			for _, m := range queue {
				if err := r.signal(ctx, m); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				mu.Lock()
				done = append(done, m.ID)
				mu.Unlock()
			}
		}(byRecipient[key])
	}
	wg.Wait()
	return done, errors.Join(errs...)
}

func (r *Redriver) signal(ctx context.Context, m consent.Inbound) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sig := workflows.KeywordSignal{
		InboundID: m.ID, Provider: m.Provider, MessageID: m.MessageID, Intent: m.Intent, Keyword: m.Keyword,
		Language: m.Language, Scope: m.Scope, Phone: m.From, Sender: m.To, ProviderHandled: m.ProviderHandled,
		ReceivedAt: m.ReceivedAt, CommittedAt: m.StoredAt,
	}
	_, err := r.Temporal.SignalWithStartWorkflow(ctx, workflows.OptOutID(m.RecipientKey), workflows.SignalKeyword, sig,
		client.StartWorkflowOptions{
			TaskQueue:                r.TaskQueue,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		},
		workflows.OptOut, workflows.OptOutState{RecipientKey: m.RecipientKey})
	return err
}
