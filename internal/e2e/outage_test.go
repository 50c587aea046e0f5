package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/devserver"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/testkit"
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
		srv, err := stack.StartServer(ctx, devserver.Options{FrontendAddr: addr, DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := start()
	tc, err := stack.DialTemporal(context.Background(), addr, stack.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	e := newEnvWith(t, stack.Options{Temporal: tc}, stack.Webhooks)

	var csv strings.Builder
	csv.WriteString("phone,first_name\n")
	numbers := make([]string, n)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+1415555%04d", 1000+i)
		fmt.Fprintf(&csv, "%s,R%d\n", numbers[i], i)
	}
	def := testkit.MustJourney(`{"name": "drip", "category": "marketing",
		"sender": ` + testkit.AnyHourSender + `,
		"steps": [{"sms": "Hi {{.first_name}}"}, {"wait": "4s"}, {"sms": "Later"}]}`)
	if sum := e.Launch("drip", def, csv.String()); sum.Started != n {
		t.Fatalf("launch: %+v", sum)
	}
	testkit.Eventually(t, 30*time.Second, "first SMS to everyone", func() bool { return len(e.Twilio.Accepted()) == n })

	srv.Stop()
	stopAt := map[string]time.Time{}
	for _, num := range numbers {
		if code := e.Inbound(num, "STOP"); code != 200 {
			t.Fatalf("STOP during outage answered %d", code)
		}
		stopAt[num] = time.Now()
	}
	if pending, _ := e.App.Store.PendingSignalCount(context.Background()); pending != n {
		t.Fatalf("pending signals during outage = %d, want %d", pending, n)
	}
	time.Sleep(5 * time.Second) // the journeys' waits end while Temporal is down
	srv = start()
	defer srv.Stop()
	back := time.Now()

	testkit.Eventually(t, 90*time.Second, "all STOPs delivered", func() bool {
		p, err := e.App.Store.PendingSignalCount(context.Background())
		return err == nil && p == 0
	})
	t.Logf("all %d STOPs delivered %v after Temporal came back", n, time.Since(back).Round(time.Millisecond))
	for i, num := range numbers {
		if res := e.Result("drip", num); res.Sent != 1 || res.State == workflows.StateCompleted {
			t.Errorf("recipient %d: %+v", i, res)
		}
	}
	t.Logf("all journeys ended %v after Temporal came back", time.Since(back).Round(time.Millisecond))
	late := 0
	for _, m := range e.Twilio.Accepted() {
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
	t.Setenv("TEMPORAL_NAMESPACE", stack.Namespace)
	e := newEnv(t, stack.Webhooks, func(cfg *app.Config) { cfg.Temporal, cfg.Payload.Keys = nil, keysA })

	if code := readyz(t, e); code != 503 {
		t.Errorf("/readyz with Temporal down = %d, want 503", code)
	}
	if code := e.Inbound(num, "STOP"); code != 200 {
		t.Fatalf("STOP with Temporal down answered %d", code)
	}
	if d := e.consentOf(num); d.Allowed {
		t.Fatal("STOP not recorded")
	}
	if n, _ := e.App.Store.PendingSignalCount(context.Background()); n != 1 {
		t.Fatalf("pending signals = %d, want 1", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	if srv, err = stack.StartServer(ctx, devserver.Options{FrontendAddr: addr}); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	testkit.Eventually(t, 90*time.Second, "STOP confirmation once Temporal is up", func() bool { return len(e.SentTo(num)) == 1 })
	if code := readyz(t, e); code != 200 {
		t.Errorf("/readyz after the worker started = %d, want 200", code)
	}
	t.Logf("STOP stored with Temporal down; confirmed %v after Temporal came up", time.Since(back).Round(time.Millisecond))
	if n, _ := e.App.Store.PendingSignalCount(context.Background()); n != 0 {
		t.Errorf("pending signals = %d, want 0", n)
	}
}

// A Temporal that answers but refuses (no such namespace) is a
// configuration error: Start fails instead of retrying for ever.
func TestStartFailsWhenTemporalRefuses(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", temporal.Addr)
	t.Setenv("TEMPORAL_NAMESPACE", "no-such-namespace")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{Temporal: temporal}, func(c *app.Config) { c.Temporal, c.Payload.Keys = nil, keysA })
	if err == nil {
		s.Close()
		t.Fatal("Start succeeded against a namespace that does not exist")
	}
	if !strings.Contains(err.Error(), "no-such-namespace") {
		t.Errorf("error %q does not name the namespace", err)
	}
}

func readyz(t *testing.T, e *env) int {
	t.Helper()
	resp, err := http.Get("http://" + e.App.HTTPAddr() + "/readyz")
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
