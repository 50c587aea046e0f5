package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// workerProcess is the real worker binary, run as a child process on a
// stack started without an app (stack.Options.NoApp), so a test can SIGKILL it as a crash would.
type workerProcess struct {
	t       *testing.T
	e       *env
	bin     string
	logPath string
	cmd     *exec.Cmd
}

func newWorkerProcess(t *testing.T, e *env) *workerProcess {
	t.Helper()
	dir := t.TempDir()
	w := &workerProcess{t: t, e: e, bin: filepath.Join(dir, "worker"), logPath: filepath.Join(dir, "worker.log")}
	build := exec.Command("go", "build", "-o", w.bin, "github.com/stopline/stopline/worker")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build worker: %v\n%s", err, out)
	}
	t.Cleanup(w.kill)
	return w
}

// start runs a worker, its output appended to the log; env is added to
// (and overrides) the stack's worker environment.
func (w *workerProcess) start(env ...string) {
	w.t.Helper()
	logFile, err := os.OpenFile(w.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	defer logFile.Close() // the child has its own descriptor
	w.cmd = exec.Command(w.bin, "-http", "")
	w.cmd.Env = append(append(os.Environ(), w.e.WorkerEnv()...), env...)
	w.cmd.Stdout, w.cmd.Stderr = logFile, logFile
	if err := w.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
}

// kill SIGKILLs the running worker, if any, and reaps it.
func (w *workerProcess) kill() {
	if w.cmd == nil {
		return
	}
	_ = w.cmd.Process.Signal(syscall.SIGKILL)
	_ = w.cmd.Wait()
	w.cmd = nil
}

// log is everything the workers printed.
func (w *workerProcess) log() string {
	out, _ := os.ReadFile(w.logPath)
	return string(out)
}

// logTail is the log's last 3,000 bytes.
func (w *workerProcess) logTail() string {
	s := w.log()
	return s[max(0, len(s)-3000):]
}
