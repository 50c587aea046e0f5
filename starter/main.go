// Command starter starts journeys and looks them up.
//
//	starter -journey examples/welcome.json -audience examples/audience.csv [-run-id ID] [-region US]
//	starter -list -run-id ID            # a run's journeys and their states
//	starter -key +14155550101           # a number's recipient key and a UI query
//	starter consent optout +14155550101 -scope '*' -note "called support"
//	starter consent show|history|export|import ...
//	starter preview -journey J -audience A [-n 5] [-at TIME] [-format json]  # a dry run
//	starter validate -journey J [-senders S] [-audience A]                   # a start's checks, for CI
//	starter test -journey J -to +14155550101 [-step K] [-attr k=v ...] [-now] # a test send to one number
//	starter report -run-id ID [-format csv]   # a run's outcome from Postgres: states, sends per step, STOP-to-stop
//	starter pause|resume|stop -run-id ID [-note TEXT] [-by NAME] [-create]  # hold, go on or end a whole run
//	starter keys rewrap [-by NAME]            # data keys wrapped by the first key of PAYLOAD_KEYS, after a rotation
//
// Temporal is reached through envconfig (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TLS and API key settings, profiles); RECIPIENT_KEY_SECRET and PAYLOAD_KEYS
// must match the worker's.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"
	"golang.org/x/term"

	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/internal/temporalns"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "consent":
			return runConsent(args[1:])
		case "keys":
			return runKeys(args[1:], os.Stdout)
		case "preview":
			return runPreview(args[1:], os.Stdout)
		case "validate":
			return runValidate(args[1:], os.Stdout)
		case "test":
			return runTest(args[1:], os.Stdout)
		case "report":
			return runReport(args[1:], os.Stdout)
		case "pause", "resume", "stop":
			return runRunCommand(args[0], args[1:], os.Stdout)
		}
	}
	fs := flag.NewFlagSet("starter", flag.ContinueOnError)
	var (
		dev          = devFlag(fs)
		journeyPath  = fs.String("journey", "", "journey definition (JSON)")
		audiencePath = fs.String("audience", "", "audience CSV: a phone column plus attribute columns")
		runID        = fs.String("run-id", "", "run ID; re-running with the same ID starts no duplicates (default: journey name and today's UTC date)")
		region       = fs.String("region", "US", "default region for numbers without a country code")
		concurrency  = fs.Int("concurrency", 16, "parallel workflow starts")
		list         = fs.Bool("list", false, "list the journeys of -run-id with their states")
		keyFor       = fs.String("key", "", "print the recipient key of a phone number and a Temporal UI query for it")
		uiURL        = fs.String("ui", "http://127.0.0.1:8233", "Temporal UI base URL, for printed links")
		sendersPath  = fs.String("senders", os.Getenv("STOPLINE_SENDERS"), "the worker's senders file, to check an opt_in step's sender before starting (STOPLINE_SENDERS)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}

	keyer, err := keyerFromEnv(*dev)
	if err != nil {
		return err
	}
	if *keyFor != "" {
		return printKey(os.Stdout, keyer, *keyFor, *region, *uiURL)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c, err := dial(ctx, *dev)
	if err != nil {
		return err
	}
	defer c.Close()

	if *list {
		if *runID == "" {
			return errors.New("-list needs -run-id")
		}
		return listRun(ctx, os.Stdout, c, *runID)
	}
	if *journeyPath == "" || *audiencePath == "" {
		fs.Usage()
		return errors.New("-journey and -audience are required")
	}
	def, _, err := loadJourney(*journeyPath, *sendersPath)
	if err != nil {
		return err
	}
	if *runID == "" {
		*runID = def.Name + "-" + time.Now().UTC().Format("20060102")
	}
	prepareRun(ctx, os.Stderr, *runID, *dev)
	f, err := os.Open(*audiencePath)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}

	opts := launch.Options{RunID: *runID, Journey: def, Region: *region, Keyer: keyer, Concurrency: *concurrency}
	var bar *progressbar.ProgressBar
	if term.IsTerminal(int(os.Stderr.Fd())) {
		bar = progressbar.DefaultBytes(info.Size(), "starting journeys")
		opts.Progress = func(n int64) { _ = bar.Set64(n) }
	}
	fmt.Fprintf(os.Stderr, "run %s: journey %q, audience %s\n", *runID, def.Name, *audiencePath)
	var waiting sync.Once
	st := launch.TemporalStarter{Client: c, OnUnmapped: func(err error) {
		waiting.Do(func() {
			fmt.Fprintf(os.Stderr, "starter: %v\n  Temporal has not picked up the search attributes yet (namespace cache); retrying for up to %v\n", err, launch.UnmappedRetry)
		})
	}}
	sum, err := launch.Run(ctx, f, opts, st)
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(os.Stderr)
	}
	if sum != nil {
		printSummary(os.Stdout, *audiencePath, *runID, *uiURL, sum)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", *audiencePath, err)
	}
	if len(sum.Failed) > 0 {
		return fmt.Errorf("%d journeys could not be started; run again with -run-id %s to retry them", len(sum.Failed), *runID)
	}
	return nil
}

func printSummary(w io.Writer, path, runID, ui string, s *launch.Summary) {
	for _, e := range s.Skipped {
		fmt.Fprintf(w, "%s:%d: skipped: %s\n", path, e.Line, e.Reason)
	}
	for _, e := range s.Duplicates {
		fmt.Fprintf(w, "%s:%d: duplicate: %s\n", path, e.Line, e.Reason)
	}
	for _, e := range s.Failed {
		fmt.Fprintf(w, "%s:%d: failed to start: %s\n", path, e.Line, e.Reason)
	}
	if s.FooterSegment > 0 {
		fmt.Fprintf(w, "warning: for %d rows the opt-out footer makes a message one SMS segment longer; shorten the text to save a segment\n", s.FooterSegment)
	}
	fmt.Fprintf(w, "rows %d: started %d, already started %d, duplicates %d, skipped %d, failed %d\n",
		s.Rows, s.Started, s.AlreadyStarted, len(s.Duplicates), len(s.Skipped), len(s.Failed))
	fmt.Fprintf(w, "watch: %s?query=%s\n", uiWorkflows(ui), queryEscape(fmt.Sprintf(`JourneyRunID = %q`, runID)))
}

func devFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("dev", false, "without RECIPIENT_KEY_SECRET or PAYLOAD_KEYS, use the development secret and key of `worker -dev`")
}

// keyerFromEnv keys recipients as the worker does. Only with -dev may the
// public development secret stand in: in production, keys made with it
// match no journey, so a staff opt-out would be recorded and block nothing.
func keyerFromEnv(dev bool) (phone.Keyer, error) {
	secret := os.Getenv("RECIPIENT_KEY_SECRET")
	if secret == "" {
		if !dev {
			return phone.Keyer{}, errors.New("RECIPIENT_KEY_SECRET is not set: set it to the worker's secret, or pass -dev to use the development secret of `worker -dev`")
		}
		fmt.Fprintln(os.Stderr, "starter: RECIPIENT_KEY_SECRET not set; using the development secret (-dev, matches `worker -dev`)")
		secret = phone.DevSecret
	}
	k, err := phone.NewKeyer([]byte(secret))
	if err != nil {
		return k, fmt.Errorf("RECIPIENT_KEY_SECRET: %w", err)
	}
	return k, nil
}

// dial connects to Temporal with the worker's payload codec: a journey
// started without it would carry its recipient's number in plain text.
func dial(ctx context.Context, dev bool) (client.Client, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return nil, fmt.Errorf("temporal client config: %w", err)
	}
	opts.Logger = sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	pc, err := codec.Load(codec.FromEnv(), dev, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return nil, err
	}
	codec.Apply(&opts, pc)
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		addr := opts.HostPort
		if addr == "" {
			addr = client.DefaultHostPort
		}
		return nil, fmt.Errorf("cannot reach Temporal at %s (set TEMPORAL_ADDRESS, or start `go run ./worker -dev`): %w", addr, err)
	}
	// Checked once here, or every row would fail with the same refusal.
	if err := temporalns.Check(ctx, c, cmp.Or(opts.Namespace, client.DefaultNamespace)); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// loadJourney reads a journey file and, given the worker's senders file,
// checks its opt_in step's prerequisites: the checks a start makes before
// it reads the audience. The registry is nil without a senders file.
func loadJourney(journeyPath, sendersPath string) (*journey.Definition, *senders.Registry, error) {
	def, err := journey.Load(journeyPath)
	if err != nil {
		return nil, nil, err
	}
	if sendersPath == "" {
		return def, nil, nil
	}
	reg, err := senders.Load(sendersPath)
	if err != nil {
		return nil, nil, err
	}
	if err := checkOptIn(def, reg); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", journeyPath, err)
	}
	return def, reg, nil
}

// checkOptIn refuses a journey whose opt_in step would fail in every
// workflow: the worker only reads YES for senders with double opt-in.
func checkOptIn(def *journey.Definition, reg *senders.Registry) error {
	for i, st := range def.Steps {
		if st.IsOptIn() && !reg.ScopeSender(reg.ConsentScope(def.Sender.Scope())).DoubleOptIn {
			return fmt.Errorf("steps[%d].opt_in: sender %q has no double opt-in in the senders file", i, def.Sender.Scope())
		}
	}
	return nil
}
