// Package e2e runs stopline end to end: the embedded Temporal server, the
// real worker wiring (internal/app), a real Postgres and the real twilio-go
// client talking to a local fake Twilio. One Temporal server serves the
// whole package; each test gets its own database, task queue and fake.
package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/devserver"
	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/sms/smstest"
	"github.com/stopline/stopline/internal/sms/twilio"
	"github.com/stopline/stopline/workflows"
)

var (
	temporalServer *devserver.Server
	temporalClient client.Client
	queueSeq       atomic.Int64
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	start := time.Now()
	srv, err := devserver.Start(ctx, devserver.Options{Namespace: "default", SearchAttributes: workflows.SearchAttributes()})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: start embedded Temporal:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "e2e: embedded Temporal started in %v\n", time.Since(start).Round(time.Millisecond))
	temporalServer = srv
	temporalClient, err = client.Dial(client.Options{
		HostPort: srv.FrontendAddr(), Namespace: srv.Namespace(),
		Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: dial:", err)
		os.Exit(1)
	}
	code := m.Run()
	temporalClient.Close()
	srv.Stop()
	os.Exit(code)
}

// env is one test's stopline: its own database, task queue and fake Twilio.
type env struct {
	t      *testing.T
	client client.Client
	app    *app.App
	twilio *smstest.FakeTwilio
	queue  string
	keyer  phone.Keyer
}

func newEnv(t *testing.T, mods ...func(*app.Config)) *env {
	t.Helper()
	fake := smstest.NewFakeTwilio()
	t.Cleanup(fake.Close)
	cfg := app.Config{
		Temporal:    temporalClient,
		DatabaseURL: pgtest.NewDatabase(t),
		TaskQueue:   fmt.Sprintf("e2e-%d", queueSeq.Add(1)),
		Twilio:      twilio.Config{AccountSID: smstest.AccountSID, AuthToken: smstest.AuthToken, APIURL: fake.URL()},
		Logger:      slog.New(slog.DiscardHandler),
	}
	// All tests share one namespace: a secret per test keeps their
	// recipient keys, and so their optout/<key> workflows, apart.
	cfg.RecipientKeySecret = "e2e-test-secret-" + cfg.TaskQueue
	for _, m := range mods {
		m(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := app.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	return &env{t: t, client: cfg.Temporal, app: a, twilio: fake, queue: cfg.TaskQueue, keyer: a.Keyer}
}

func (e *env) starter() launch.TemporalStarter {
	return launch.TemporalStarter{Client: e.client, TaskQueue: e.queue}
}

// run makes run IDs unique per test: all tests share one Temporal namespace.
func (e *env) run(runID string) string { return e.queue + "-" + runID }

// launch starts the journey for an inline CSV audience.
func (e *env) launch(runID string, def *journey.Definition, csv string) *launch.Summary {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := launch.Run(ctx, strings.NewReader(csv), launch.Options{RunID: e.run(runID), Journey: def, Region: "US", Keyer: e.keyer}, e.starter())
	if err != nil {
		e.t.Fatal(err)
	}
	if len(sum.Failed) > 0 {
		e.t.Fatalf("launch %s: %d starts failed, first: %v", runID, len(sum.Failed), sum.Failed[0])
	}
	return sum
}

// start starts one journey for an E.164 number without a CSV; safe to
// call from several goroutines.
func (e *env) start(runID string, def *journey.Definition, number string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key := e.key(number)
	_, err := e.starter().Start(ctx, workflows.JourneyID(e.run(runID), key), workflows.JourneyInput{
		RunID: e.run(runID), Journey: *def, Phone: number, RecipientKey: key,
	})
	return err
}

// result waits for a journey to end and returns its result.
func (e *env) result(runID, number string) workflows.JourneyResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var res workflows.JourneyResult
	if err := e.client.GetWorkflow(ctx, workflows.JourneyID(e.run(runID), e.key(number)), "").Get(ctx, &res); err != nil {
		e.t.Fatalf("journey of %s: %v", phone.Mask(number), err)
	}
	return res
}

func (e *env) key(number string) string { return e.keyer.Key(number) }

// sentTo returns the bodies the fake Twilio accepted for a number, in order.
func (e *env) sentTo(number string) []string {
	var bodies []string
	for _, m := range e.twilio.Accepted() {
		if m.To == number {
			bodies = append(bodies, m.Body)
		}
	}
	return bodies
}

// anyHourSender is the test sender, whose journeys may send at any hour:
// tests run whatever the time of day in the recipients' states.
const anyHourSender = `{"provider": "twilio", "from": "+15550001111", "type": "long_code", "quiet_hours": {"start": "00:00", "end": "24:00", "legal_override": "test journeys run at any hour"}}`

func mustJourney(t *testing.T, js string) *journey.Definition {
	t.Helper()
	def, err := journey.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func keyerFor(secret string) (phone.Keyer, error) { return phone.NewKeyer([]byte(secret)) }
