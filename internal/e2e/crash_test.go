package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
)

// TestCrashNeverDuplicates runs the real worker binary as a child process
// and SIGKILLs it at random moments while 300 journeys send, restarting it
// each time. Every (journey, step) must reach the provider at most once, and
// every journey must end.
func TestCrashNeverDuplicates(t *testing.T) {
	const (
		journeys = 300
		kills    = 10
	)
	bin := filepath.Join(t.TempDir(), "worker")
	build := exec.Command("go", "build", "-o", bin, "github.com/stopline/stopline/worker")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build worker: %v\n%s", err, out)
	}

	e := newEnvWith(t, stack.Options{NoApp: true})
	fake := e.Twilio
	// The fake accepts each message, then takes 30 ms to answer: a kill in
	// that window leaves a step the provider has but the ledger does not,
	// which the restarted worker must find instead of sending again.
	fake.SetReplyDelay(30 * time.Millisecond)
	logPath := filepath.Join(t.TempDir(), "worker.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()

	startWorker := func() *exec.Cmd {
		cmd := exec.Command(bin, "-http", "")
		cmd.Env = append(os.Environ(), e.WorkerEnv()...)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	// The first worker migrates the database; journeys start meanwhile.
	w := startWorker()
	def := testkit.MustJourney(`{"name": "crash", "category": "transactional",
		"sender": {"provider": "twilio", "from": "+15550001111", "type": "long_code"},
		"steps": [{"sms": "one"}, {"wait": "1s"}, {"sms": "two"}, {"wait": "1s"}, {"sms": "three"}]}`)
	var csv strings.Builder
	csv.WriteString("phone\n")
	for i := range journeys {
		fmt.Fprintf(&csv, "+1415556%04d\n", i)
	}
	if sum := e.Launch("crash", def, csv.String()); sum.Started != journeys {
		t.Fatalf("launch: %+v", sum)
	}

	rng := rand.New(rand.NewPCG(7, 7))
	for k := range kills {
		// Kill while the worker is busy sending: once it has made progress,
		// at a random moment within the next 200 ms.
		before := len(fake.Accepted())
		deadline := time.Now().Add(30 * time.Second)
		for len(fake.Accepted()) < before+5 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond)
		_ = w.Process.Signal(syscall.SIGKILL)
		_ = w.Wait()
		t.Logf("kill %d: %d messages accepted so far", k+1, len(fake.Accepted()))
		w = startWorker()
	}
	defer func() { _ = w.Process.Signal(syscall.SIGKILL); _ = w.Wait() }()

	states := map[string]int{}
	unknown := 0
	for i := range journeys {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		var res workflows.JourneyResult
		id := workflows.JourneyID(e.Run("crash"), e.Key(fmt.Sprintf("+1415556%04d", i)))
		err := e.Client().GetWorkflow(ctx, id, "").Get(ctx, &res)
		cancel()
		if err != nil {
			out, _ := os.ReadFile(logPath)
			t.Fatalf("journey %d did not end: %v\nworker log tail:\n%s", i, err, tail(string(out), 3000))
		}
		states[res.State]++
		unknown += res.Unknown
	}

	perStep := map[string]int{}
	for _, m := range fake.Accepted() {
		perStep[m.To+"|"+m.Body]++
	}
	duplicates := 0
	for k, n := range perStep {
		if n > 1 {
			duplicates += n - 1
			t.Errorf("%s reached the provider %d times", k, n)
		}
	}
	// The ledger agrees with the provider.
	st, err := store.Open(context.Background(), e.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Steps the provider accepted before a kill, found (not resent) by the
	// next worker: the case the ledger exists for.
	out, _ := os.ReadFile(logPath)
	retried := strings.Count(string(out), "found at the provider")
	t.Logf("%d journeys, %d SIGKILLs: states %v, %d provider calls, %d messages accepted, %d distinct steps, duplicates %d, steps marked unknown %d, ambiguous steps resolved at the provider %d",
		journeys, kills, states, fake.Calls(), len(fake.Accepted()), len(perStep), duplicates, unknown, retried)
	if states[workflows.StateCompleted] != journeys {
		t.Errorf("not every journey completed: %v", states)
	}
	if len(perStep)+unknown < journeys*3 {
		t.Errorf("%d steps accepted and %d unknown, want %d in all", len(perStep), unknown, journeys*3)
	}
	var sent int
	if err := st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM send_ledger WHERE status = 'sent'`).Scan(&sent); err != nil {
		t.Fatal(err)
	}
	if sent != len(perStep) {
		t.Errorf("ledger has %d sent steps, provider accepted %d", sent, len(perStep))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
