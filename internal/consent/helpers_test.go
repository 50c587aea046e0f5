package consent_test

import (
	"context"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/consent"
)

// waitForLockWaiters polls until at least n sessions of the store's database
// are blocked on a lock. It is how the tests prove that an operation is
// waiting for a lock (rather than merely slow) before they release it.
func waitForLockWaiters(t *testing.T, s *consent.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		err := s.Pool().QueryRow(context.Background(), `
			SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			t.Fatalf("pg_stat_activity: %v", err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d session(s) blocked on a lock; %d blocked", n, waiting)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recv waits for a value on ch, failing the test after a generous timeout so
// that a deadlock fails fast instead of hanging the package.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(15 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func optOut(key, scope string) consent.Change {
	return consent.Change{RecipientKey: key, Scope: scope, To: consent.OptedOut, Source: consent.SourceKeyword, RawText: "STOP"}
}

func optIn(key, scope string) consent.Change {
	return consent.Change{RecipientKey: key, Scope: scope, To: consent.OptedIn, Source: consent.SourceKeyword, RawText: "START"}
}
