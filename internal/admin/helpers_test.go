package admin

import (
	"context"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustAllowed returns whether the store lets key receive from scope.
func mustAllowed(t *testing.T, s *store.Store, key, scope string) bool {
	t.Helper()
	d, err := s.Check(testContext(t), key, scope, contract.ConsentRule{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Allowed
}

func mustEvents(t *testing.T, s *store.Store, key string) []store.Event {
	t.Helper()
	ev, err := s.Events(testContext(t), key)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
