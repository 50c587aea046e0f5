package main

// Scenario "webhook": signed Twilio inbound requests (unique MessageSids,
// STOP / HELP / plain text from many numbers) posted at a fixed
// concurrency to the worker's webhook bridge (internal/app, with its
// re-driver and Recipient workflows running), against a bare net/http handler
// that inserts one row into Postgres through a pool with the same settings.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/sms/smstest"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/webhook"
)

// webhookNumbers is how many distinct recipients text in.
const webhookNumbers = 5000

func runWebhook(ctx context.Context, cfg *config) (row, error) {
	n, conc, kw := cfg.webhookRequests, cfg.webhookConcurrency, cfg.webhookKeywords
	st, err := startApp(ctx, cfg, "webhook", func(c *app.Config) {
		c.TaskQueue = "bench-webhook"
		stack.Webhooks(c)
	})
	if err != nil {
		return row{}, err
	}
	defer st.Close()
	a, fake, dbURL := st.App, st.Twilio, st.Config.DatabaseURL
	stoplineURL := "http://" + a.HTTPAddr() + webhook.PathTwilio

	// The baseline's pool comes from store.Open too: same settings.
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return row{}, err
	}
	defer db.Close()
	baselineURL, stopBaseline, err := serveBaseline(ctx, db.Pool())
	if err != nil {
		return row{}, err
	}
	defer stopBaseline()

	requests := func(round string, count int) []inboundReq {
		reqs := make([]inboundReq, count)
		for i := range reqs {
			// Per 100 requests: kw/2 STOP, kw/2 HELP, the rest plain text.
			text := "Thanks, see you on Saturday"
			switch p := i % 100; {
			case p < kw/2:
				text = "STOP"
			case p < kw:
				text = "HELP"
			}
			sid := fmt.Sprintf("SM%s%030d", round, i)
			reqs[i] = signedInbound(sid, number(i%webhookNumbers), text)
		}
		return reqs
	}

	warm := max(50, min(n/10, 500))
	for i, u := range []string{baselineURL, stoplineURL} {
		if _, _, err := load(ctx, u, requests(fmt.Sprintf("w%d", i), warm), conc); err != nil {
			return row{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	if err := settle(ctx, a.Store, fake); err != nil {
		return row{}, err
	}

	// Rounds B S S B (see journeys), or B S P P S B with -webhook-plain:
	// P is stopline with its intake storing numbers and bodies unsealed
	// (store.BenchPlainIntake), as before sealing. Each stopline round is
	// followed by a wait for its asynchronous work (keyword signals,
	// Recipient workflows, replies) to finish, so it does not run during
	// another round.
	sides := []string{"b", "s", "s", "b"}
	if cfg.webhookPlain {
		sides = []string{"b", "s", "p", "p", "s", "b"}
	}
	names := map[string]string{"b": "baseline", "s": "stopline", "p": "stopline unsealed"}
	lat := map[string][]time.Duration{}
	took := map[string]time.Duration{}
	done := map[string]int{} // rounds of each side so far: its first is half of n, its second the rest
	half := []int{n / 2, n - n/2}
	for i, side := range sides {
		reqs := requests(fmt.Sprintf("r%d", i), half[done[side]])
		done[side]++
		url := stoplineURL
		if side == "b" {
			url = baselineURL
		}
		a.IntakeStore.BenchPlainIntake(side == "p")
		logf("webhook: round %d: %s, %d requests", i+1, names[side], len(reqs))
		l, d, err := load(ctx, url, reqs, conc)
		if err != nil {
			return row{}, fmt.Errorf("%s: %w", names[side], err)
		}
		lat[side], took[side] = append(lat[side], l...), took[side]+d
		if side == "b" {
			continue
		}
		if err := settle(ctx, a.Store, fake); err != nil {
			return row{}, err
		}
	}
	a.IntakeStore.BenchPlainIntake(false)
	sLat, bLat := lat["s"], lat["b"]
	sRate, bRate := rate(n, took["s"]), rate(n, took["b"])
	rounds := "rounds B S S B"
	if cfg.webhookPlain {
		pRate := rate(n, took["p"])
		rounds = fmt.Sprintf("rounds B S P P S B, P with the intake unsealed (bench only): %.0f req/s, p50 %s, p99 %s, so sealing costs %.1f%% of the rate",
			pRate, ms(percentile(lat["p"], 50)), ms(percentile(lat["p"], 99)), 100*(1-sRate/pRate))
	}
	return row{
		stopline: fmt.Sprintf("%.0f req/s", sRate),
		baseline: fmt.Sprintf("%.0f req/s", bRate),
		ratio:    sRate / bRate,
		goal:     "≥ 0.50, p99 ≤ 50 ms",
		p50:      pair(percentile(sLat, 50), percentile(bLat, 50)),
		p99:      pair(percentile(sLat, 99), percentile(bLat, 99)),
		notes: fmt.Sprintf("%d requests per side at concurrency %d; %d%% STOP, %d%% HELP, %d%% plain text from %d numbers; %d replies sent; %s",
			n, conc, kw/2, kw-kw/2, 100-kw, webhookNumbers, fake.Calls(), rounds),
	}, nil
}

// serveBaseline serves a bare handler that parses the form and inserts one
// row, and returns its URL.
func serveBaseline(ctx context.Context, pool *pgxpool.Pool) (string, func(), error) {
	if _, err := pool.Exec(ctx, `CREATE TABLE bench_inbound (
		id bigserial PRIMARY KEY, message_id text NOT NULL, from_number text NOT NULL, body text NOT NULL,
		received_at timestamptz NOT NULL DEFAULT clock_timestamp())`); err != nil {
		return "", nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, err := pool.Exec(r.Context(), `INSERT INTO bench_inbound (message_id, from_number, body) VALUES ($1, $2, $3)`,
			r.PostForm.Get("MessageSid"), r.PostForm.Get("From"), r.PostForm.Get("Body"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`))
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second} // as internal/app
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("baseline server: %v", err)
		}
	}()
	return "http://" + l.Addr().String() + "/webhooks/twilio", func() { _ = srv.Close() }, nil
}

// settle waits until every keyword signal was delivered and the fake
// Twilio has had no new call (replies) for half a second.
func settle(ctx context.Context, st *store.Store, fake *smstest.FakeTwilio) error {
	deadline := time.Now().Add(2 * time.Minute)
	last, stableSince := -1, time.Now()
	for time.Now().Before(deadline) {
		pending, err := st.PendingSignalCount(ctx)
		if err != nil {
			return err
		}
		if calls := fake.Calls(); calls != last {
			last, stableSince = calls, time.Now()
		}
		if pending == 0 && time.Since(stableSince) > 500*time.Millisecond {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("webhook: keyword signals and replies did not settle within 2 minutes")
}
