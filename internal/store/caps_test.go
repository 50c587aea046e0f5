package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/policy"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

// capped runs one send step as the send activity does: claim the ledger
// row, then in the fenced transaction count it against caps (nil: not a
// capped send, no CountSend) and, unless a cap is full, "call the
// provider" (call) and record status.
func capped(t testing.TB, s *store.Store, c store.CountedSend, status contract.SendStatus, call func(), caps []policy.Cap) (until time.Time) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := s.BeginAttempt(ctx, c.WorkflowID, c.Step, c.RecipientKey, "twilio"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Fenced(ctx, c.RecipientKey, c.Scope, contract.ConsentRule{}, func(tx pgx.Tx) error {
		if _, _, _, err := s.LockAttempt(ctx, tx, c.WorkflowID, c.Step); err != nil {
			return err
		}
		if caps != nil {
			var err error
			if until, err = s.CountSend(ctx, tx, c, caps); err != nil {
				return err
			}
		}
		if !until.IsZero() {
			return s.FinishAttempt(ctx, tx, c.WorkflowID, c.Step, contract.LedgerFailed, "", "frequency_cap")
		}
		if call != nil {
			call()
		}
		return s.FinishAttempt(ctx, tx, c.WorkflowID, c.Step, status, "", "")
	})
	if err != nil {
		t.Fatal(err)
	}
	return until
}

func send(wf string, scope string) store.CountedSend {
	return store.CountedSend{WorkflowID: wf, RecipientKey: key, Scope: scope, Category: "marketing"}
}

func TestCountSend(t *testing.T) {
	s := pgtest.NewStore(t)
	three := policy.Cap{Max: 3, Per: time.Hour}
	type step struct {
		send   store.CountedSend
		status contract.SendStatus // what the "provider call" records
		caps   []policy.Cap
		full   bool // want the send deferred
	}
	steps := []step{
		{send("a", "program:acme"), contract.LedgerSent, []policy.Cap{three}, false},
		{send("b", "program:acme"), contract.LedgerFailed, []policy.Cap{three}, false},     // refused: not counted
		{send("c", "program:acme"), contract.LedgerSkipped, []policy.Cap{three}, false},    // not sent: not counted
		{send("d", "program:acme"), contract.LedgerAttempting, []policy.Cap{three}, false}, // may have gone: counted
		{send("e", "program:acme"), contract.LedgerUnresolved, []policy.Cap{}, false},      // no cap applies, still recorded: counted
		{send("f", "program:acme"), contract.LedgerSent, []policy.Cap{three}, true},        // a, d, e
		{send("f2", "+15550009999"), contract.LedgerSent, []policy.Cap{three}, false},      // another program
		{send("g", "program:acme"), contract.LedgerSent, []policy.Cap{{Max: 4, Per: time.Hour}}, false},
		{send("h", "program:acme"), contract.LedgerSent, []policy.Cap{{Max: 9, Per: time.Hour}, three}, true}, // the strictest decides
	}
	for i, st := range steps {
		before := time.Now()
		until := capped(t, s, st.send, st.status, nil, st.caps)
		if got := !until.IsZero(); got != st.full {
			t.Fatalf("step %d (%s in %s): deferred = %v (until %v), want %v", i, st.send.WorkflowID, st.send.Scope, got, until, st.full)
		}
		// Full: until the third-newest counted send (d, then e) leaves the hour.
		if st.full && (until.Before(before.Add(time.Hour-time.Minute)) || until.After(time.Now().Add(time.Hour))) {
			t.Errorf("step %d: until %v, want about an hour from now", i, until)
		}
	}
	// Another recipient is counted apart.
	other := send("x", "program:acme")
	other.RecipientKey = "other-recipient-key"
	if until := capped(t, s, other, contract.LedgerSent, nil, []policy.Cap{three}); !until.IsZero() {
		t.Errorf("another recipient deferred until %v", until)
	}
	// A retry of a counted step does not count itself.
	if until := capped(t, s, send("a", "program:acme"), contract.LedgerSent, nil, []policy.Cap{{Max: 5, Per: time.Hour}}); !until.IsZero() {
		t.Errorf("the retry of a counted step deferred until %v", until)
	}
}

// Counts leave with the period.
func TestCountSendRollingPeriod(t *testing.T) {
	s := pgtest.NewStore(t)
	one := policy.Cap{Max: 1, Per: 500 * time.Millisecond}
	if until := capped(t, s, send("a", "p"), contract.LedgerSent, nil, []policy.Cap{one}); !until.IsZero() {
		t.Fatal("first send deferred")
	}
	until := capped(t, s, send("b", "p"), contract.LedgerSent, nil, []policy.Cap{one})
	if until.IsZero() {
		t.Fatal("second send within the period was not deferred")
	}
	time.Sleep(time.Until(until) + 50*time.Millisecond)
	if until := capped(t, s, send("b", "p"), contract.LedgerSent, nil, []policy.Cap{one}); !until.IsZero() {
		t.Errorf("send after the period deferred until %v", until)
	}
}

// Concurrent sends of one recipient and program, each holding its fenced
// transaction across a slow provider call: with the exclusive cap lock no
// recipient gets more than the cap; counting under the recipient's shared
// consent lock only (as sends held it before caps) lets them through.
func TestCountSendRace(t *testing.T) {
	tests := []struct {
		name       string
		lock       string // "" keeps the cap lock
		violations bool
	}{
		{"exclusive cap lock", "", false},
		{"shared lock only", `SELECT pg_advisory_xact_lock_shared(hashtextextended('cap:' || $1, 0))`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.lock != "" {
				defer store.SetCapLock(tt.lock)()
			}
			s := pgtest.NewStore(t)
			const recipients, sendsEach = 5, 6
			cap3 := policy.Cap{Max: 3, Per: time.Hour}
			var (
				mu       sync.Mutex
				accepted = map[string]int{}
				wg       sync.WaitGroup
				start    = make(chan struct{})
			)
			for r := range recipients {
				for j := range sendsEach {
					wg.Add(1)
					go func() {
						defer wg.Done()
						c := send(fmt.Sprintf("wf-%d-%d", r, j), "program:acme")
						c.RecipientKey = fmt.Sprintf("race-recipient-%d", r)
						<-start
						capped(t, s, c, contract.LedgerSent, func() {
							mu.Lock()
							accepted[c.RecipientKey]++
							mu.Unlock()
							time.Sleep(30 * time.Millisecond) // the provider call
							if tt.violations {
								// The control: hold the call until more sends of
								// this recipient than the cap are inside (bounded),
								// so a lock that lets them in shows every time.
								deadline := time.Now().Add(2 * time.Second)
								for time.Now().Before(deadline) {
									mu.Lock()
									n := accepted[c.RecipientKey]
									mu.Unlock()
									if n > cap3.Max {
										break
									}
									time.Sleep(5 * time.Millisecond)
								}
							}
						}, []policy.Cap{cap3})
					}()
				}
			}
			close(start)
			wg.Wait()
			violations, total := 0, 0
			for _, n := range accepted {
				total += n
				if n > cap3.Max {
					violations++
				}
			}
			t.Logf("%d sends accepted for %d recipients (cap %v); recipients over the cap: %d", total, recipients, cap3, violations)
			if got := violations > 0; got != tt.violations {
				t.Errorf("recipients over the cap: %d, want violations %v", violations, tt.violations)
			}
			if !tt.violations && total != recipients*cap3.Max {
				t.Errorf("accepted %d, want exactly %d (the cap, per recipient)", total, recipients*cap3.Max)
			}
		})
	}
}

// BenchmarkSendFence measures what the cap check adds to a send's ledger
// claim and fenced transaction: the cap lock, one count per cap and the
// counted_at update. Each iteration runs every variant once, in turn, so
// a shared machine's changing load falls on all of them alike; each
// variant's mean is reported as its own metric (ms/send).
func BenchmarkSendFence(b *testing.B) {
	s := pgtest.NewStore(b)
	variants := []struct {
		name string
		caps []policy.Cap
	}{
		{"uncapped", nil}, // transactional, or a journey from before caps
		{"no-cap-applies", []policy.Cap{}},
		{"state-cap", []policy.Cap{{Max: 3, Per: 24 * time.Hour}}},
		{"state+program", []policy.Cap{{Max: 3, Per: 24 * time.Hour}, {Max: 2, Per: time.Hour}}},
	}
	spent := make([]time.Duration, len(variants))
	i := 0
	for b.Loop() {
		i++
		for v, variant := range variants {
			c := send(fmt.Sprintf("bench-%s-%d", variant.name, i), "program:acme")
			c.RecipientKey = fmt.Sprintf("bench-recipient-%d", i) // never full
			t0 := time.Now()
			capped(b, s, c, contract.LedgerSent, nil, variant.caps)
			spent[v] += time.Since(t0)
		}
	}
	for v, variant := range variants {
		b.ReportMetric(float64(spent[v].Microseconds())/1000/float64(i), "ms/"+variant.name)
	}
}
