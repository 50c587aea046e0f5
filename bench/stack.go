package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/consent"
	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/internal/devserver"
	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/sms/smstest"
	"github.com/stopline/stopline/internal/sms/twilio"
	"github.com/stopline/stopline/workflows"
)

const (
	// benchSecret keys recipient hashes in every process of the bench.
	benchSecret = "stopline-bench-secret-0123456789"
	// benchPayloadKeys encrypts every payload, of stopline and of the
	// baselines alike, as production does: ratios compare like with like.
	benchPayloadKeys = "bench:c3RvcGxpbmUtYmVuY2gtcGF5bG9hZC1rZXktMDEyMzQ="
	// sender is the journeys' sending number, hence their consent scope.
	sender = "+15550001111"
	// publicURL is what signed webhooks claim Twilio called.
	publicURL = "https://sms.stopline.bench"
)

// workerOptions are shared by every stopline worker and every baseline
// worker of the bench, so both sides run with the same settings: the SDK
// defaults, as the worker binary uses.
var workerOptions = worker.Options{}

var quiet = slog.New(slog.DiscardHandler)

func mustKeyer() phone.Keyer {
	k, err := phone.NewKeyer([]byte(benchSecret))
	if err != nil {
		panic(err)
	}
	return k
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

// mustJourney parses a journey definition written in the bench.
func mustJourney(js string) *journey.Definition {
	def, err := journey.Parse([]byte(js))
	if err != nil {
		panic(err)
	}
	return def
}

// senderJSON is the bench journeys' sender. Its quiet hours allow any time
// of day, so that marketing steps are not held back to the recipient's
// daytime (the policy check itself still runs before every step).
const senderJSON = `{"provider": "twilio", "from": "` + sender + `", "type": "long_code", "quiet_hours": {"start": "00:00", "end": "24:00", "legal_override": "test journeys run at any hour"}}`

// smsJourney is a journey of k SMS steps and no waits.
func smsJourney(k int) *journey.Definition {
	steps := make([]string, k)
	for i := range steps {
		steps[i] = fmt.Sprintf(`{"sms": "Hi {{.first_name}}, message %d of %d. Reply STOP to opt out"}`, i+1, k)
	}
	return mustJourney(`{"name": "bench", "category": "marketing",
		"sender": ` + senderJSON + `,
		"steps": [` + strings.Join(steps, ",") + `]}`)
}

// waitingJourney waits an hour before its only SMS.
func waitingJourney() *journey.Definition {
	return mustJourney(`{"name": "bench-wait", "category": "marketing",
		"sender": ` + senderJSON + `,
		"steps": [{"wait": "1h"}, {"sms": "Hi {{.first_name}}, your code is {{.code}}. Reply STOP to opt out"}]}`)
}

// temporalStack is an embedded Temporal server and a client of it.
type temporalStack struct {
	srv    *devserver.Server
	client client.Client
}

func startTemporal(ctx context.Context) (*temporalStack, error) {
	srv, err := devserver.Start(ctx, devserver.Options{Namespace: "default", SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		return nil, err
	}
	c, err := dial(ctx, srv.FrontendAddr(), srv.Namespace())
	if err != nil {
		srv.Stop()
		return nil, err
	}
	return &temporalStack{srv: srv, client: c}, nil
}

func dial(ctx context.Context, addr, ns string) (client.Client, error) {
	pc, err := codec.Parse(benchPayloadKeys)
	if err != nil {
		return nil, err
	}
	opts := client.Options{HostPort: addr, Namespace: ns, Logger: sdklog.NewStructuredLogger(quiet)}
	codec.Apply(&opts, pc)
	return client.DialContext(ctx, opts)
}

func (s *temporalStack) close() {
	s.client.Close()
	s.srv.Stop()
}

// dbPrefix names the databases of this bench process.
func dbPrefix() string { return fmt.Sprintf("stopline_bench_%d_", os.Getpid()) }

// newDatabase creates an empty database on the admin server and returns its
// URL and a function that drops it.
func newDatabase(ctx context.Context, adminURL, tag string) (string, func(), error) {
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("postgres at %s: %w", adminURL, err)
	}
	defer admin.Close(ctx)
	name := dbPrefix() + tag
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return "", nil, err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, adminURL); err == nil {
			if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
				logf("drop database %s: %v", name, err)
			}
			_ = c.Close(ctx)
		}
	}
	return u.String(), drop, nil
}

// newStore is newDatabase, migrated, with a consent store on it; drop
// closes the store and drops the database.
func newStore(ctx context.Context, adminURL, tag string) (*consent.Store, string, func(), error) {
	dbURL, drop, err := newDatabase(ctx, adminURL, tag)
	if err != nil {
		return nil, "", nil, err
	}
	store, err := consent.Open(ctx, dbURL)
	if err == nil {
		if err = store.Migrate(ctx); err != nil {
			store.Close()
		}
	}
	if err != nil {
		drop()
		return nil, "", nil, err
	}
	return store, dbURL, func() { store.Close(); drop() }, nil
}

// dropStaleDatabases drops databases left by bench processes that no
// longer exist (a run killed with SIGKILL, say).
func dropStaleDatabases(ctx context.Context, adminURL string) {
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return // the scenarios will report it
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'stopline\_bench\_%'`)
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, n := range names {
		pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(n, "stopline_bench_"), "_", 2)[0])
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

// appStack is stopline in this process for a scenario: an embedded Temporal
// server, a fresh database, a fake Twilio and the app wired to them.
type appStack struct {
	temporal *temporalStack
	dbURL    string
	fake     *smstest.FakeTwilio
	app      *app.App
	undo     []func()
}

// startApp starts an appStack; tune adjusts the app's config (task queue,
// webhooks) before it starts.
func startApp(ctx context.Context, cfg *config, tag string, tune func(*app.Config)) (_ *appStack, err error) {
	s := &appStack{}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.temporal, err = startTemporal(ctx); err != nil {
		return nil, err
	}
	s.undo = append(s.undo, s.temporal.close)
	var drop func()
	if s.dbURL, drop, err = newDatabase(ctx, cfg.adminURL, tag); err != nil {
		return nil, err
	}
	s.undo = append(s.undo, drop)
	s.fake = smstest.NewFakeTwilio()
	s.undo = append(s.undo, s.fake.Close)
	appCfg := app.Config{
		Temporal: s.temporal.client, DatabaseURL: s.dbURL, RecipientKeySecret: benchSecret,
		Twilio: twilio.Config{AccountSID: smstest.AccountSID, AuthToken: smstest.AuthToken, APIURL: s.fake.URL()},
		Logger: quiet, WorkerOptions: workerOptions,
	}
	tune(&appCfg)
	if s.app, err = app.Start(ctx, appCfg); err != nil {
		return nil, err
	}
	s.undo = append(s.undo, s.app.Stop)
	return s, nil
}

// close stops what startApp started, in reverse order.
func (s *appStack) close() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		s.undo[i]()
	}
}
