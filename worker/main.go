// Command worker runs stopline: the Temporal worker for journeys and
// opt-outs, and the HTTP server for health checks and provider webhooks.
//
//	go run ./worker -dev    # everything in one process, for trying it out
//
// Configuration comes from the environment; flags override it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/internal/sms/httpchannel"
	"github.com/stopline/stopline/internal/sms/sinch"
	"github.com/stopline/stopline/internal/sms/twilio"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/temporalns"
)

func main() {
	var cfg app.Config
	flag.BoolVar(&cfg.Dev, "dev", false, "run the embedded Temporal server and UI, and the sandbox SMS provider, in this process")
	flag.StringVar(&cfg.HTTPAddr, "http", env("HTTP_ADDR", "127.0.0.1:8080"), "HTTP listen address for health checks and webhooks (HTTP_ADDR)")
	flag.StringVar(&cfg.AdminAddr, "admin-http", env("ADMIN_HTTP_ADDR", ""), "serve the admin API on this address only, not on -http (ADMIN_HTTP_ADDR)")
	flag.StringVar(&cfg.MetricsAddr, "metrics-addr", env("METRICS_ADDR", ""), "serve GET /metrics on this address only, not on -http (METRICS_ADDR)")
	flag.StringVar(&cfg.TemporalAddr, "temporal-addr", "127.0.0.1:7233", "-dev: embedded Temporal frontend address")
	flag.StringVar(&cfg.UIAddr, "ui-addr", "127.0.0.1:8233", "-dev: Temporal UI address (empty disables the UI)")
	flag.StringVar(&cfg.DataDir, "data-dir", env("STOPLINE_DATA_DIR", ".stopline"), "-dev: directory for the embedded server's SQLite database (empty: in memory)")
	flag.StringVar(&cfg.DatabaseURL, "database-url", env("DATABASE_URL", store.DefaultURL), "Postgres connection URL (DATABASE_URL)")
	flag.StringVar(&cfg.TaskQueue, "task-queue", env("STOPLINE_TASK_QUEUE", "stopline"), "Temporal task queue (STOPLINE_TASK_QUEUE)")
	flag.StringVar(&cfg.SendersFile, "senders", env("STOPLINE_SENDERS", ""), "senders file: keyword handling and replies per sending number (STOPLINE_SENDERS)")
	flag.StringVar(&cfg.Webhooks.PublicURL, "public-url", env("PUBLIC_URL", ""), "public base URL providers call, for signature checks (PUBLIC_URL)")
	flag.BoolVar(&cfg.Webhooks.Insecure, "insecure-webhooks", false, "-dev only: accept unsigned webhooks")
	flag.BoolVar(&cfg.CreateNamespace, "create-namespace", os.Getenv("STOPLINE_CREATE_NAMESPACE") == "true", "create the Temporal namespace if it does not exist (STOPLINE_CREATE_NAMESPACE=true)")
	retention := flag.String("namespace-retention", env("STOPLINE_NAMESPACE_RETENTION", "30d"), "-create-namespace: how long Temporal keeps closed journeys (STOPLINE_NAMESPACE_RETENTION)")
	inboundRetention := flag.String("inbound-retention", env("INBOUND_RETENTION", "90d"), "how long inbound message bodies are kept before the worker purges them (INBOUND_RETENTION)")
	flag.Parse()
	var err error
	if cfg.NamespaceRetention, err = temporalns.ParseRetention(*retention); err != nil {
		fmt.Fprintln(os.Stderr, "stopline: -namespace-retention:", err)
		os.Exit(2)
	}
	if cfg.InboundRetention, err = temporalns.ParseRetention(*inboundRetention); err != nil {
		fmt.Fprintln(os.Stderr, "stopline: -inbound-retention (INBOUND_RETENTION):", err)
		os.Exit(2)
	}
	if cfg.Webhooks.Insecure && !cfg.Dev {
		fmt.Fprintln(os.Stderr, "stopline: -insecure-webhooks is only allowed with -dev")
		os.Exit(2)
	}
	cfg.Webhooks.TrustProxy = os.Getenv("TRUST_PROXY") == "true"
	if v := os.Getenv("TRUST_PROXY_HOPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "stopline: TRUST_PROXY_HOPS %q: want a whole number of proxies, at least 1\n", v)
			os.Exit(2)
		}
		cfg.Webhooks.TrustProxyHops = n
	}
	cfg.Webhooks.TwilioAuthToken = os.Getenv("TWILIO_AUTH_TOKEN")
	cfg.Webhooks.SinchSecret = os.Getenv("SINCH_WEBHOOK_SECRET")
	cfg.Webhooks.InboundSecret = os.Getenv("INBOUND_WEBHOOK_SECRET")
	// Each slot is one Postgres connection of the webhook intake's pool.
	cfg.Webhooks.IntakeSlots = envInt("WEBHOOK_INTAKE_SLOTS")
	cfg.Webhooks.KeywordSlots = envInt("WEBHOOK_KEYWORD_SLOTS")
	cfg.Sinch = sinch.Config{
		ServicePlanID: os.Getenv("SINCH_SERVICE_PLAN_ID"),
		APIToken:      os.Getenv("SINCH_API_TOKEN"),
		APIURL:        os.Getenv("SINCH_API_URL"),
	}
	cfg.HTTPChannel = httpchannel.Config{URL: os.Getenv("HTTP_CHANNEL_URL"), Secret: os.Getenv("HTTP_CHANNEL_SECRET")}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log)
	cfg.Logger = log
	cfg.RecipientKeySecret = os.Getenv("RECIPIENT_KEY_SECRET")
	cfg.AdminToken = os.Getenv("ADMIN_TOKEN")
	cfg.Payload = codec.FromEnv()
	cfg.Twilio = twilio.Config{
		AccountSID: os.Getenv("TWILIO_ACCOUNT_SID"),
		AuthToken:  os.Getenv("TWILIO_AUTH_TOKEN"),
		APIURL:     os.Getenv("TWILIO_API_URL"),
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	a, err := app.Start(startCtx, cfg)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stopline:", hint(err))
		os.Exit(1)
	}
	log.Info("stopline worker running", "task_queue", cfg.TaskQueue, "http", a.HTTPAddr())
	<-ctx.Done()
	log.Info("shutting down")
	a.Stop()
}

// hint turns the most common start-up failure into one actionable line.
func hint(err error) string {
	msg := err.Error()
	if len(msg) > 12 && msg[:12] == "DATABASE_URL" {
		return msg + "\n  start Postgres (e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) or point DATABASE_URL at one"
	}
	return msg
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// envInt reads a count; unset, empty or 0 means the default.
func envInt(name string) int {
	v := os.Getenv(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		fmt.Fprintf(os.Stderr, "stopline: %s %q: want a whole number\n", name, v)
		os.Exit(2)
	}
	return n
}
