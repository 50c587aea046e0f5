package main

// Scenario "consent": store.Store.Check on a freshly migrated database
// loaded (with COPY) with many consent rows and audit events, against a
// primary-key lookup on the same table. Lookups run one at a time, the two
// sides interleaved, for random recipient keys (10% unknown).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

func runConsent(ctx context.Context, cfg *config) (row, error) {
	store, _, drop, err := newStore(ctx, cfg, "consent")
	if err != nil {
		return row{}, err
	}
	defer drop()
	pool := store.Pool()

	keyer := testkit.MustKeyer(benchSecret)
	keys := make([]string, cfg.consentRows)
	for i := range keys {
		keys[i] = keyer.Key(number(i))
	}
	loadStart := time.Now()
	if err := loadConsent(ctx, pool, keys); err != nil {
		return row{}, err
	}
	indexTime, err := loadEvents(ctx, pool, keys, cfg.consentEvents)
	if err != nil {
		return row{}, err
	}
	logf("consent: VACUUM ANALYZE")
	for _, q := range []string{`VACUUM (ANALYZE) consent`, `VACUUM (ANALYZE) consent_events`} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return row{}, err
		}
	}
	loadTime := time.Since(loadStart)

	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() string {
		if rng.IntN(10) == 0 {
			return keyer.Key(number(len(keys) + rng.IntN(1_000_000))) // no consent row
		}
		return keys[rng.IntN(len(keys))]
	}
	check := func(key string) error {
		_, err := store.Check(ctx, key, testkit.Sender, contract.ConsentRule{})
		return err
	}
	lookup := func(key string) error {
		var state string
		err := pool.QueryRow(ctx, `SELECT state FROM consent WHERE recipient_key = $1 AND scope = $2`, key, testkit.Sender).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	}
	timed := func(f func(string) error, key string) (time.Duration, error) {
		t := time.Now()
		err := f(key)
		return time.Since(t), err
	}

	q := cfg.consentQueries
	logf("consent: %d lookups per side (after %d warm-up)", q, q/10)
	sLat := make([]time.Duration, 0, q)
	bLat := make([]time.Duration, 0, q)
	for i := range q + q/10 {
		key := pick()
		// Alternate which side goes first, so neither benefits from the
		// other having just read the key's pages.
		first, second := check, lookup
		if i%2 == 1 {
			first, second = lookup, check
		}
		d1, err := timed(first, key)
		if err != nil {
			return row{}, err
		}
		d2, err := timed(second, key)
		if err != nil {
			return row{}, err
		}
		if i < q/10 {
			continue
		}
		if i%2 == 1 {
			d1, d2 = d2, d1
		}
		sLat, bLat = append(sLat, d1), append(bLat, d2)
	}
	s99, b99 := percentile(sLat, 99), percentile(bLat, 99)
	return row{
		stopline: ms(s99) + " p99",
		baseline: ms(b99) + " p99",
		ratio:    float64(b99) / float64(s99),
		goal:     "p99 ≤ 2 ms",
		p50:      pair(percentile(sLat, 50), percentile(bLat, 50)),
		p99:      pair(s99, b99),
		notes: fmt.Sprintf("Store.Check vs PK lookup; %d consent rows, %d consent_events loaded with COPY in %v (index build %v); %d random keys per side (10%% unknown), one at a time, interleaved",
			len(keys), cfg.consentEvents, loadTime.Round(time.Second), indexTime.Round(time.Second), q),
	}, nil
}

// loadConsent copies one consent row per key: every 10th recipient opted
// out of everything ('*'), the others opted in or out of the bench's sender.
func loadConsent(ctx context.Context, pool *pgxpool.Pool, keys []string) error {
	logf("consent: loading %d consent rows", len(keys))
	base := time.Now().Add(-365 * 24 * time.Hour)
	i := 0
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"consent"}, []string{"recipient_key", "scope", "state", "source", "updated_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(keys) {
				return nil, nil
			}
			scope, state := testkit.Sender, string(contract.OptedIn)
			switch {
			case i%10 == 0:
				scope, state = contract.AllScopes, string(contract.OptedOut)
			case i%3 == 0:
				state = string(contract.OptedOut)
			}
			r := []any{keys[i], scope, state, "import", base.Add(time.Duration(i) * time.Second)}
			i++
			return r, nil
		}))
	if err != nil {
		return fmt.Errorf("copy consent: %w", err)
	}
	return nil
}

// loadEvents copies n audit events of random recipients. The table's
// secondary indexes are dropped during the copy and rebuilt after it (the
// same end state, much faster than maintaining them row by row); it
// returns the time the rebuild took.
func loadEvents(ctx context.Context, pool *pgxpool.Pool, keys []string, n int) (time.Duration, error) {
	rows, err := pool.Query(ctx, `
		SELECT indexname, indexdef FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename = 'consent_events'
		  AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'consent_events'::regclass)`)
	if err != nil {
		return 0, err
	}
	type index struct{ name, def string }
	indexes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var ix index
		return ix, r.Scan(&ix.name, &ix.def)
	})
	if err != nil {
		return 0, err
	}
	for _, ix := range indexes {
		if _, err := pool.Exec(ctx, "DROP INDEX "+pgx.Identifier{ix.name}.Sanitize()); err != nil {
			return 0, err
		}
	}

	logf("consent: loading %d consent_events", n)
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Now().Add(-365 * 24 * time.Hour)
	began := time.Now()
	step := max(n/10, 1_000_000)
	i := 0
	_, err = pool.CopyFrom(ctx, pgx.Identifier{"consent_events"},
		[]string{"recipient_key", "scope", "from_state", "to_state", "source", "raw_text", "provider", "provider_message_id", "sender", "created_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			if i > 0 && i%step == 0 {
				logf("consent: %d/%d events (%.0f rows/s)", i, n, rate(i, time.Since(began)))
			}
			var from any // NULL for a first change
			to, text := string(contract.OptedOut), "STOP"
			if i%2 == 1 {
				from, to, text = string(contract.OptedOut), string(contract.OptedIn), "START"
			}
			r := []any{keys[rng.IntN(len(keys))], testkit.Sender, from, to, "keyword", text, "twilio",
				fmt.Sprintf("SM%032x", i), testkit.Sender, base.Add(time.Duration(i) * 3 * time.Second)}
			i++
			return r, nil
		}))
	if err != nil {
		return 0, fmt.Errorf("copy consent_events: %w", err)
	}
	logf("consent: %d events copied in %v; rebuilding %d index(es)", n, time.Since(began).Round(time.Second), len(indexes))

	indexStart := time.Now()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET maintenance_work_mem = '256MB'`); err != nil {
		return 0, err
	}
	for _, ix := range indexes {
		if _, err := conn.Exec(ctx, ix.def); err != nil {
			return 0, fmt.Errorf("rebuild index %s: %w", ix.name, err)
		}
	}
	if _, err := conn.Exec(ctx, `RESET maintenance_work_mem`); err != nil {
		return 0, err
	}
	return time.Since(indexStart), nil
}
