package prodstack

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"

	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/sms/smstest"
	"github.com/stopline/stopline/workflows"
)

var chaosBench = flag.Bool("chaos.bench", false, "TestChaos: 1,000 journeys and 200 STOPs instead of 300 and 60")

// chaosSender may send at any hour: the test runs whatever the time of
// day in the recipients' states.
const chaosSender = `{"provider": "twilio", "from": "+15550001111", "type": "long_code",
	"quiet_hours": {"start": "00:00", "end": "24:00", "legal_override": "test journeys run at any hour"}}`

// Three workers and the official server on Postgres run journeys of 3
// SMS while recipients text STOP through the signed Twilio webhook, spread
// across the workers. Meanwhile a random worker is SIGKILLed and
// restarted every 5-10 s, temporal-server restarts once, and the
// workers' Postgres is cut for 5 s once. Every violation is counted; each
// count must be 0.
func TestChaos(t *testing.T) {
	journeys, stops := 300, 60
	if *chaosBench {
		journeys, stops = 1000, 200
	}
	began := time.Now()
	proxy := newCutProxy(t, pgHost(t))
	// Postgres connections, of max_connections 100: 3 workers x (6 + 3
	// intake + 1 keyword) = 30; temporal-server's 4 services x (8 + 2)
	// = 40; this test 1.
	s := Start(t, Options{Workers: 3, PoolMaxConns: 6, IntakeSlots: 3, KeywordSlots: 1, TemporalMaxConns: 8, DatabaseHost: proxy.addr()})
	t.Logf("stack up in %v", time.Since(began).Round(time.Second))
	// Connected now, so the counts at the end do not need a free slot.
	db, err := pgx.Connect(context.Background(), s.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())

	keyer, err := phone.NewKeyer([]byte(s.KeySecret))
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Temporal.Dial(context.Background(), Namespace)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	def, err := journey.Parse([]byte(`{"name": "chaos", "category": "marketing", "sender": ` + chaosSender + `,
		"steps": [{"sms": "m1"}, {"wait": "15s"}, {"sms": "m2"}, {"wait": "15s"}, {"sms": "m3"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	numbers := make([]string, journeys)
	csv := "phone\n"
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+1415555%04d", 1000+i)
		csv += numbers[i] + "\n"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	sum, err := launch.Run(ctx, strings.NewReader(csv), launch.Options{RunID: "chaos", Journey: def, Region: "US", Keyer: keyer},
		launch.TemporalStarter{Client: c})
	cancel()
	if err != nil || sum.Started != journeys {
		t.Fatalf("started %+v: %v", sum, err)
	}
	t.Logf("%d journeys started", journeys)

	chaosStart := time.Now()
	var wg sync.WaitGroup
	done := make(chan struct{})
	kills := chaosWorkers(t, s, &wg, done)
	wg.Go(func() {
		time.Sleep(12 * time.Second)
		restartAt := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := s.Temporal.Restart(ctx); err != nil {
			t.Errorf("temporal-server restart: %v", err)
		}
		t.Logf("temporal-server restarted in %v", time.Since(restartAt).Round(time.Millisecond))
	})
	wg.Go(func() {
		time.Sleep(26 * time.Second)
		proxy.cut()
		time.Sleep(5 * time.Second)
		proxy.restore()
		t.Log("Postgres cut for 5 s")
	})
	stopAt, retried := sendStops(t, s, numbers, stops, &wg)
	var peakConns atomic.Int64
	wg.Go(func() { peakConns.Store(int64(peakConnections(db, done))) })
	time.Sleep(45 * time.Second)
	close(done)
	wg.Wait()
	t.Logf("chaos for %v: %d worker kills; %d STOP posts refused or answered 5xx and retried; peak Postgres connections of the stack %d",
		time.Since(chaosStart).Round(time.Second), kills.Load(), retried.Load(), peakConns.Load())
	if kills.Load() < 4 {
		t.Errorf("%d worker kills in 45 s, want at least 4", kills.Load())
	}

	v := count(t, s, c, db, keyer, numbers, stopAt)
	t.Logf("violations: %+v (total run %v)", v, time.Since(began).Round(time.Second))
	if v != (violations{}) {
		t.Errorf("violations, want all 0: %+v", v)
	}
}

// chaosWorkers SIGKILLs a random worker every 5-10 s and starts it again,
// until done.
func chaosWorkers(t *testing.T, s *Stack, wg *sync.WaitGroup, done chan struct{}) *atomic.Int64 {
	var kills atomic.Int64
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(5*time.Second + rand.N(5*time.Second)):
			}
			w := s.Workers[rand.N(len(s.Workers))]
			w.Kill()
			kills.Add(1)
			if err := w.Start(); err != nil {
				t.Errorf("restart %s: %v", w.Name, err)
			}
		}
	})
	return &kills
}

// sendStops has n random recipients text STOP at random moments in the
// first 40 s, each to a random worker, retried as Twilio would (another
// worker on a refused connection, later on a 5xx) until a 2xx. It returns
// each STOP's 2xx time, filled in as they come, and the count of posts
// retried.
func sendStops(t *testing.T, s *Stack, numbers []string, n int, wg *sync.WaitGroup) (*sync.Map, *atomic.Int64) {
	var stopAt sync.Map // number -> time.Time of the 2xx
	var retried atomic.Int64
	for i, k := range rand.Perm(len(numbers))[:n] {
		num := numbers[k]
		wg.Go(func() {
			time.Sleep(rand.N(40 * time.Second))
			form := url.Values{"MessageSid": {fmt.Sprintf("SMchaos%032d", i)}, "AccountSid": {smstest.AccountSID},
				"From": {num}, "To": {"+15550001111"}, "Body": {"STOP"}}
			hc := &http.Client{Timeout: 10 * time.Second}
			for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				w := s.Workers[rand.N(len(s.Workers))]
				if code := postSigned(hc, s, w.Addr, form); code >= 200 && code < 300 {
					stopAt.Store(num, time.Now())
					return
				}
				retried.Add(1)
			}
			t.Errorf("STOP of %s never answered 2xx", phone.Mask(num))
		})
	}
	return &stopAt, &retried
}

// peakConnections samples the connections to the stack's databases (the
// stopline one and temporal-server's) until done.
func peakConnections(db *pgx.Conn, done chan struct{}) int {
	peak := 0
	for {
		var n int
		err := db.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() OR datname LIKE 'temporal\_%'`).Scan(&n)
		if err == nil {
			peak = max(peak, n)
		}
		select {
		case <-done:
			return peak
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func postSigned(hc *http.Client, s *Stack, addr string, form url.Values) int {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/twilio", strings.NewReader(form.Encode()))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", smstest.TwilioSignature(smstest.AuthToken, s.PublicURL+"/webhooks/twilio", form))
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// violations are the guarantees' counts; each must be 0.
type violations struct {
	AfterStop       int // SMS accepted for a recipient after their STOP's 2xx (confirmation aside)
	DuplicateSends  int // a (journey, step) accepted more than once
	LostStops       int // a STOP answered 2xx whose opt-out is not recorded
	Confirmations   int // STOPs without exactly one confirmation
	Unfinished      int // journeys not completed
	WrongOutcome    int // journeys without a STOP that did not send all 3 SMS
	LedgerDisagrees int // "sent" rows the fake lacks, fake messages without a "sent" row
	LedgerOpen      int // journeys' rows left "attempting" once every journey ended: a verdict never recorded
}

const confirmation = "You are unsubscribed"

func count(t *testing.T, s *Stack, c client.Client, db *pgx.Conn, keyer phone.Keyer, numbers []string, stopAt *sync.Map) violations {
	var v violations
	// Journeys first: once all are closed nothing more is sent for them.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, num := range numbers {
		var res workflows.JourneyResult
		err := c.GetWorkflow(ctx, workflows.JourneyID("chaos", keyer.Key(num)), "").Get(ctx, &res)
		_, stopped := stopAt.Load(num)
		switch {
		case err != nil:
			v.Unfinished++
			if v.Unfinished <= 3 {
				t.Logf("journey of %s: %v", phone.Mask(num), err)
			}
		case !stopped && res.Summary != "sent 3":
			v.WrongOutcome++
			t.Logf("journey of %s without STOP: %q", phone.Mask(num), res.Summary)
		}
	}
	time.Sleep(5 * time.Second) // confirmations of the last STOPs

	perStep := map[string]int{}
	confirmations := map[string]int{}
	for _, m := range s.Twilio.Accepted() {
		if strings.Contains(m.Body, confirmation) {
			confirmations[m.To]++
			continue
		}
		perStep[m.To+" "+m.Body[:2]]++
		if at, ok := stopAt.Load(m.To); ok && m.At.After(at.(time.Time)) {
			v.AfterStop++
			t.Logf("%s: %q accepted %v after the STOP's 2xx", phone.Mask(m.To), m.Body, m.At.Sub(at.(time.Time)))
		}
	}
	for _, n := range perStep {
		v.DuplicateSends += n - 1
	}
	stopAt.Range(func(k, _ any) bool {
		num := k.(string)
		var optedOut bool
		if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM consent WHERE recipient_key = $1 AND state = 'opted_out')`,
			keyer.Key(num)).Scan(&optedOut); err != nil {
			t.Fatal(err)
		}
		if !optedOut {
			v.LostStops++
		}
		if confirmations[num] != 1 {
			v.Confirmations++
			t.Logf("%s: %d confirmations", phone.Mask(num), confirmations[num])
		}
		return true
	})
	v.LedgerDisagrees, v.LedgerOpen = ledgerVsFake(t, ctx, db, s.Twilio.Accepted())
	sent := 0
	for _, n := range perStep {
		sent += n
	}
	t.Logf("fake Twilio accepted %d journey SMS and %d confirmations", sent, len(s.Twilio.Accepted())-sent)
	return v
}

// ledgerVsFake counts "sent" ledger rows whose message the fake does not
// have, and fake messages without a "sent" row (bad); and journeys' rows
// left "attempting" (open): a killed attempt's step is settled by its retry
// or, when a STOP cancelled the send, by the journey (SettleSend), so none
// is open once the journeys ended. An open reply row is logged. So is a
// "failed" row, whose last attempt did not reach the provider (refused,
// never left, or deferred because its window closed) before a STOP ended
// the journey: it claims nothing was sent, and a message the fake has for
// it counts as one without a "sent" row.
func ledgerVsFake(t *testing.T, ctx context.Context, db *pgx.Conn, accepted []smstest.Accepted) (bad, open int) {
	sids := map[string]bool{}
	for _, m := range accepted {
		sids[m.SID] = true
	}
	rows, err := db.Query(ctx, `SELECT workflow_id, step, status, coalesce(provider_message_id, ''), coalesce(reason, '') FROM send_ledger`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var wid, status, sid, reason string
		var step int
		if err := rows.Scan(&wid, &step, &status, &sid, &reason); err != nil {
			t.Fatal(err)
		}
		switch {
		case status == "sent" && sids[sid]:
			delete(sids, sid)
		case status == "skipped":
		case status == "failed" && sid == "":
			// Its last attempt did not reach the provider (refused, or
			// never left), and the journey stopped before a retry.
			t.Logf("ledger %s step %d: failed, %s", wid, step, reason)
		case status == "attempting" && sid == "":
			if strings.HasPrefix(wid, "journey/") { // closed: its verdict is due
				open++
			}
			t.Logf("ledger %s step %d: left attempting", wid, step)
		default:
			bad++
			t.Logf("ledger %s step %d: %s %q %s", wid, step, status, sid, reason)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for sid := range sids {
		bad++
		t.Logf("fake Twilio message %s has no sent ledger row", sid)
	}
	return bad, open
}

// cutProxy is a TCP proxy to Postgres that the test can cut: the workers'
// connections drop and new ones are refused, while temporal-server and
// other tests keep their direct connections.
type cutProxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	down   bool
	open   map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, target: target, open: map[net.Conn]bool{}}
	t.Cleanup(func() { _ = l.Close(); p.cut() })
	go p.accept()
	return p
}

func (p *cutProxy) addr() string { return p.l.Addr().String() }

func (p *cutProxy) accept() {
	for {
		in, err := p.l.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil || !p.track(in, out) {
			_ = in.Close()
			if out != nil {
				_ = out.Close()
			}
			continue
		}
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

// track registers a pair unless the proxy is cut.
func (p *cutProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	for _, c := range conns {
		p.open[c] = true
	}
	return true
}

func (p *cutProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.open, dst)
	delete(p.open, src)
	p.mu.Unlock()
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.open {
		_ = c.Close()
	}
	clear(p.open)
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func pgHost(t *testing.T) string {
	u, err := url.Parse(pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
