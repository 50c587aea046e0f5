package prodstack

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/sms/smstest"
)

// Options shape a Stack.
type Options struct {
	Workers int // worker processes started (and ready) by Start
	// PoolMaxConns caps each worker's main Postgres pool (pool_max_conns
	// in DATABASE_URL); its webhook intake pool is IntakeSlots +
	// KeywordSlots more. 0 = stopline's defaults.
	PoolMaxConns              int
	IntakeSlots, KeywordSlots int
	// DatabaseHost replaces host:port in the workers' DATABASE_URL (a TCP
	// proxy the test can cut); "" = Postgres itself.
	DatabaseHost string
	// TemporalMaxConns caps each temporal-server service's main store pool
	// (frontend, history, matching and worker have one each); 0 = the
	// template's 20.
	TemporalMaxConns int
	Env              []string // more worker environment
	// AdminURL is the Postgres server of every database of the stack ("":
	// pgtest.AdminURL); DatabaseName names the stopline one ("": unique).
	AdminURL, DatabaseName string
	// WorkerBin is a worker binary to run (see Compile); "": Launch
	// compiles one.
	WorkerBin string
}

// Stack is stopline in production shape: the official server, a stopline
// database shared by Workers, and the fake Twilio they reach through
// twilio-go. Workers are started and ready when Start returns.
type Stack struct {
	Temporal    *Temporal
	Workers     []*Worker
	Twilio      *smstest.FakeTwilio
	DatabaseURL string // the stopline database, direct (not through DatabaseHost)
	KeySecret   string // RECIPIENT_KEY_SECRET of the workers
	PublicURL   string // PUBLIC_URL of the workers, for Twilio signatures
	// WorkerBin and WorkerEnv start more workers (NewWorker); a later
	// entry of an env list overrides an earlier one.
	WorkerBin string
	WorkerEnv []string

	undo []func() // Close runs these in reverse
}

// Namespace is the namespace the workers create at start.
const Namespace = "default"

// PayloadKeys encrypt the stack's payloads; Temporal.Dial decodes them.
const PayloadKeys = "prodstack:cHJvZHN0YWNrIHRlc3Qga2V5LCBub3QgYSBzZWNyZXQ="

// Start is Launch for a test: it fails the test on an error, and closes
// the stack when the test ends.
func Start(tb testing.TB, opts Options) *Stack {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	s, err := Launch(ctx, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Launch builds and starts everything; the workers are ready when it
// returns. Close stops it all and drops the databases.
func Launch(ctx context.Context, opts Options) (_ *Stack, err error) {
	s := &Stack{Twilio: smstest.NewFakeTwilio(), KeySecret: "prodstack-recipient-key-secret", PublicURL: "https://sms.example.com"}
	s.undo = append(s.undo, s.Twilio.Close)
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	admin := cmp.Or(opts.AdminURL, pgtest.AdminURL())
	dbURL, drop, err := pgtest.Create(ctx, admin, cmp.Or(opts.DatabaseName, pgtest.UniqueName()))
	if err != nil {
		return nil, fmt.Errorf("prodstack: %w", err)
	}
	s.DatabaseURL = dbURL
	s.undo = append(s.undo, drop)
	dir, err := os.MkdirTemp("", "prodstack-")
	if err != nil {
		return nil, err
	}
	s.undo = append(s.undo, func() { _ = os.RemoveAll(dir) })
	if s.WorkerBin = opts.WorkerBin; s.WorkerBin == "" {
		if s.WorkerBin, err = Compile(ctx, dir, "worker"); err != nil {
			return nil, err
		}
	}
	if s.Temporal, err = LaunchTemporal(ctx, admin, opts.TemporalMaxConns); err != nil {
		return nil, err
	}
	s.undo = append(s.undo, s.Temporal.Close)
	db, err := url.Parse(s.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if opts.DatabaseHost != "" {
		db.Host = opts.DatabaseHost
	}
	if opts.PoolMaxConns > 0 {
		q := db.Query()
		q.Set("pool_max_conns", fmt.Sprint(opts.PoolMaxConns))
		db.RawQuery = q.Encode()
	}
	s.WorkerEnv = append([]string{
		"DATABASE_URL=" + db.String(),
		"TEMPORAL_ADDRESS=" + s.Temporal.Addr,
		"TEMPORAL_NAMESPACE=" + Namespace,
		"STOPLINE_CREATE_NAMESPACE=true",
		"RECIPIENT_KEY_SECRET=" + s.KeySecret,
		"PAYLOAD_KEYS=" + PayloadKeys,
		"PUBLIC_URL=" + s.PublicURL,
		"TWILIO_ACCOUNT_SID=" + smstest.AccountSID,
		"TWILIO_AUTH_TOKEN=" + smstest.AuthToken,
		"TWILIO_API_URL=" + s.Twilio.URL(),
		fmt.Sprintf("WEBHOOK_INTAKE_SLOTS=%d", opts.IntakeSlots),
		fmt.Sprintf("WEBHOOK_KEYWORD_SLOTS=%d", opts.KeywordSlots),
	}, opts.Env...)
	for i := range opts.Workers {
		w, err := newWorker(fmt.Sprintf("worker%d", i+1), s.WorkerBin, dir, s.WorkerEnv)
		if err != nil {
			return nil, err
		}
		s.undo = append(s.undo, w.Kill)
		if err := w.Start(); err != nil {
			return nil, err
		}
		s.Workers = append(s.Workers, w)
	}
	readyCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for _, w := range s.Workers {
		if err := w.WaitReady(readyCtx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Close stops what Launch started, in reverse order.
func (s *Stack) Close() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		s.undo[i]()
	}
	s.undo = nil
}
