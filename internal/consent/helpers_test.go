package consent_test

import (
	"testing"
	"time"

	"github.com/stopline/stopline/internal/consent"
)

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
