package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

func TestSendStatusFinal(t *testing.T) {
	tests := []struct {
		status contract.SendStatus
		final  bool
	}{
		{contract.LedgerAttempting, false},
		{contract.LedgerFailed, false}, // the provider refused: it may be tried again
		{contract.LedgerSent, true},
		{contract.LedgerSkipped, true},
		{contract.LedgerUnresolved, true}, // never resend what may have gone out
	}
	for _, tc := range tests {
		if got := tc.status.Final(); got != tc.final {
			t.Errorf("%q.Final() = %v, want %v", tc.status, got, tc.final)
		}
	}
}

func TestBeginAttempt(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := t.Context()

	e, fresh, err := s.BeginAttempt(ctx, "wf1", 0, key, "twilio")
	if err != nil {
		t.Fatal(err)
	}
	if !fresh || e.Status != contract.LedgerAttempting || e.Attempts != 1 || e.WorkflowID != "wf1" ||
		e.Step != 0 || e.RecipientKey != key || e.Provider != "twilio" || e.AttemptedAt.IsZero() {
		t.Fatalf("first BeginAttempt = %+v, fresh %v", e, fresh)
	}

	again, fresh, err := s.BeginAttempt(ctx, "wf1", 0, key, "twilio")
	if err != nil {
		t.Fatal(err)
	}
	// An attempting row is handed back as is: a call may be under way.
	if fresh || again.Status != contract.LedgerAttempting || again.Attempts != 1 || !again.AttemptedAt.Equal(e.AttemptedAt) {
		t.Errorf("second BeginAttempt = %+v, fresh %v; want the same attempting row, not fresh", again, fresh)
	}

	// Other steps and workflows are rows of their own.
	for _, k := range []struct {
		wf   string
		step int
	}{{"wf1", 1}, {"wf2", 0}} {
		if _, fresh, err := s.BeginAttempt(ctx, k.wf, k.step, key, "twilio"); err != nil || !fresh {
			t.Errorf("BeginAttempt(%s, %d) fresh = %v, err %v; want a fresh row", k.wf, k.step, fresh, err)
		}
	}
}

func TestBeginAttemptConcurrentClaimsOnce(t *testing.T) {
	const claimers = 16
	s := pgtest.NewStore(t)

	start := make(chan struct{})
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		fresh  int
		failed []error
	)
	for range claimers {
		wg.Go(func() {
			<-start
			_, f, err := s.BeginAttempt(context.Background(), "wf", 3, key, "twilio")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, err)
			}
			if f {
				fresh++
			}
		})
	}
	close(start)
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("BeginAttempt errors: %v", failed)
	}
	if fresh != 1 {
		t.Errorf("%d of %d concurrent claims were fresh, want exactly 1", fresh, claimers)
	}
	rows := pgtest.Ledger(t, s, "wf")
	if len(rows) != 1 || rows[0].Attempts != 1 || rows[0].Status != contract.LedgerAttempting {
		t.Errorf("ledger = %+v, want one attempting row with 1 attempt", rows)
	}
}

// Two steps' lookups may find the same message at the provider (the same
// text to the same number); only the first to record it gets it, and the
// other learns so (ErrMessageTaken), even when the first has not committed
// yet.
func TestAdoptMessageOnce(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := t.Context()
	for step, provider := range []string{"twilio", "twilio", "sinch"} {
		if _, _, err := s.BeginAttempt(ctx, "wf", step, key, provider); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := s.AdoptMessage(ctx, tx, "wf", 0, "twilio", "SM1"); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() { second <- s.AdoptMessage(ctx, nil, "wf", 1, "twilio", "SM1") }()
	pgtest.WaitForLockWaiters(t, s, 1) // it waits for the first to end
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := testkit.Recv(t, second, "second AdoptMessage"); !errors.Is(err, store.ErrMessageTaken) {
		t.Errorf("second adoption of SM1: %v, want ErrMessageTaken", err)
	}
	if err := s.AdoptMessage(ctx, nil, "wf", 1, "twilio", "SM2"); err != nil {
		t.Errorf("adoption of another message: %v", err)
	}
	// Another provider's message of the same ID is another message.
	if err := s.AdoptMessage(ctx, nil, "wf", 2, "sinch", "SM1"); err != nil {
		t.Errorf("adoption of sinch's SM1: %v", err)
	}
	want := map[int]string{0: "SM1", 1: "SM2"}
	for _, e := range pgtest.Ledger(t, s, "wf") {
		if e.Step < 2 && (e.Status != contract.LedgerSent || e.ProviderMessageID != want[e.Step]) {
			t.Errorf("step %d: %s %q, want sent %q", e.Step, e.Status, e.ProviderMessageID, want[e.Step])
		}
	}
}

func TestFinishAttemptAndRetry(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := t.Context()

	first, _, err := s.BeginAttempt(ctx, "wf", 0, key, "twilio")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAttempt(ctx, nil, "wf", 0, contract.LedgerFailed, "", "rate_limited"); err != nil {
		t.Fatal(err)
	}
	// A refused call may be made again: the row goes back to attempting.
	// (fresh is not pinned here: see TestSendSMSRetriesRefusedSendWithoutFinder.)
	retry, _, err := s.BeginAttempt(ctx, "wf", 0, key, "twilio")
	if err != nil {
		t.Fatal(err)
	}
	if retry.Status != contract.LedgerAttempting || retry.Attempts != 2 || !retry.AttemptedAt.After(first.AttemptedAt) {
		t.Errorf("BeginAttempt after failure = %+v; want attempting, 2 attempts, a later attempted_at than %v",
			retry, first.AttemptedAt)
	}

	if err := s.FinishAttempt(ctx, nil, "wf", 0, contract.LedgerSent, "SM123", ""); err != nil {
		t.Fatal(err)
	}
	// A final row is returned unchanged and not counted as an attempt.
	done, fresh, err := s.BeginAttempt(ctx, "wf", 0, key, "twilio")
	if err != nil {
		t.Fatal(err)
	}
	if fresh || done.Status != contract.LedgerSent || done.ProviderMessageID != "SM123" || done.Attempts != 2 {
		t.Errorf("BeginAttempt after sent = %+v (fresh %v); want sent SM123 with 2 attempts", done, fresh)
	}

	// Ledger lists rows by step.
	if _, _, err := s.BeginAttempt(ctx, "wf", 2, key, "twilio"); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAttempt(ctx, nil, "wf", 2, contract.LedgerSkipped, "", "opted_out"); err != nil {
		t.Fatal(err)
	}
	rows := pgtest.Ledger(t, s, "wf")
	if len(rows) != 2 || rows[0].Step != 0 || rows[1].Step != 2 || rows[1].Status != contract.LedgerSkipped || rows[1].Reason != "opted_out" {
		t.Errorf("Ledger = %+v", rows)
	}
}

func TestLockAttemptBlocksUntilCommit(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	if _, _, err := s.BeginAttempt(ctx, "wf", 0, key, "twilio"); err != nil {
		t.Fatal(err)
	}

	tx1, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback(ctx)
	status, _, _, err := s.LockAttempt(ctx, tx1, "wf", 0)
	if err != nil || status != contract.LedgerAttempting {
		t.Fatalf("LockAttempt in tx1 = %q, %v", status, err)
	}

	type lockOut struct {
		status contract.SendStatus
		id     string
		err    error
	}
	second := make(chan lockOut, 1)
	go func() {
		tx2, err := s.Pool().Begin(ctx)
		if err != nil {
			second <- lockOut{err: err}
			return
		}
		defer tx2.Rollback(ctx)
		st, id, _, err := s.LockAttempt(ctx, tx2, "wf", 0)
		second <- lockOut{st, id, err}
	}()

	pgtest.WaitForLockWaiters(t, s, 1)
	select {
	case r := <-second:
		t.Fatalf("second LockAttempt returned %+v while tx1 held the row", r)
	default:
	}

	if err := s.FinishAttempt(ctx, tx1, "wf", 0, contract.LedgerSent, "SM9", ""); err != nil {
		t.Fatal(err)
	}
	if err := tx1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := testkit.Recv(t, second, "second LockAttempt")
	if r.err != nil || r.status != contract.LedgerSent || r.id != "SM9" {
		t.Errorf("second LockAttempt = %+v; want the committed outcome sent/SM9", r)
	}
}

func TestLockAttemptMissingRow(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := t.Context()
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, _, _, err := s.LockAttempt(ctx, tx, "nope", 0); err == nil {
		t.Error("LockAttempt of a missing row succeeded")
	}
}

// SettleAttempt gives an open attempt the verdict, under the row's lock:
// it waits for an attempt that holds the row, leaves what that one
// committed unless it left the row open, and never touches a row that is
// not open. AttemptOpen sees the open row before the settle, and none
// after.
func TestSettleAttempt(t *testing.T) {
	tests := []struct {
		name  string
		begin contract.SendStatus // the row before the settle: "" none, attempting, failed
		held  contract.SendStatus // an attempt holds the row, then commits this ("" holds nothing; attempting leaves it open)
		want  contract.SendStatus
		id    string
		asked int // verdicts asked for
	}{
		{"an open attempt gets the verdict", contract.LedgerAttempting, "", contract.LedgerSkipped, "", 1},
		{"a missing row is created and settled", "", "", contract.LedgerSkipped, "", 1},
		{"an attempt holding the row that records sent wins", contract.LedgerAttempting, contract.LedgerSent, contract.LedgerSent, "SM7", 0},
		{"an attempt holding the row that leaves it open is settled after it", contract.LedgerAttempting, contract.LedgerAttempting, contract.LedgerSkipped, "", 1},
		{"a failed row stands", contract.LedgerFailed, "", contract.LedgerFailed, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := pgtest.NewStore(t)
			ctx := t.Context()
			if tc.begin != "" {
				if _, _, err := s.BeginAttempt(ctx, "wf", 0, key, "twilio"); err != nil {
					t.Fatal(err)
				}
			}
			if tc.begin == contract.LedgerFailed {
				if err := s.FinishAttempt(ctx, nil, "wf", 0, contract.LedgerFailed, "", "rejected"); err != nil {
					t.Fatal(err)
				}
			}
			if open, err := s.AttemptOpen(ctx, "wf", 0); err != nil || open != (tc.begin == contract.LedgerAttempting) {
				t.Errorf("AttemptOpen before the settle = %v, %v; want %v", open, err, tc.begin == contract.LedgerAttempting)
			}
			tx, err := s.Pool().Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if tc.held != "" {
				if _, _, _, err := s.LockAttempt(ctx, tx, "wf", 0); err != nil {
					t.Fatal(err)
				}
			}
			var (
				mu                sync.Mutex
				asked             int
				committed, before bool // whether a verdict was asked before the holder committed
			)
			type out struct {
				e   store.LedgerEntry
				err error
			}
			settled := make(chan out, 1)
			go func() {
				e, err := s.SettleAttempt(ctx, "wf", 0, key, "twilio", func(store.LedgerEntry) (contract.SendStatus, string, string, error) {
					mu.Lock()
					defer mu.Unlock()
					asked++
					before = before || tc.held != "" && !committed
					return contract.LedgerSkipped, "", "cancelled", nil
				})
				settled <- out{e, err}
			}()
			if tc.held != "" {
				pgtest.WaitForLockWaiters(t, s, 1)
				if tc.held != contract.LedgerAttempting {
					if err := s.FinishAttempt(ctx, tx, "wf", 0, tc.held, tc.id, ""); err != nil {
						t.Fatal(err)
					}
				}
				mu.Lock()
				committed = true
				mu.Unlock()
				if err := tx.Commit(ctx); err != nil {
					t.Fatal(err)
				}
			}
			got := testkit.Recv(t, settled, "SettleAttempt")
			mu.Lock()
			defer mu.Unlock()
			if got.err != nil || got.e.Status != tc.want || got.e.ProviderMessageID != tc.id || asked != tc.asked || before {
				t.Errorf("SettleAttempt = %+v, %v after %d verdicts (one before the holder committed: %v); want %s %q after %d",
					got.e, got.err, asked, before, tc.want, tc.id, tc.asked)
			}
			if rows, err := s.Sends(ctx, key); err != nil || len(rows) != 1 || rows[0].Status != tc.want || rows[0].ProviderMessageID != tc.id {
				t.Errorf("ledger = %+v, %v; want one row, %s %q", rows, err, tc.want, tc.id)
			}
			if open, err := s.AttemptOpen(ctx, "wf", 0); err != nil || open {
				t.Errorf("AttemptOpen after the settle = %v, %v; want false", open, err)
			}
		})
	}
}
