package main

// The "scale" scenario runs the embedded Temporal server and the stopline
// worker as child processes of their own ("child-server", "child-worker":
// the bench re-executes itself), so that each one's RSS is its own. The
// bench binary links what the worker binary links (internal/app includes
// the embedded server for -dev), so the child's RSS is the worker's.
//
// A child prints "ready ..." on stdout once it serves, and runs until its
// stdin closes (the parent stops it, or exits).

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"time"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/devserver"
	"github.com/stopline/stopline/internal/stack"
)

func runChild(name string, args []string) int {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	addr := fs.String("addr", "", "Temporal frontend (child-worker, child-baseline)")
	ns := fs.String("ns", "default", "Temporal namespace (child-worker, child-baseline)")
	queue := fs.String("queue", "", "task queue (child-worker, child-baseline)")
	db := fs.String("db", "", "stopline database URL (child-worker)")
	cpuprofile := fs.String("cpuprofile", "", "CPU profile file")
	_ = fs.Parse(args)

	if *cpuprofile != "" {
		if f, err := os.Create(*cpuprofile); err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	var err error
	switch name {
	case "child-server":
		err = childServer(context.Background())
	case "child-worker":
		err = childWorker(context.Background(), *addr, *ns, *queue, *db)
	case "child-baseline":
		err = childBaseline(context.Background(), *addr, *ns, *queue)
	default:
		err = fmt.Errorf("unknown subcommand %s", name)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	return 0
}

// childServer runs an embedded Temporal server; it prints
// "ready <frontend> <namespace>".
func childServer(ctx context.Context) error {
	srv, err := stack.StartServer(ctx, devserver.Options{})
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Printf("ready %s %s\n", srv.FrontendAddr(), srv.Namespace())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// SignalWaiterWorkflow waits for the signal "go" and returns the time its
// worker observed it: the baseline of the STOP round trip.
func SignalWaiterWorkflow(ctx workflow.Context) (time.Time, error) {
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	var observed time.Time
	err := workflow.SideEffect(ctx, func(workflow.Context) any { return time.Now() }).Get(&observed)
	return observed, err
}

// CancelWaiterWorkflow waits on a 1h timer, as a journey at a wait step
// does, until the signal "cancel" ends it: the fair baseline of STOP → a
// recipient's journeys closed.
func CancelWaiterWorkflow(ctx workflow.Context) error {
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	workflow.NewSelector(ctx).
		AddReceive(workflow.GetSignalChannel(ctx, "cancel"), func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) }).
		AddFuture(workflow.NewTimer(timerCtx, time.Hour), func(workflow.Future) {}).
		Select(ctx)
	cancelTimer()
	return nil
}

// childWorker is a stopline worker process (internal/app with its webhook
// bridge and a fake Twilio) plus a baseline worker on queue-baseline. It
// prints "ready <http addr>".
func childWorker(ctx context.Context, addr, ns, queue, db string) error {
	ts, err := dial(ctx, addr, ns)
	if err != nil {
		return err
	}
	defer ts.Close()
	st, err := stack.Start(ctx, stack.Options{Temporal: ts, DatabaseURL: db}, benchApp, stack.Webhooks,
		func(c *app.Config) { c.TaskQueue = queue })
	if err != nil {
		return err
	}
	defer st.Close()
	stop, err := startBaselines(ts, queue+"-baseline")
	if err != nil {
		return err
	}
	defer stop()
	fmt.Printf("ready %s\n", st.App.HTTPAddr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// childBaseline is a baseline worker process on queue: the other side of a
// stopline `worker` process (-temporal postgres). It prints "ready <queue>".
func childBaseline(ctx context.Context, addr, ns, queue string) error {
	ts, err := dial(ctx, addr, ns)
	if err != nil {
		return err
	}
	defer ts.Close()
	stop, err := startBaselines(ts, queue)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Printf("ready %s\n", queue)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// startBaselines starts a worker of the baseline workflows on queue.
func startBaselines(ts *stack.Temporal, queue string) (stop func(), err error) {
	w := worker.New(ts.Client, queue, workerOptions)
	registerBaselines(w)
	if err := w.Start(); err != nil {
		return nil, err
	}
	return w.Stop, nil
}

// child is a running child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ready []string // the fields after "ready"
}

// startChild starts the bench binary with a child subcommand and waits
// until it is ready.
func startChild(ctx context.Context, cfg *config, sub string, args ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if cfg.cpuprofile != "" {
		args = append(args, "-cpuprofile", cfg.cpuprofile+"."+strings.TrimPrefix(sub, "child-"))
	}
	cmd := exec.Command(exe, append([]string{sub}, args...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin}
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- strings.Fields(rest)
			}
		}
		close(ready)
	}()
	select {
	case fields, ok := <-ready:
		if ok {
			c.ready = fields
			return c, nil
		}
		err = fmt.Errorf("%s exited before it was ready", sub)
	case <-time.After(time.Minute):
		err = fmt.Errorf("%s: not ready after a minute", sub)
	case <-ctx.Done():
		err = ctx.Err()
	}
	c.stop()
	return nil, err
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop closes the child's stdin, which makes it shut down, and waits for
// it (killing it after 30 s).
func (c *child) stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

var errNotReady = errors.New("child: unexpected ready line")
