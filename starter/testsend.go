package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// runTest implements `starter test`: one journey, or one of its steps, to
// one number now, as a Journey workflow marked as a test.
func runTest(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	attrs := attrFlag{}
	var step *int
	var (
		dev         = devFlag(fs)
		journeyPath = fs.String("journey", "", "journey definition (JSON)")
		to          = fs.String("to", "", "the number to send to")
		sendersPath = fs.String("senders", os.Getenv("STOPLINE_SENDERS"), "the worker's senders file, to check an opt_in step's sender (STOPLINE_SENDERS)")
		region      = fs.String("region", "US", "default region for a number without a country code")
		runID       = fs.String("run-id", "", "test run ID (default: test-<journey>-<UTC time>); the workflow ID is test/<run ID>/<recipient key>")
		now         = fs.Bool("now", false, "send outside the sending window (quiet hours, state rules); recorded in the ledger and the journey's summary")
		wait        = fs.Duration("wait", 30*time.Second, "how long to wait for the outcome")
		uiURL       = fs.String("ui", "http://127.0.0.1:8233", "Temporal UI base URL, for the printed link")
	)
	fs.Var(attrs, "attr", "an attribute the journey's templates use, name=value (repeat the flag)")
	fs.Func("step", "send only steps[K] (an index, as preview prints it); default: every sms step", func(s string) error {
		k, err := strconv.Atoi(s)
		if err != nil {
			return errors.New("want a step index such as 0")
		}
		step = &k
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *journeyPath == "" || *to == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("test: -journey and -to are required, and it takes no arguments")
	}
	keyer, err := keyerFromEnv(*dev)
	if err != nil {
		return err
	}
	def, _, err := loadJourney(*journeyPath, *sendersPath)
	if err != nil {
		return err
	}
	ts := launch.TestSend{Options: launch.Options{RunID: *runID, Journey: def, Region: *region, Keyer: keyer},
		Phone: *to, Attributes: attrs, Step: step, Now: *now}
	id, in, err := ts.Input(time.Now())
	if err != nil {
		return fmt.Errorf("test: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c, err := dial(ctx, *dev)
	if err != nil {
		return err
	}
	defer c.Close()
	started, err := launch.TemporalStarter{Client: c}.Start(ctx, id, in)
	if err != nil {
		return fmt.Errorf("test: start %s: %w", id, err)
	}
	if !started {
		return fmt.Errorf("test: %s exists already (this test run sent to this number); choose another -run-id", id)
	}
	fmt.Fprintf(stdout, "test send %s started\nwatch: %s/%s\n", id, uiWorkflows(*uiURL), url.PathEscape(id))
	return awaitTest(ctx, stdout, c, id, *wait)
}

// awaitTest prints the test send's outcome, or after wait what it waits
// for. A refused test send is an error, so scripts see it.
func awaitTest(ctx context.Context, w io.Writer, c client.Client, id string, wait time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var res workflows.JourneyResult
	err := c.GetWorkflow(wctx, id, "").Get(wctx, &res)
	if wctx.Err() != nil && ctx.Err() == nil {
		var st contract.JourneyStatus
		if v, qerr := c.QueryWorkflow(ctx, id, "", contract.QueryStatus); qerr == nil && v.Get(&st) == nil && !st.DeferredUntil.IsZero() {
			fmt.Fprintf(w, "still running after %v: steps[%d] deferred until %s (%s); -now sends outside the window\n",
				wait, st.Step, st.DeferredUntil.Format(time.RFC3339), st.DeferredReason)
			return nil
		}
		fmt.Fprintf(w, "still running after %v\n", wait)
		return nil
	}
	if err != nil {
		return fmt.Errorf("test send %s: %w", id, err)
	}
	fmt.Fprintln(w, res.Summary)
	if res.State == workflows.StateSkipped || res.State == workflows.StateStopped {
		return fmt.Errorf("test send %s was not delivered: %s", id, res.Reason)
	}
	return nil
}

// attrFlag collects -attr name=value flags.
type attrFlag map[string]string

func (a attrFlag) String() string { return "" }

func (a attrFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if name = strings.TrimSpace(name); !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	if _, dup := a[name]; dup {
		return fmt.Errorf("%q given twice", name)
	}
	a[name] = value
	return nil
}
