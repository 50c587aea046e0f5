package prodstack

import (
	"context"
	"fmt"
	"net/url"
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
}

// Namespace is the namespace the workers create at start.
const Namespace = "default"

// PayloadKeys encrypt the stack's payloads; Temporal.Dial decodes them.
const PayloadKeys = "prodstack:cHJvZHN0YWNrIHRlc3Qga2V5LCBub3QgYSBzZWNyZXQ="

// Start builds and starts everything; it is all stopped when tb ends.
func Start(tb testing.TB, opts Options) *Stack {
	tb.Helper()
	s := &Stack{Twilio: smstest.NewFakeTwilio(), DatabaseURL: pgtest.NewDatabase(tb),
		KeySecret: "prodstack-recipient-key-secret", PublicURL: "https://sms.example.com"}
	tb.Cleanup(s.Twilio.Close)
	s.WorkerBin = BuildCmd(tb, "worker")
	s.Temporal = StartTemporal(tb, pgtest.AdminURL(), opts.TemporalMaxConns)

	db, err := url.Parse(s.DatabaseURL)
	if err != nil {
		tb.Fatal(err)
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
		w := NewWorker(tb, fmt.Sprintf("worker%d", i+1), s.WorkerBin, s.WorkerEnv)
		if err := w.Start(); err != nil {
			tb.Fatal(err)
		}
		s.Workers = append(s.Workers, w)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, w := range s.Workers {
		if err := w.WaitReady(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}
