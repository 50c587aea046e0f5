// Package pgtest gives tests a fresh, migrated Postgres database of their
// own, so test packages can run in parallel against one server.
//
// The server is named by STOPLINE_TEST_DATABASE_URL (default: the local
// postgres database over TCP with trust auth). Tests fail, not skip, when it
// is unreachable: the guarantees are only proven against a real Postgres.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/internal/store"
)

// AdminURL is the server tests create their databases on.
func AdminURL() string {
	if u := os.Getenv("STOPLINE_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return store.DefaultURL
}

var seq atomic.Int64

// NewDatabase creates an empty database, drops it when the test ends and
// returns its URL.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, drop, err := Create(ctx, AdminURL(), UniqueName())
	if err != nil {
		tb.Fatalf("pgtest: %v (STOPLINE_TEST_DATABASE_URL=%s)", err, AdminURL())
	}
	tb.Cleanup(drop)
	return u
}

// UniqueName is a database name no other test process uses.
func UniqueName() string {
	return fmt.Sprintf("stopline_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, seq.Add(1))
}

// Create creates an empty database called name on the server of adminURL,
// replacing one left by an earlier run, and returns its URL and a function
// that drops it.
func Create(ctx context.Context, adminURL, name string) (string, func(), error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("admin URL: %w", err)
	}
	u.Path = "/" + name
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("cannot reach Postgres at %s: %w", adminURL, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return "", nil, fmt.Errorf("drop stale database %s: %w", name, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if c, err := pgx.Connect(ctx, adminURL); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(ctx)
		}
	}
	return u.String(), drop, nil
}

// NewStore returns a migrated consent store on a fresh database.
func NewStore(tb testing.TB) *store.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, NewDatabase(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	s.UseKeyring(Keyring())
	return s
}

// Keyring is the keyring test stores wrap their data keys with: the -dev
// keyring.
func Keyring() *codec.Codec {
	c, err := codec.Parse(codec.DevKeys)
	if err != nil {
		panic(err)
	}
	return c
}

// WaitForLockWaiters polls until at least n sessions of the store's database
// are blocked on a lock. It is how tests prove that an operation waits for a
// lock (rather than merely being slow) before they release it.
func WaitForLockWaiters(tb testing.TB, s *store.Store, n int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		err := s.Pool().QueryRow(context.Background(), `
			SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			tb.Fatalf("pg_stat_activity: %v", err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %d session(s) blocked on a lock; %d blocked", n, waiting)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
