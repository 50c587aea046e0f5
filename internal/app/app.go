// Package app wires a stopline worker process together: Postgres, Temporal
// (embedded in dev mode), SMS senders, the worker and the HTTP server. The
// worker main parses configuration into a Config; tests start an App
// directly.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/admin"
	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/internal/devserver"
	"github.com/stopline/stopline/internal/metrics"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/internal/sms"
	"github.com/stopline/stopline/internal/sms/httpchannel"
	"github.com/stopline/stopline/internal/sms/sandbox"
	"github.com/stopline/stopline/internal/sms/sinch"
	"github.com/stopline/stopline/internal/sms/twilio"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/webhook"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// Config is everything a worker process needs.
type Config struct {
	// Dev runs the embedded Temporal server and UI in this process and uses
	// the sandbox SMS provider for journeys whose provider has no
	// credentials.
	Dev          bool
	TemporalAddr string // dev: frontend address to serve; "" = free port
	UIAddr       string // dev: Temporal UI address; "" = no UI
	DataDir      string // dev: SQLite directory; "" = in memory
	// Temporal, when set, is used instead of dialing (tests share one server).
	Temporal  client.Client
	Namespace string // namespace of Temporal; "" = default
	// CreateNamespace creates a missing namespace with NamespaceRetention
	// (0 = 30 days) instead of failing with how to create it.
	CreateNamespace    bool
	NamespaceRetention time.Duration

	HTTPAddr string // health, webhooks and the admin API; "" = no HTTP server
	// AdminAddr serves the admin API on a listener of its own, and not on
	// HTTPAddr, so it can stay off the public one; "" = on HTTPAddr.
	AdminAddr          string
	AdminToken         string // bearer token of /v1/consent; "" disables the admin API
	DatabaseURL        string
	RecipientKeySecret string
	TaskQueue          string
	Twilio             twilio.Config      // used when AccountSID is set
	Sinch              sinch.Config       // used when ServicePlanID is set
	HTTPChannel        httpchannel.Config // used when URL is set
	// SendersFile configures keyword handling and replies per sending
	// number (see internal/senders); "" = defaults for every number.
	SendersFile string
	// Webhooks authenticates provider callbacks (PublicURL, secrets, ...).
	Webhooks webhook.Config
	// Payload encrypts what stopline writes to Temporal and configures the
	// codec server (PAYLOAD_KEYS, PAYLOAD_ENCRYPTION, CODEC_TOKEN, ...).
	Payload codec.Config
	Logger  *slog.Logger
	// WorkerOptions tune the Temporal worker (tests and benchmarks).
	WorkerOptions worker.Options
	// ReadTimeout bounds reading a whole request, body included; 0 =
	// DefaultReadTimeout.
	ReadTimeout time.Duration
	// MetricsAddr serves GET /metrics on a listener of its own, and not on
	// HTTPAddr; "" = on HTTPAddr.
	MetricsAddr string
	// ProviderWait is how long a send waits for a worker of its provider
	// before its journey reports waiting_provider; 0 =
	// activities.DefaultProviderWait (tests shorten it).
	ProviderWait time.Duration
	// InboundRetention is how long inbound message bodies are kept
	// (INBOUND_RETENTION); 0 = DefaultInboundRetention.
	InboundRetention time.Duration
	// StateCapPeriod shortens the state frequency caps' 24 hours (e2e
	// tests); 0 keeps them.
	StateCapPeriod time.Duration
	// DBTracer sees every statement of the app's Postgres pools (the
	// bench counts round trips with it); nil = none.
	DBTracer pgx.QueryTracer
}

// HTTP server bounds. A request must arrive whole within the read timeout,
// so a client sending a byte a second cannot hold a connection; the write
// timeout leaves room for a STOP that waits for its recipient's lock.
const (
	DefaultReadTimeout = 10 * time.Second
	writeTimeout       = 30 * time.Second
	idleTimeout        = 2 * time.Minute
	maxHeaderBytes     = 32 << 10
)

// App is a running stopline worker process.
type App struct {
	Store *store.Store
	// IntakeStore is the webhook bridge's own pool, so a flood of webhooks
	// and the sends cannot take each other's connections.
	IntakeStore *store.Store
	Temporal    client.Client
	Dev         *devserver.Server
	Activities  *activities.Activities
	Keyer       phone.Keyer
	// Codec encrypts payloads; nil when they are plain.
	Codec *codec.Codec

	Redriver *webhook.Redriver
	Metrics  *metrics.Set
	// ID names this process among its peers (probe workflows, heartbeats).
	ID string

	cfg    Config
	worker worker.Worker // nil until started (see retryWorker)
	// sendWorkers poll the send queues of rate-limited senders.
	sendWorkers []worker.Worker
	bgDone      chan struct{} // closed when retryWorker has returned
	// workerRunning: /readyz is not ready before the worker started.
	workerRunning atomic.Bool
	stopBg        context.CancelFunc
	http          *http.Server
	httpAddr      string
	adminHTTP     *http.Server
	adminAddr     string
	metricsHTTP   *http.Server
	metricsAddr   string
	namespace     string
	ownsClient    bool // dialed here: close on Stop, and let a worker that cannot reach it retry
	closeClient   bool // a client of this App's own (dialed, or sharing a given one's connection)
	// configHashes (by task queue), configDiffers, heartbeatDone: see heartbeat.go.
	configHashes  map[string]string
	configDiffers atomic.Pointer[string]
	heartbeatDone chan struct{}
}

// Start opens Postgres, starts the webhook bridge and the re-driver, then
// the worker. With an external Temporal that cannot be reached, Start still
// succeeds: the bridge accepts and stores messages while the worker retries.
func Start(ctx context.Context, cfg Config) (a *App, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
		cfg.Logger = log
	}
	if cfg.TaskQueue == "" {
		cfg.TaskQueue = workflows.TaskQueue
	}
	a = &App{cfg: cfg, ID: instanceID()}
	started := a // the error returns below set a to nil
	defer func() {
		if err != nil {
			started.Stop()
		}
	}()

	secret := cfg.RecipientKeySecret
	if secret == "" {
		if !cfg.Dev {
			return nil, errors.New("RECIPIENT_KEY_SECRET is not set (at least 16 bytes; it keys the recipient hashes in workflow IDs)")
		}
		secret = phone.DevSecret
		log.Warn("using the fixed development RECIPIENT_KEY_SECRET; set RECIPIENT_KEY_SECRET in production")
	}
	if a.Keyer, err = phone.NewKeyer([]byte(secret)); err != nil {
		return nil, fmt.Errorf("RECIPIENT_KEY_SECRET: %w", err)
	}
	if err = checkProduction(cfg); err != nil {
		return nil, err
	}
	if a.Codec, err = loadCodec(cfg, log); err != nil {
		return nil, err
	}

	a.Metrics = metrics.New(log)
	if a.Store, err = store.OpenTraced(ctx, cfg.DatabaseURL, 0, cfg.DBTracer); err != nil {
		return nil, err
	}
	a.Metrics.Watch(a.Store)
	a.useKeyring(a.Store)
	if err = a.Store.Migrate(ctx); err != nil {
		return nil, err
	}
	if err = a.Store.CheckDataKeys(ctx); err != nil {
		return nil, err
	}

	// Registry and senders before Temporal: bad configuration fails fast.
	smsSenders, err := buildSenders(cfg, a.Store, log)
	if err != nil {
		return nil, err
	}
	for p, s := range smsSenders {
		smsSenders[p] = a.Metrics.Sender(p, s)
	}
	var registry *senders.Registry
	if cfg.SendersFile != "" {
		if registry, err = senders.Load(cfg.SendersFile); err != nil {
			return nil, err
		}
	}
	if err = a.connectTemporal(ctx, log); err != nil {
		return nil, err
	}
	a.Activities = &activities.Activities{Store: a.Store, Providers: smsSenders, Registry: registry, Temporal: a.Temporal, Keyer: a.Keyer, Logger: log, Metrics: a.Metrics,
		StateCapPeriod: cfg.StateCapPeriod, ProviderWait: cfg.ProviderWait}
	a.Metrics.WatchQueues(a)

	// The webhook bridge needs only Postgres: it answers 2xx for messages
	// it committed, and the re-driver signals them once Temporal answers.
	// So it starts before the worker, and keeps running while a worker
	// that cannot reach Temporal retries in the background.
	bg, stopBg := context.WithCancel(context.Background())
	a.stopBg = stopBg
	a.Redriver = webhook.NewRedriver(a.Store, a.Temporal, cfg.TaskQueue, log)
	go a.Redriver.Run(bg)
	if a.configHashes, err = a.computeConfigHashes(); err != nil {
		return nil, err
	}
	// The first beat runs before Start returns, so /readyz reports a
	// configuration that differs from live peers' from the start.
	a.beat(bg, log)
	a.heartbeatDone = make(chan struct{})
	go a.heartbeat(bg, log)
	go a.privacySweep(bg, log)

	if cfg.HTTPAddr != "" {
		wcfg := cfg.Webhooks
		wcfg.Logger = log
		wcfg.Dev = cfg.Dev
		wcfg.Metrics = a.Metrics
		if a.IntakeStore, err = store.OpenTraced(ctx, cfg.DatabaseURL, int32(wcfg.IntakeConns()), cfg.DBTracer); err != nil {
			return nil, err
		}
		a.useKeyring(a.IntakeStore)
		a.IntakeStore.ShareKeyCache(a.Store) // so a Forget drops the intake's copy of the key
		intake := &webhook.DurableIntake{Store: a.IntakeStore, Registry: registry, Keyer: a.Keyer, Logger: log, Wake: a.Redriver.Wake, Metrics: a.Metrics}
		hooks, err := webhook.New(wcfg, intake)
		if err != nil {
			return nil, err
		}
		if wcfg.Insecure {
			log.Warn("webhook signature checks are DISABLED (-insecure-webhooks); never use this outside development")
		}
		if err = a.serveHTTP(log, hooks); err != nil {
			return nil, err
		}
	}
	if a.Dev != nil && cfg.UIAddr != "" {
		if err = a.startDevUI(log); err != nil {
			return nil, err
		}
	}
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.Metrics.Handler())
		if a.metricsHTTP, a.metricsAddr, err = a.serve(log, "metrics", cfg.MetricsAddr, mux); err != nil {
			return nil, err
		}
	}

	if err = a.startWorker(ctx); err != nil {
		if !a.ownsClient || a.Dev != nil || !unreachable(err) {
			// An embedded or given Temporal must work now, and a refusal
			// (no such namespace, no permission) will not go away.
			return nil, err
		}
		log.Error("Temporal is unreachable; webhooks are still accepted and stored, the worker keeps trying", "err", err)
		a.bgDone = make(chan struct{})
		go a.retryWorker(bg, log)
	}
	return a, nil
}

// startWorker prepares the namespace and starts the worker.
func (a *App) startWorker(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 50*time.Second)
	defer cancel()
	if err := a.prepareNamespace(ctx, a.cfg.Logger); err != nil {
		return err
	}
	wopts := a.cfg.WorkerOptions
	// More pollers than the SDK's 2: journeys are many short tasks, and
	// each poll round trip otherwise caps throughput.
	if wopts.MaxConcurrentWorkflowTaskPollers == 0 {
		wopts.MaxConcurrentWorkflowTaskPollers = 8
	}
	if wopts.MaxConcurrentActivityTaskPollers == 0 {
		wopts.MaxConcurrentActivityTaskPollers = 8
	}
	w := worker.New(a.Temporal, a.cfg.TaskQueue, wopts)
	workflows.Register(w)
	w.RegisterActivity(a.Activities)
	if err := a.startSendWorkers(); err != nil {
		return err
	}
	if err := w.Start(); err != nil {
		a.stopSendWorkers()
		return fmt.Errorf("temporal worker: %w", err)
	}
	a.worker = w // read by Stop only after retryWorker has returned
	a.workerRunning.Store(true)
	return nil
}

// unreachable reports whether err says Temporal could not be reached,
// rather than that it refused.
func unreachable(err error) bool {
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	return errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.Is(err, context.DeadlineExceeded)
}

// retryWorker tries startWorker until it succeeds or the app stops.
func (a *App) retryWorker(ctx context.Context, log *slog.Logger) {
	defer close(a.bgDone)
	for delay := time.Second; ; delay = min(2*delay, 30*time.Second) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		err := a.startWorker(ctx)
		if err == nil {
			log.Info("Temporal reachable: worker started")
			return
		}
		log.Warn("Temporal still unreachable; retrying", "in", min(2*delay, 30*time.Second), "err", err)
	}
}

func (a *App) connectTemporal(ctx context.Context, log *slog.Logger) error {
	a.namespace = "default"
	sdkMetrics, err := a.Metrics.SDKHandler()
	if err != nil {
		return err
	}
	sdkLog := sdklog.NewStructuredLogger(log.With("component", "temporal-sdk"))
	if a.cfg.Temporal != nil {
		if a.cfg.Namespace != "" {
			a.namespace = a.cfg.Namespace
		}
		// A client of our own on the given one's connection, so that this
		// App's worker reports the SDK's metrics to this App's /metrics. It
		// does not inherit the given client's converter: an encrypting
		// caller passes its keys in Payload too.
		opts := client.Options{Namespace: a.namespace, Logger: sdkLog, MetricsHandler: sdkMetrics}
		codec.Apply(&opts, a.Codec)
		c, err := client.NewClientFromExistingWithContext(ctx, a.cfg.Temporal, opts)
		if err != nil {
			return fmt.Errorf("temporal client: %w", err)
		}
		a.Temporal, a.closeClient = c, true
		return nil
	}
	var opts client.Options
	if a.cfg.Dev {
		srv, err := devserver.Start(ctx, devserver.Options{
			FrontendAddr: a.cfg.TemporalAddr, DataDir: a.cfg.DataDir,
			Namespace: "default", SearchAttributes: workflows.SearchAttributes(),
		})
		if err != nil {
			return err
		}
		a.Dev = srv
		opts = client.Options{HostPort: srv.FrontendAddr(), Namespace: srv.Namespace()}
		log.Info("embedded Temporal server started", "frontend", srv.FrontendAddr())
	} else {
		if opts, err = envconfig.LoadDefaultClientOptions(); err != nil {
			return fmt.Errorf("temporal client config (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ...): %w", err)
		}
	}
	if opts.Namespace != "" {
		a.namespace = opts.Namespace
	}
	opts.Logger, opts.MetricsHandler = sdkLog, sdkMetrics
	codec.Apply(&opts, a.Codec)
	// Lazy: the client connects on first use, so a Temporal that is down
	// does not keep the webhook bridge from starting.
	c, err := client.NewLazyClient(opts)
	if err != nil {
		return fmt.Errorf("temporal client (TEMPORAL_ADDRESS %q): %w", opts.HostPort, err)
	}
	a.Temporal = c
	a.ownsClient, a.closeClient = true, true
	return nil
}

// MinAdminToken is the shortest ADMIN_TOKEN accepted outside -dev: the
// token guards every recipient's consent.
const MinAdminToken = 32

// checkProduction refuses settings that are fine for trying stopline out
// but would expose credentials or consent in production.
func checkProduction(cfg Config) error {
	if cfg.Dev {
		return nil
	}
	for _, t := range []struct{ env, token string }{{"ADMIN_TOKEN", cfg.AdminToken}, {"CODEC_TOKEN", cfg.Payload.Token}} {
		if t.token != "" && len(t.token) < MinAdminToken {
			return fmt.Errorf("%s is %d bytes: at least %d are needed outside -dev (e.g. `openssl rand -hex 32`)", t.env, len(t.token), MinAdminToken)
		}
	}
	urls := []struct{ env, url string }{
		{"TWILIO_API_URL", cfg.Twilio.APIURL}, {"SINCH_API_URL", cfg.Sinch.APIURL}, {"HTTP_CHANNEL_URL", cfg.HTTPChannel.URL},
	}
	for _, u := range urls {
		if u.url == "" {
			continue
		}
		if err := sms.CheckBaseURL(u.url); err != nil {
			return fmt.Errorf("%s: %w", u.env, err)
		}
	}
	return nil
}

func buildSenders(cfg Config, st *store.Store, log *slog.Logger) (map[contract.Provider]sms.Sender, error) {
	senders := map[contract.Provider]sms.Sender{}
	if cfg.Dev {
		senders[contract.ProviderSandbox] = &sandbox.Sender{Store: st, Logger: log}
	}
	if cfg.Sinch.ServicePlanID != "" {
		s, err := sinch.New(cfg.Sinch)
		if err != nil {
			return nil, err
		}
		senders[contract.ProviderSinch] = s
	}
	if cfg.HTTPChannel.URL != "" {
		s, err := httpchannel.New(cfg.HTTPChannel)
		if err != nil {
			return nil, err
		}
		senders[contract.ProviderHTTP] = s
	}
	if cfg.Twilio.AccountSID != "" {
		s, err := twilio.New(cfg.Twilio)
		if err != nil {
			return nil, err
		}
		senders[contract.ProviderTwilio] = s
	}
	if cfg.Dev {
		for _, p := range []contract.Provider{contract.ProviderTwilio, contract.ProviderSinch, contract.ProviderHTTP} {
			if senders[p] == nil {
				log.Info("no credentials: provider uses the sandbox", "provider", p)
				senders[p] = senders[contract.ProviderSandbox]
			}
		}
	}
	return senders, nil
}

func (a *App) serveHTTP(log *slog.Logger, hooks http.Handler) error {
	mux := http.NewServeMux()
	mux.Handle("/webhooks/", hooks)
	adminAPI := admin.NewHandler(admin.Config{
		Store: a.Store, Keyer: a.Keyer, Token: a.cfg.AdminToken, Logger: log, Senders: a.Activities.Registry,
		// The recipient's Recipient workflow stops their running journeys at
		// once, or frees those waiting for a double opt-in.
		OnChange: func(ctx context.Context, c contract.ConsentChange) {
			if err := workflows.TellRecipient(ctx, a.Temporal, a.cfg.TaskQueue, c); err != nil {
				log.Warn("admin consent change: signalling the recipient's workflow", "to", c.To, "err", err)
			}
		},
		// The run's journeys hold, go on or stop at once.
		OnRun: func(ctx context.Context, run store.Run) (int, error) {
			return workflows.TellRun(ctx, a.Temporal, a.Store, run)
		},
		Erase: func(ctx context.Context, key string, journeys []string) (int, int, error) {
			e, err := workflows.EraseRecipient(ctx, a.Temporal, a.namespace, key, journeys, 30*time.Second)
			return e.Cancelled, e.Deleted, err
		},
	})
	codecAPI := a.codecServer(log)
	if a.cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", a.Metrics.Handler())
	}
	if a.cfg.AdminAddr == "" {
		mux.Handle("/v1/consent/", adminAPI)
		mux.Handle("/v1/runs/", adminAPI)
		handleCodec(mux, codecAPI)
	} else {
		adminMux := http.NewServeMux()
		adminMux.Handle("/v1/consent/", adminAPI)
		adminMux.Handle("/v1/runs/", adminAPI)
		handleCodec(adminMux, codecAPI)
		srv, addr, err := a.serve(log, "admin API", a.cfg.AdminAddr, adminMux)
		if err != nil {
			return err
		}
		a.adminHTTP, a.adminAddr = srv, addr
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		// Whoever can reach /readyz learns only which part is not ready:
		// error texts (addresses, user names) go to the log.
		if what, err := a.notReady(r.Context()); err != nil {
			log.Warn("not ready", "component", what, "err", err)
			http.Error(w, what+": not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
		if d := a.configDiffers.Load(); d != nil {
			_, _ = w.Write([]byte("warning: " + *d + "; see the worker log\n"))
		}
	})
	srv, addr, err := a.serve(log, "HTTP server", a.cfg.HTTPAddr, mux)
	if err != nil {
		return err
	}
	a.http, a.httpAddr = srv, addr
	return nil
}

// notReady names the first component that is not ready, and why.
func (a *App) notReady(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := a.Store.Ping(ctx); err != nil {
		return "postgres", err
	}
	if _, err := a.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return "temporal", err
	}
	if !a.workerRunning.Load() {
		return "temporal worker", errors.New("not started yet")
	}
	return "", nil
}

// serve listens on addr and serves h in the background.
func (a *App) serve(log *slog.Logger, what, addr string, h http.Handler) (*http.Server, string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	read := cmp.Or(a.cfg.ReadTimeout, DefaultReadTimeout)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: read, ReadTimeout: read, WriteTimeout: writeTimeout,
		IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(what, "err", err)
		}
	}()
	log.Info(what+" listening", "addr", l.Addr().String())
	return srv, l.Addr().String(), nil
}

// HTTPAddr is the address the HTTP server listens on.
func (a *App) HTTPAddr() string { return a.httpAddr }

// AdminAddr is the address of the admin API's own listener, if any.
func (a *App) AdminAddr() string { return a.adminAddr }

// MetricsAddr is the address serving GET /metrics: its own listener's, or
// the HTTP server's.
func (a *App) MetricsAddr() string { return cmp.Or(a.metricsAddr, a.httpAddr) }

// Stop shuts down in reverse order: HTTP, worker (finishing in-flight
// activities), Temporal client, embedded server, Postgres.
func (a *App) Stop() {
	for _, srv := range []*http.Server{a.http, a.adminHTTP, a.metricsHTTP} {
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = srv.Shutdown(ctx)
			cancel()
		}
	}
	if a.stopBg != nil {
		a.stopBg()
	}
	if a.bgDone != nil {
		<-a.bgDone
	}
	if a.heartbeatDone != nil {
		<-a.heartbeatDone
	}
	if a.worker != nil {
		a.worker.Stop()
		a.stopSendWorkers()
	}
	if a.Temporal != nil && a.closeClient {
		a.Temporal.Close()
	}
	a.Metrics.Close()
	if a.Dev != nil {
		a.Dev.Stop()
	}
	for _, st := range []*store.Store{a.IntakeStore, a.Store} {
		if st != nil {
			st.Close()
		}
	}
}
