package prodstack

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
)

// The new user's path on the official server, which creates no namespace:
// a worker without -create-namespace stops and says how to create it, and
// so does the starter; with STOPLINE_CREATE_NAMESPACE=true the worker
// creates it with the retention and is ready only once the search
// attributes can be used, so a starter run right after /readyz starts
// every journey.
func TestBootstrapOnOfficialServer(t *testing.T) {
	s := Start(t, Options{TemporalMaxConns: 8})
	starter := BuildCmd(t, "starter")
	dir := t.TempDir()
	journeyFile := filepath.Join(dir, "j.json")
	audience := filepath.Join(dir, "a.csv")
	write(t, journeyFile, `{"name": "boot", "category": "marketing",
		"sender": {"provider": "twilio", "from": "+15550001111", "type": "long_code",
		"quiet_hours": {"start": "00:00", "end": "24:00", "legal_override": "test journeys run at any hour"}},
		"steps": [{"sms": "hello"}]}`)
	write(t, audience, "phone\n+14155550101\n+14155550102\n+14155550103\n")
	runStarter := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, starter, args...)
		cmd.Env = s.WorkerEnv
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	const howTo = "Create it once: start one worker with -create-namespace"

	w := NewWorker(t, "no-create", s.WorkerBin, append(s.WorkerEnv, "STOPLINE_CREATE_NAMESPACE=false"))
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := w.WaitReady(ctx); err == nil || !strings.Contains(err.Error(), howTo) {
		t.Fatalf("worker without the namespace: %v; want it to exit saying %q", err, howTo)
	}
	// A start fails; a staff opt-out is recorded (Postgres) and says why
	// running journeys were not signalled.
	for _, tt := range []struct {
		args    []string
		wantErr bool
	}{
		{[]string{"-journey", journeyFile, "-audience", audience, "-run-id", "boot"}, true},
		{[]string{"consent", "optout", "+14155550199", "-scope", "+15550001111"}, false},
	} {
		out, err := runStarter(tt.args...)
		if (err != nil) != tt.wantErr || !strings.Contains(out, howTo) {
			t.Errorf("starter %s without the namespace: %v\n%s\nwant error %v and %q", tt.args[0], err, out, tt.wantErr, howTo)
		}
	}

	w = NewWorker(t, "create", s.WorkerBin, append(s.WorkerEnv, "STOPLINE_NAMESPACE_RETENTION=3d"))
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := w.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("worker created the namespace and was ready in %v", time.Since(began).Round(time.Millisecond))
	if log, _ := os.ReadFile(w.LogPath); strings.Contains(string(log), "waiting for Temporal to make the search attributes usable") {
		t.Log("the worker waited for the namespace cache before /readyz said ready")
	}
	// Not even once refused: /readyz came after the attributes were usable.
	out, err := runStarter("-journey", journeyFile, "-audience", audience, "-run-id", "boot")
	if err != nil || !strings.Contains(out, "started 3,") || strings.Contains(out, "not picked up") {
		t.Fatalf("starter right after /readyz: %v\n%s", err, out)
	}
	c, err := s.Temporal.Dial(ctx, Namespace)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: Namespace})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != 72*time.Hour {
		t.Errorf("retention %v, want 72h", got)
	}
	for deadline := time.Now().Add(time.Minute); len(s.Twilio.Accepted()) < 3; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("fake Twilio accepted %d of 3 SMS\n%s", len(s.Twilio.Accepted()), tail(w.LogPath, 30))
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
