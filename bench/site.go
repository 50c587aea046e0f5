package main

// Where the workflow scenarios (journeys, scale) run, chosen by -temporal:
//
//   - embedded: the embedded Temporal server (in-memory SQLite), with
//     stopline and the baseline worker in this process (journeys) or in
//     child processes (scale, for their RSS);
//   - postgres: the official temporal-server on Postgres with N `worker`
//     processes without -dev (internal/prodstack), beside N baseline
//     worker processes (child-baseline) on the same server, so that each
//     side has as many processes.
//
// Either way stopline serves the task queue "bench-<scenario>" and the
// baselines "bench-<scenario>-baseline", on one server.

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/prodstack"
	"github.com/stopline/stopline/internal/sms/smstest"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/testkit"
)

// site is a Temporal server with stopline on one task queue and the
// bench's baseline workflows on another.
type site struct {
	temporal      *stack.Temporal // the bench's client, encrypting with benchPayloadKeys
	keyer         phone.Keyer
	twilio        *smstest.FakeTwilio // nil when the fake runs in a child process
	dbURL         string              // stopline's database
	queue         string              // stopline's task queue
	baselineQueue string
	webhooks      []string // HTTP addresses of the stopline workers (webhooks, /metrics)
	workerPids    []int    // stopline worker processes; none when in this process
	serverPid     int      // the Temporal server's process; 0 when in this process
	describe      func() string
	undo          []func()
}

// close stops what the site started, in reverse order.
func (s *site) close() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		s.undo[i]()
	}
	s.undo = nil
}

// queues are the task queues of a scenario: stopline's and the baselines'.
func queues(scenario string) (stopline, baseline string) {
	return "bench-" + scenario, "bench-" + scenario + "-baseline"
}

// registerBaselines registers every baseline workflow and activity of the
// bench on w.
func registerBaselines(w worker.Worker) {
	w.RegisterWorkflowWithOptions(BaselineWorkflow, workflow.RegisterOptions{Name: "BenchActivities"})
	w.RegisterActivityWithOptions(NoopActivity, activity.RegisterOptions{Name: "BenchNoop"})
	w.RegisterWorkflowWithOptions(SignalWaiterWorkflow, workflow.RegisterOptions{Name: "BenchSignalWaiter"})
	w.RegisterWorkflowWithOptions(CancelWaiterWorkflow, workflow.RegisterOptions{Name: "BenchCancelWaiter"})
}

// inProcessSite is the embedded server with stopline (internal/app) and
// the baseline worker in this process.
func inProcessSite(ctx context.Context, cfg *config, scenario string) (_ *site, err error) {
	queue, baseline := queues(scenario)
	st, err := startApp(ctx, cfg, scenario, func(c *app.Config) { c.TaskQueue = queue })
	if err != nil {
		return nil, err
	}
	s := &site{temporal: st.Temporal, keyer: st.App.Keyer, twilio: st.Twilio, dbURL: st.Config.DatabaseURL,
		queue: queue, baselineQueue: baseline, undo: []func(){st.Close},
		describe: func() string { return "" }}
	stop, err := startBaselines(st.Temporal, baseline)
	if err != nil {
		s.close()
		return nil, err
	}
	s.undo = append(s.undo, stop)
	return s, nil
}

// childSite is the embedded server in a child process, and stopline with
// the baseline worker in another (child.go), so each has an RSS of its own.
func childSite(ctx context.Context, cfg *config, scenario string) (_ *site, err error) {
	queue, baseline := queues(scenario)
	s := &site{queue: queue, baselineQueue: baseline, keyer: testkit.MustKeyer(benchSecret),
		describe: func() string { return "" }}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	srv, err := startChild(ctx, cfg, "child-server")
	if err != nil {
		return nil, err
	}
	s.undo = append(s.undo, srv.stop)
	if len(srv.ready) != 2 {
		return nil, errNotReady
	}
	frontend, namespace := srv.ready[0], srv.ready[1]
	if s.temporal, err = dial(ctx, frontend, namespace); err != nil {
		return nil, err
	}
	s.undo = append(s.undo, s.temporal.Close)
	dbURL, drop, err := newDatabase(ctx, cfg, scenario)
	if err != nil {
		return nil, err
	}
	s.dbURL = dbURL
	s.undo = append(s.undo, drop)
	w, err := startChild(ctx, cfg, "child-worker", "-addr", frontend, "-ns", namespace, "-queue", queue, "-db", dbURL)
	if err != nil {
		return nil, err
	}
	s.undo = append(s.undo, w.stop)
	if len(w.ready) != 1 {
		return nil, errNotReady
	}
	s.webhooks, s.workerPids, s.serverPid = w.ready, []int{w.pid()}, srv.pid()
	return s, nil
}

// Postgres connections of -temporal postgres, within max_connections
// (100): temporal-server's four services × (-temporal-max-conns + 2 for
// visibility), plus per worker -worker-max-conns + the webhook intake's
// prodIntakeSlots + prodKeywordSlots, plus the bench's own few. The peak
// is measured and shown in the notes.
const prodIntakeSlots, prodKeywordSlots = 2, 1

// prodSite is the official temporal-server on Postgres with n stopline
// `worker` processes and n baseline worker processes.
func prodSite(ctx context.Context, cfg *config, scenario string, n int) (_ *site, err error) {
	queue, baseline := queues(scenario)
	s := &site{queue: queue, baselineQueue: baseline, keyer: testkit.MustKeyer(benchSecret)}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	logf("%s: starting temporal-server %s on Postgres and %d %s", scenario, prodstack.ServerVersion, n, plural(n, "worker process"))
	ps, err := prodstack.Launch(ctx, prodstack.Options{
		Workers: n, AdminURL: cfg.adminURL, DatabaseName: dbPrefix() + scenario,
		PoolMaxConns: cfg.workerMaxConns, IntakeSlots: prodIntakeSlots, KeywordSlots: prodKeywordSlots,
		TemporalMaxConns: cfg.temporalMaxConns, WorkerBin: cfg.workerBin,
		// The bench's secret, keys and webhook URL, as every other side of it uses.
		Env: []string{"STOPLINE_TASK_QUEUE=" + queue, "RECIPIENT_KEY_SECRET=" + benchSecret,
			"PAYLOAD_KEYS=" + benchPayloadKeys, "PUBLIC_URL=" + stack.PublicURL},
	})
	if err != nil {
		return nil, err
	}
	s.undo = append(s.undo, ps.Close)
	peak, stopSampling := samplePeak(cfg.adminURL, append(ps.Temporal.Databases(), dbName(ps.DatabaseURL)))
	s.undo = append(s.undo, stopSampling)
	s.twilio, s.dbURL, s.serverPid = ps.Twilio, ps.DatabaseURL, ps.Temporal.Pid()
	for _, w := range ps.Workers {
		s.webhooks = append(s.webhooks, w.Addr)
		s.workerPids = append(s.workerPids, w.Pid())
	}
	if s.temporal, err = dial(ctx, ps.Temporal.Addr, prodstack.Namespace); err != nil {
		return nil, err
	}
	s.undo = append(s.undo, s.temporal.Close)
	for range n {
		c, err := startChild(ctx, cfg, "child-baseline", "-addr", ps.Temporal.Addr, "-ns", prodstack.Namespace, "-queue", baseline)
		if err != nil {
			return nil, err
		}
		s.undo = append(s.undo, c.stop)
	}
	s.describe = func() string {
		conns := "not measured"
		if p := peak(); p >= 0 {
			conns = strconv.Itoa(p)
		}
		return fmt.Sprintf("official temporal-server %s on Postgres, %d stopline %s beside %d baseline %s; peak Postgres connections of the stack %s",
			prodstack.ServerVersion, n, plural(n, "worker process"), n, plural(n, "worker process"), conns)
	}
	return s, nil
}

// samplePeak counts the connections to the databases every 500 ms, on a
// connection of its own, until stopped; peak returns the highest count so
// far (-1: none counted).
func samplePeak(adminURL string, dbs []string) (peak func() int, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var highest atomic.Int64
	highest.Store(-1)
	go func() {
		defer close(done)
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		for {
			var n int64
			if c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = ANY($1)`, dbs).Scan(&n) == nil {
				highest.Store(max(highest.Load(), n))
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	return func() int { return int(highest.Load()) }, func() { cancel(); <-done }
}

// dbName is the database of a Postgres URL.
func dbName(dbURL string) string {
	c, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return ""
	}
	return c.Database
}

// workersLabel names the worker processes whose RSS are summed.
func workersLabel(n int) string {
	if n == 1 {
		return "worker"
	}
	return strconv.Itoa(n) + " " + plural(n, "worker") + " (sum)"
}
