package store_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
)

// migrationVersions lists the versions of the migration files on disk, so
// the tests keep working as migrations are added.
func migrationVersions(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var versions []int
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			t.Fatalf("migration %s: %v", e.Name(), err)
		}
		versions = append(versions, v)
	}
	slices.Sort(versions)
	if len(versions) == 0 {
		t.Fatal("no migrations found")
	}
	return versions
}

// appliedVersions returns every row of schema_migrations, duplicates
// included (the primary key should forbid them, but that is what we check).
func appliedVersions(t *testing.T, s *store.Store) []int {
	t.Helper()
	rows, err := s.Pool().Query(context.Background(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func openStore(t *testing.T, url string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestMigrateIsIdempotent(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, pgtest.NewDatabase(t))
	want := migrationVersions(t)

	for run := 1; run <= 2; run++ {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate run %d: %v", run, err)
		}
		if got := appliedVersions(t, s); !slices.Equal(got, want) {
			t.Fatalf("after run %d schema_migrations = %v, want %v", run, got, want)
		}
	}
	// The schema is usable after the second run (nothing was half-redone).
	if _, err := s.Record(ctx, optOut("r1", "+14155550100")); err != nil {
		t.Fatalf("Record after re-migration: %v", err)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	const migrators = 8
	url := pgtest.NewDatabase(t)
	want := migrationVersions(t)

	// Each migrator has its own pool, like separate worker processes.
	stores := make([]*store.Store, migrators)
	for i := range stores {
		stores[i] = openStore(t, url)
	}
	start := make(chan struct{})
	errs := make([]error, migrators)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			<-start
			errs[i] = s.Migrate(context.Background())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
	if got := appliedVersions(t, stores[0]); !slices.Equal(got, want) {
		t.Fatalf("schema_migrations = %v, want each of %v once", got, want)
	}
	for _, table := range []string{"consent", "consent_events", "send_ledger", "sandbox_messages", "active_journeys"} {
		var exists bool
		if err := stores[0].Pool().QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists); err != nil || !exists {
			t.Errorf("table %s missing after concurrent migration (err %v)", table, err)
		}
	}
}
