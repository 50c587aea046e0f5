package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/testkit"
)

const (
	// benchSecret keys recipient hashes in every process of the bench.
	benchSecret = "stopline-bench-secret-0123456789"
	// benchPayloadKeys encrypts every payload, of stopline and of the
	// baselines alike, as production does: ratios compare like with like.
	benchPayloadKeys = "bench:c3RvcGxpbmUtYmVuY2gtcGF5bG9hZC1rZXktMDEyMzQ="
)

// workerOptions are shared by every stopline worker and every baseline
// worker of the bench, so both sides run with the same settings: the SDK
// defaults, as the worker binary uses.
var workerOptions = worker.Options{}

// benchApp is what every stopline of the bench shares. Its Temporal
// client encrypts with benchPayloadKeys (see benchCodec), so the app's own
// client must too.
func benchApp(c *app.Config) {
	c.RecipientKeySecret = benchSecret
	c.Payload = codec.Config{Keys: benchPayloadKeys}
	c.WorkerOptions = workerOptions
}

// benchCodec makes a client encrypt with benchPayloadKeys.
func benchCodec(o *client.Options) {
	pc, err := codec.Parse(benchPayloadKeys)
	if err != nil {
		panic(err) // a constant
	}
	codec.Apply(o, pc)
}

// dial dials a running server with the bench's codec.
func dial(ctx context.Context, addr, ns string) (*stack.Temporal, error) {
	return stack.DialTemporal(ctx, addr, ns, benchCodec)
}

// startApp starts stopline in this process for a scenario: an embedded
// Temporal server of its own, a fresh database named after tag, the fake
// Twilio and the app; adjust edits the app's config (task queue, webhooks).
func startApp(ctx context.Context, cfg *config, tag string, adjust func(*app.Config)) (*stack.Stack, error) {
	o := stack.Options{AdminURL: cfg.adminURL, DatabaseName: dbPrefix() + tag, Dial: []func(*client.Options){benchCodec}}
	return stack.Start(ctx, o, benchApp, adjust)
}

// newDatabase creates an empty database named after tag and returns its URL
// and a function that drops it.
func newDatabase(ctx context.Context, cfg *config, tag string) (string, func(), error) {
	return pgtest.Create(ctx, cfg.adminURL, dbPrefix()+tag)
}

// newStore is newDatabase, migrated, with a consent store on it; drop
// closes the store and drops the database.
func newStore(ctx context.Context, cfg *config, tag string) (*store.Store, string, func(), error) {
	dbURL, drop, err := newDatabase(ctx, cfg, tag)
	if err != nil {
		return nil, "", nil, err
	}
	st, err := store.Open(ctx, dbURL)
	if err == nil {
		if err = st.Migrate(ctx); err != nil {
			st.Close()
		}
	}
	if err != nil {
		drop()
		return nil, "", nil, err
	}
	return st, dbURL, func() { st.Close(); drop() }, nil
}

// number returns the i-th of many distinct numbers that phone.Normalize
// accepts (real US area codes, exchanges 200-999).
func number(i int) string {
	areas := []int{415, 212, 312, 617, 646, 202, 303, 206, 512, 213}
	line := i % 10000
	exchange := 200 + (i/10000)%800
	area := areas[(i/8_000_000)%len(areas)]
	return fmt.Sprintf("+1%d%d%04d", area, exchange, line)
}

// smsJourney is a journey of k SMS steps and no waits.
func smsJourney(k int) *journey.Definition {
	steps := make([]string, k)
	for i := range steps {
		steps[i] = fmt.Sprintf(`{"sms": "Hi {{.first_name}}, message %d of %d. Reply STOP to opt out"}`, i+1, k)
	}
	return testkit.MustJourney(`{"name": "bench", "category": "marketing",
		"sender": ` + testkit.AnyHourSender + `,
		"steps": [` + strings.Join(steps, ",") + `]}`)
}

// waitingJourney waits an hour before its only SMS.
func waitingJourney() *journey.Definition {
	return testkit.MustJourney(`{"name": "bench-wait", "category": "marketing",
		"sender": ` + testkit.AnyHourSender + `,
		"steps": [{"wait": "1h"}, {"sms": "Hi {{.first_name}}, your code is {{.code}}. Reply STOP to opt out"}]}`)
}

// dbPrefix names the databases of this bench process.
func dbPrefix() string { return fmt.Sprintf("stopline_bench_%d_", os.Getpid()) }

// staleName matches the databases of bench processes (stopline_bench_<pid>_…)
// and of the official servers they start (internal/prodstack:
// temporal_<pid>_<n>, temporal_<pid>_<n>_vis).
var staleName = regexp.MustCompile(`^(?:stopline_bench_(\d+)_.+|temporal_(\d+)_\d+(?:_vis)?)$`)

// dropStaleDatabases drops databases left by bench processes that no
// longer exist (a run killed with SIGKILL, say).
func dropStaleDatabases(ctx context.Context, adminURL string) {
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return // the scenarios will report it
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'stopline\_bench\_%' OR datname LIKE 'temporal\_%'`)
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, n := range names {
		m := staleName.FindStringSubmatch(n)
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1] + m[2])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // still running
		}
		logf("dropping stale database %s", n)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+n+" WITH (FORCE)")
	}
}
