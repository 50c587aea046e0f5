package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/internal/devserver"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/workflows"
)

// Temporal goes away while STOPs arrive: every STOP is still answered 2xx
// (it is durable in Postgres), and all are applied once Temporal is back.
// No journey SMS reaches the provider after its recipient's STOP.
func TestStopsSurviveTemporalOutage(t *testing.T) {
	const n = 50
	dir := t.TempDir()
	addr := freeAddr(t)
	start := func() *devserver.Server {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		srv, err := devserver.Start(ctx, devserver.Options{FrontendAddr: addr, DataDir: dir, Namespace: "default", SearchAttributes: workflows.SearchAttributes()})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := start()
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: "default", Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := newEnv(t, withWebhooks, func(cfg *app.Config) { cfg.Temporal = c })

	var csv strings.Builder
	csv.WriteString("phone,first_name\n")
	numbers := make([]string, n)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+1415555%04d", 1000+i)
		fmt.Fprintf(&csv, "%s,R%d\n", numbers[i], i)
	}
	def := mustJourney(t, `{"name": "drip", "category": "marketing",
		"sender": `+anyHourSender+`,
		"steps": [{"sms": "Hi {{.first_name}}"}, {"wait": "4s"}, {"sms": "Later"}]}`)
	if sum := e.launch("drip", def, csv.String()); sum.Started != n {
		t.Fatalf("launch: %+v", sum)
	}
	eventually(t, 30*time.Second, "first SMS to everyone", func() bool { return len(e.twilio.Accepted()) == n })

	srv.Stop()
	stopAt := map[string]time.Time{}
	for _, num := range numbers {
		if code := e.inbound(num, "STOP"); code != 200 {
			t.Fatalf("STOP during outage answered %d", code)
		}
		stopAt[num] = time.Now()
	}
	if pending, _ := e.app.Store.PendingSignalCount(context.Background()); pending != n {
		t.Fatalf("pending signals during outage = %d, want %d", pending, n)
	}
	time.Sleep(5 * time.Second) // the journeys' waits end while Temporal is down
	srv = start()
	defer srv.Stop()
	back := time.Now()

	eventually(t, 90*time.Second, "all STOPs delivered", func() bool {
		p, err := e.app.Store.PendingSignalCount(context.Background())
		return err == nil && p == 0
	})
	t.Logf("all %d STOPs delivered %v after Temporal came back", n, time.Since(back).Round(time.Millisecond))
	for i, num := range numbers {
		if res := e.result("drip", num); res.Sent != 1 || res.State == workflows.StateCompleted {
			t.Errorf("recipient %d: %+v", i, res)
		}
	}
	t.Logf("all journeys ended %v after Temporal came back", time.Since(back).Round(time.Millisecond))
	late := 0
	for _, m := range e.twilio.Accepted() {
		if at, ok := stopAt[m.To]; ok && m.At.After(at) && strings.HasPrefix(m.Body, "Later") {
			late++
		}
	}
	if late != 0 {
		t.Fatalf("%d journey SMS accepted after their recipient's STOP", late)
	}
}

// The worker starts while Temporal is down: the webhook bridge must still
// listen and store STOPs (Twilio retries an inbound webhook only through a
// fallback URL), and apply them once Temporal is up.
func TestBridgeStartsWithoutTemporal(t *testing.T) {
	const num = "+14155556201"
	addr := freeAddr(t)
	var srv *devserver.Server
	t.Cleanup(func() { // after the app's own cleanup (LIFO)
		if srv != nil {
			srv.Stop()
		}
	})
	t.Setenv("TEMPORAL_ADDRESS", addr)
	t.Setenv("TEMPORAL_NAMESPACE", "default")
	e := newEnv(t, withWebhooks, func(cfg *app.Config) { cfg.Temporal, cfg.Payload.Keys = nil, keysA })

	if code := readyz(t, e); code != 503 {
		t.Errorf("/readyz with Temporal down = %d, want 503", code)
	}
	if code := e.inbound(num, "STOP"); code != 200 {
		t.Fatalf("STOP with Temporal down answered %d", code)
	}
	if d := e.consentOf(num); d.Allowed {
		t.Fatal("STOP not recorded")
	}
	if n, _ := e.app.Store.PendingSignalCount(context.Background()); n != 1 {
		t.Fatalf("pending signals = %d, want 1", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	if srv, err = devserver.Start(ctx, devserver.Options{FrontendAddr: addr, Namespace: "default", SearchAttributes: workflows.SearchAttributes()}); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	eventually(t, 90*time.Second, "STOP confirmation once Temporal is up", func() bool { return len(e.sentTo(num)) == 1 })
	if code := readyz(t, e); code != 200 {
		t.Errorf("/readyz after the worker started = %d, want 200", code)
	}
	t.Logf("STOP stored with Temporal down; confirmed %v after Temporal came up", time.Since(back).Round(time.Millisecond))
	if n, _ := e.app.Store.PendingSignalCount(context.Background()); n != 0 {
		t.Errorf("pending signals = %d, want 0", n)
	}
}

// A Temporal that answers but refuses (no such namespace) is a
// configuration error: Start fails instead of retrying for ever.
func TestStartFailsWhenTemporalRefuses(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", temporalServer.FrontendAddr())
	t.Setenv("TEMPORAL_NAMESPACE", "no-such-namespace")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := app.Start(ctx, app.Config{
		DatabaseURL: pgtest.NewDatabase(t), TaskQueue: "e2e-refused", RecipientKeySecret: "e2e-test-secret-refused",
		Payload: codec.Config{Keys: keysA}, Logger: slog.New(slog.DiscardHandler),
	})
	if err == nil {
		a.Stop()
		t.Fatal("Start succeeded against a namespace that does not exist")
	}
	if !strings.Contains(err.Error(), "no-such-namespace") {
		t.Errorf("error %q does not name the namespace", err)
	}
}

func readyz(t *testing.T, e *env) int {
	t.Helper()
	resp, err := http.Get("http://" + e.app.HTTPAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
