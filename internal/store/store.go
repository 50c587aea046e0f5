// Package store is stopline's system of record in Postgres, and the only
// package that speaks SQL. One file a table group: consent and its event log
// (consentlog.go), inbound messages (inbound.go) and their re-driver queue
// (redrive.go), the journey registry (journeys.go), the send ledger
// (ledger.go), status-callback opt-outs (statusoptouts.go), the sandbox
// outbox (sandbox.go), the per-recipient data keys that seal personal data
// (datakeys.go) and their re-wrapping (rewrap.go), erasure, retention and
// the audit log (privacy.go) and the migrations (migrate.go).
//
// Sends and consent changes of one recipient are serialised with a Postgres
// advisory lock on the recipient key: a send holds it shared from its consent
// check until the provider has answered, an opt-out takes it exclusively to
// commit. So every send either was accepted before the opt-out committed, or
// sees the opt-out.
package store

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultURL is the local Postgres stopline and its tests use when no URL
// is configured: trust auth over TCP, the postgres database.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Store is the Postgres consent store. It is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	keyring Keyring   // wraps data keys; nil: stored unwrapped
	keys    *keyCache // the intake's unwrapped data keys
	// sealFailure hears of texts stored unsealed (OnSealFailure).
	sealFailure func(table string, err error)
	// benchPlainIntake: see BenchPlainIntake.
	benchPlainIntake atomic.Bool
}

// DefaultMaxConns bounds the pool when DATABASE_URL does not: a send holds a
// connection across its provider call, so the pool caps concurrent sends.
const DefaultMaxConns = 32

// Open connects to Postgres and checks the connection.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	return OpenSized(ctx, databaseURL, 0)
}

// OpenSized is Open with a pool of maxConns connections (0: as Open), for
// a pool kept apart for one kind of work, such as webhook intake, so that
// it and the sends cannot take each other's connections.
func OpenSized(ctx context.Context, databaseURL string, maxConns int32) (*Store, error) {
	return OpenTraced(ctx, databaseURL, maxConns, nil)
}

// OpenTraced is OpenSized with tracer (nil: none) seeing every statement,
// so a benchmark can count the round trips stopline makes.
func OpenTraced(ctx context.Context, databaseURL string, maxConns int32, tracer pgx.QueryTracer) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if tracer != nil {
		cfg.ConnConfig.Tracer = tracer
	}
	switch {
	case maxConns > 0:
		cfg.MaxConns = maxConns
	case cfg.MaxConns < DefaultMaxConns && !strings.Contains(databaseURL, "pool_max_conns"):
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("DATABASE_URL: cannot reach Postgres at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return &Store{pool: pool, keys: &keyCache{}}, nil
}

// Pool is for test and benchmark harnesses that inspect or load the
// database directly; production code calls the Store's methods.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that Postgres answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// rowQuerier and execer are what a pool and a transaction have in common.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}
