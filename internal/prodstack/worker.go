package prodstack

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BuildCmd compiles one of stopline's commands ("worker", "starter") into
// a temporary directory and returns its path.
func BuildCmd(tb testing.TB, name string) string {
	tb.Helper()
	bin, err := Compile(context.Background(), tb.TempDir(), name)
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// Compile compiles one of stopline's commands into dir and returns its
// path.
func Compile(ctx context.Context, dir, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/stopline/stopline/"+name)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("prodstack: build %s: %w\n%s", name, err, out)
	}
	return bin, nil
}

// Worker is one `worker` process (no -dev). It keeps its HTTP address
// across restarts, as a pod behind a service would.
type Worker struct {
	Name    string
	Addr    string // HTTP: health, webhooks
	LogPath string

	bin    string
	env    []string
	cmd    *exec.Cmd
	exited chan struct{}
}

// NewWorker prepares a worker process with env (added to this process's
// environment, HTTP_ADDR set to a free port); Start runs it. It is killed
// when the test ends.
func NewWorker(tb testing.TB, name, bin string, env []string) *Worker {
	tb.Helper()
	w, err := newWorker(name, bin, tb.TempDir(), env)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(w.Kill)
	return w
}

// newWorker is NewWorker logging into logDir; the caller kills it.
func newWorker(name, bin, logDir string, env []string) (*Worker, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	w := &Worker{Name: name, Addr: fmt.Sprintf("127.0.0.1:%d", port), bin: bin,
		LogPath: filepath.Join(logDir, name+".log")}
	w.env = append(append(os.Environ(), env...), "HTTP_ADDR="+w.Addr)
	return w, nil
}

// Start runs the process; it does not wait for it to be ready.
func (w *Worker) Start() error {
	logf, err := os.OpenFile(w.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(w.bin)
	cmd.Env = w.env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("prodstack: start %s: %w", w.Name, err)
	}
	w.cmd, w.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(w.exited) }()
	return nil
}

// WaitReady polls /readyz until it answers 200, the process exits or ctx
// ends.
func (w *Worker) WaitReady(ctx context.Context) error {
	hc := &http.Client{Timeout: 3 * time.Second}
	for {
		if resp, err := hc.Get("http://" + w.Addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-w.exited:
			return fmt.Errorf("prodstack: %s exited (%v):\n%s", w.Name, w.cmd.ProcessState, tail(w.LogPath, 20))
		case <-ctx.Done():
			return fmt.Errorf("prodstack: %s not ready: %w\n%s", w.Name, ctx.Err(), tail(w.LogPath, 20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Kill sends SIGKILL and waits for the process to go: no shutdown, no
// goodbye, like an OOM kill or a lost node.
func (w *Worker) Kill() {
	if w.cmd == nil || w.exited == nil {
		return
	}
	_ = w.cmd.Process.Kill()
	<-w.exited
}

// Stop sends SIGTERM (a graceful shutdown) and waits.
func (w *Worker) Stop() {
	if w.cmd != nil {
		stopProcess(w.cmd, w.exited, 30*time.Second)
	}
}

// Pid is the ID of the running process (0 before Start).
func (w *Worker) Pid() int {
	if w.cmd == nil {
		return 0
	}
	return w.cmd.Process.Pid
}

// Exited reports whether the process has ended.
func (w *Worker) Exited() bool {
	select {
	case <-w.exited:
		return true
	default:
		return false
	}
}
