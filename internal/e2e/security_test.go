package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/internal/webhook"
	"github.com/stopline/stopline/workflows"
)

// count runs a count(*) query on the test's database.
func (e *env) count(query string) int {
	e.T.Helper()
	var n int
	if err := e.App.Store.Pool().QueryRow(context.Background(), query).Scan(&n); err != nil {
		e.T.Fatal(err)
	}
	return n
}

// Without SINCH_WEBHOOK_SECRET, forged Sinch keywords (an opt-in, a STOP
// ALL, a HELP that would make stopline text a number of the forger's
// choosing) are refused, and leave nothing behind: no row, event, signal
// or reply.
func TestForgedSinchKeywordsChangeNothing(t *testing.T) {
	e := newEnv(t, stack.Webhooks)
	const victim = "+14155550177"
	for i, body := range []string{"START", "STOP ALL", "HELP"} {
		mo := fmt.Sprintf(`{"type":"mo_text","id":"forged%d","from":"%s","to":"%s","body":"%s"}`, i, strings.TrimPrefix(victim, "+"), testkit.Sender, body)
		resp, err := http.Post("http://"+e.App.HTTPAddr()+webhook.PathSinch, "application/json", strings.NewReader(mo))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("forged %s: %d, want 503", body, resp.StatusCode)
		}
	}
	time.Sleep(time.Second) // room for a signal or reply that should not come
	for _, q := range []string{`SELECT count(*) FROM inbound_messages`, `SELECT count(*) FROM consent_events`, `SELECT count(*) FROM consent`} {
		if n := e.count(q); n != 0 {
			t.Errorf("%s = %d, want 0", q, n)
		}
	}
	if n := len(e.Twilio.Accepted()); n != 0 {
		t.Errorf("%d replies sent, want 0", n)
	}
	if _, err := e.Client().DescribeWorkflowExecution(context.Background(), workflows.RecipientID(e.Key(victim)), ""); err == nil {
		t.Error("the victim's Recipient workflow was started")
	}
}

// A client that sends its headers, then its body a byte a second, is cut
// off within the read timeout instead of holding its connection.
func TestSlowClientCutOff(t *testing.T) {
	const readTimeout = time.Second
	e := newEnv(t, stack.Webhooks, func(c *app.Config) { c.ReadTimeout = readTimeout })
	conn, err := net.Dial("tcp", e.App.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: sms.stopline.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n", webhook.PathTwilio)
	closed := make(chan time.Duration, 1)
	go func() { // the server's answer (408 or none) and then EOF
		_, _ = io.Copy(io.Discard, conn)
		closed <- time.Since(start)
	}()
	for range 100 {
		select {
		case took := <-closed:
			if took > readTimeout+time.Second {
				t.Fatalf("connection closed after %v, want within about %v", took, readTimeout)
			}
			return
		case <-time.After(time.Second):
			if _, err := conn.Write([]byte("a")); err != nil {
				if took := time.Since(start); took > readTimeout+2*time.Second {
					t.Fatalf("connection cut after %v, want within about %v", took, readTimeout)
				}
				return
			}
		}
		if time.Since(start) > readTimeout+3*time.Second {
			t.Fatalf("a byte-a-second client still connected after %v (read timeout %v)", time.Since(start), readTimeout)
		}
	}
}

// /readyz names the part that is not ready, not its error; the admin API
// can be served on a listener of its own, and then not on the public one.
func TestReadyzAndAdminListener(t *testing.T) {
	token := strings.Repeat("t", 32)
	e := newEnv(t, stack.Webhooks, func(c *app.Config) { c.AdminAddr, c.AdminToken = "127.0.0.1:0", token })
	key := e.Key("+14155550123")
	get := func(addr, path string) (int, string) {
		return call(t, http.MethodGet, "http://"+addr+path, token, nil)
	}
	if code, _ := get(e.App.AdminAddr(), "/v1/consent/"+key); code != 200 {
		t.Errorf("admin listener: %d, want 200", code)
	}
	if code, _ := get(e.App.HTTPAddr(), "/v1/consent/"+key); code != http.StatusNotFound {
		t.Errorf("admin API on the public listener: %d, want 404", code)
	}
	testkit.Eventually(t, 30*time.Second, "ready", func() bool { code, _ := get(e.App.HTTPAddr(), "/readyz"); return code == 200 })

	e.App.Store.Close() // Postgres as the worker sees it goes away
	code, body := get(e.App.HTTPAddr(), "/readyz")
	if code != http.StatusServiceUnavailable || body != "postgres: not ready\n" {
		t.Errorf("/readyz = %d %q, want 503 %q", code, body, "postgres: not ready\n")
	}
}

// slowInbound makes storing an inbound message take d in the test's
// database, as on a Postgres whose writes are slow, while reads (consent
// checks) stay fast.
func slowInbound(t *testing.T, dbURL string, d time.Duration) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, fmt.Sprintf(`
		CREATE FUNCTION slow_inbound() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_sleep(%f); RETURN NEW; END $$;
		CREATE TRIGGER slow_inbound BEFORE INSERT ON inbound_messages FOR EACH ROW EXECUTE FUNCTION slow_inbound();`, d.Seconds()))
	if err != nil {
		t.Fatal(err)
	}
}

// A flood of plain-text webhooks, each slow to store, neither starves the
// journeys' consent checks and sends of connections, nor makes a STOP wait
// out its bounded wait or be refused. Without the intake's slot cap the
// sends stall for over 6 s and every STOP waits past its bound.
func TestWebhookFloodKeepsStopsAndSends(t *testing.T) {
	const (
		flood      = 1000
		stops      = 50
		journeys   = 10
		wait       = 3 * time.Second         // the bridge's bounded wait for an intake slot
		sendBound  = 20 * time.Second        // every journey SMS goes out by then
		stallBound = 2500 * time.Millisecond // less than the intake's wait: a send waiting for the flood stalls longer
	)
	e := newEnv(t, stack.Webhooks, func(c *app.Config) {
		c.Webhooks.IntakeWait = wait
	})
	slowInbound(t, e.App.Store.Pool().Config().ConnString(), 200*time.Millisecond)
	def := testkit.MustJourney(`{"name": "flood", "category": "transactional",
		"sender": {"provider": "twilio", "from": "+15550001111", "type": "long_code"},
		"steps": [{"sms": "one"}, {"sms": "two"}, {"sms": "three"}]}`)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: flood + stops}, Timeout: time.Minute}
	post := func(from, body string) (int, time.Duration) {
		req := e.TwilioRequest(stack.TwilioInbound(stack.NewMessageSid(), from, body))
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, time.Since(start)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}

	floodStart := time.Now()
	for i := range journeys {
		if err := e.StartJourney("flood", def, fmt.Sprintf("+1415555%04d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var plainOK, plainBusy atomic.Int64
	for i := range flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch code, _ := post(fmt.Sprintf("+1628555%04d", i), fmt.Sprintf("hello there %d", i)); code {
			case 200:
				plainOK.Add(1)
			case http.StatusServiceUnavailable:
				plainBusy.Add(1)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond) // STOPs arrive in the middle of the flood, one every 20 ms
	type stopAnswer struct {
		code int
		took time.Duration
	}
	answers := make([]stopAnswer, stops)
	for i := range stops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, took := post(fmt.Sprintf("+1707555%04d", i), "STOP")
			answers[i] = stopAnswer{code, took}
		}()
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	floodTook := time.Since(floodStart)

	refused, late := 0, 0
	var slowest time.Duration
	for i, a := range answers {
		if a.code != 200 {
			refused++
			t.Errorf("STOP %d answered %d", i, a.code)
		}
		if a.took > wait {
			late++
		}
		slowest = max(slowest, a.took)
	}
	// Sends blocked: a journey SMS starved by the flood (a pool or slot
	// the intake holds) shows as a stall, no SMS for longer than stallBound
	// while some are still due, or as an SMS never sent. Plain slowness on
	// 2 loaded cores is steady progress, and passes.
	var times []time.Time
	for end := time.Now().Add(sendBound); ; time.Sleep(50 * time.Millisecond) {
		times = times[:0]
		for _, m := range e.Twilio.Accepted() {
			if strings.HasPrefix(m.To, "+1415555") {
				times = append(times, m.At)
			}
		}
		if len(times) == journeys*3 || time.Now().After(end) {
			break
		}
	}
	slices.SortFunc(times, time.Time.Compare)
	var stall, last time.Duration
	prev := floodStart
	for _, at := range times {
		stall, prev = max(stall, at.Sub(prev)), at
	}
	if len(times) > 0 {
		last = times[len(times)-1].Sub(floodStart)
	}
	missing := journeys*3 - len(times)
	t.Logf("flood of %d plain messages: %d committed, %d refused busy, took %v; %d STOPs: %d refused, %d waited past %v (slowest %v); journey SMS: %d of %d, the last at %v, longest stall %v",
		flood, plainOK.Load(), plainBusy.Load(), floodTook.Round(time.Millisecond), stops, refused, late, wait, slowest.Round(time.Millisecond),
		len(times), journeys*3, last.Round(time.Millisecond), stall.Round(time.Millisecond))
	if refused != 0 || late != 0 || missing != 0 || stall > stallBound {
		t.Errorf("STOPs refused %d, STOPs past the bounded wait %d, journey SMS missing %d, longest stall %v; want 0, 0, 0, at most %v",
			refused, late, missing, stall.Round(time.Millisecond), stallBound)
	}
	for i, a := range answers {
		if d := e.consentOf(fmt.Sprintf("+1707555%04d", i)); a.code == 200 && d.Allowed {
			t.Errorf("STOP %d answered 200 but not committed: %+v", i, d)
		}
	}
}
