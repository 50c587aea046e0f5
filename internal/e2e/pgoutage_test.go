package e2e

import (
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/testkit"
)

// pgProxy is a TCP proxy in front of Postgres that the test can cut, so
// "Postgres goes away" does not stop the server other test packages use.
type pgProxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newPGProxy(t *testing.T, target string) *pgProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{l: l, target: target}
	t.Cleanup(func() { l.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *pgProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

// cut drops every connection and refuses new ones until restore.
func (p *pgProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *pgProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// Postgres goes away while journeys wait: the bridge answers 503 to an
// inbound STOP (so the provider retries), no SMS is sent without a consent
// answer, and the journeys finish once Postgres is back.
func TestPostgresOutage(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newPGProxy(t, u.Host)
	u.Host = proxy.l.Addr().String()

	e := newEnvWith(t, stack.Options{DatabaseURL: u.String()}, stack.Webhooks)
	def := testkit.MustJourney(`{"name": "pgdown", "category": "marketing",
		"sender": ` + testkit.AnyHourSender + `,
		"steps": [{"sms": "first"}, {"wait": "2s"}, {"sms": "second"}]}`)
	numbers := []string{ada, grace, alan}
	e.Launch("pg", def, "phone\n"+strings.Join(numbers, "\n")+"\n")
	testkit.Eventually(t, 20*time.Second, "first SMS to all", func() bool { return len(e.Twilio.Accepted()) == 3 })

	proxy.cut()
	cutAt := time.Now()
	if code := e.Inbound(ada, "STOP"); code != 503 {
		t.Fatalf("STOP with Postgres down answered %d, want 503", code)
	}
	time.Sleep(4 * time.Second) // the waits end; the consent checks fail
	if n := len(e.Twilio.Accepted()); n != 3 {
		t.Fatalf("%d messages accepted while Postgres was down, want none", n-3)
	}
	callsDuringOutage := e.Twilio.Calls()
	proxy.restore()
	t.Logf("Postgres down for %v", time.Since(cutAt).Round(time.Millisecond))

	// The provider retries the STOP; this time it is durable.
	if code := e.Inbound(ada, "STOP"); code != 200 {
		t.Fatalf("STOP after Postgres came back answered %d", code)
	}
	stopAt := time.Now()
	for _, num := range numbers {
		res := e.Result("pg", num)
		// Ada's second step may have won the race with her STOP after the
		// restore; what may not happen is a send after the STOP's 2xx.
		if num != ada && res.Summary != "sent 2" {
			t.Errorf("%s: %q, want %q", num, res.Summary, "sent 2")
		}
	}
	if callsDuringOutage != 3 {
		t.Errorf("provider calls during the outage: %d, want 3 (the first step only)", callsDuringOutage)
	}
	for _, m := range e.Twilio.Accepted() {
		if m.To == ada && m.At.After(stopAt) && !strings.Contains(m.Body, "unsubscribed") {
			t.Errorf("%q accepted after the STOP's 2xx", m.Body)
		}
	}
}
