// Command bench measures stopline against baselines measured in the same
// run, on 127.0.0.1 only: the embedded Temporal server, a real Postgres
// (each scenario creates and drops its own database) and a local fake
// Twilio that answers instantly.
//
//	go run ./bench              # every scenario, default sizes
//	go run ./bench -quick       # every scenario, tiny sizes (CI smoke test, < 2 min)
//	go run ./bench -only journeys,webhook -cpuprofile cpu.out
//	go run ./bench -temporal postgres   # journeys and scale on the official server, 1 and 2 workers
//
// It prints one line per scenario: the stopline figure, the baseline figure
// and their ratio, where 1.00 means "as fast as the baseline" (rate ÷ rate,
// or baseline latency ÷ stopline latency).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stopline/stopline/internal/prodstack"
	"github.com/stopline/stopline/internal/store"
)

// config holds the flags. Defaults suit CI; -quick shrinks them.
type config struct {
	quick      bool
	only       map[string]bool
	cpuprofile string
	adminURL   string
	timeout    time.Duration

	journeys, steps int // scenario journeys

	webhookRequests, webhookConcurrency, webhookKeywords int // scenario webhook
	webhookPlain                                         bool

	consentRows, consentEvents, consentQueries int // scenario consent

	starterN, starterConcurrency int // scenario starter

	scaleN, scaleRecipients, scalePer int // scenario scale

	previewN int // scenario preview

	// -temporal postgres: the official server and `worker` processes.
	temporal                         string
	workers                          []int // worker process counts, one row each
	temporalMaxConns, workerMaxConns int
	workerBin                        string // the worker binary, compiled once per run
}

// scenario is one benchmark; run returns its table row.
type scenario struct {
	name string
	run  func(ctx context.Context, cfg *config) (row, error)
	// prod runs the scenario on a site of the official server
	// (-temporal postgres); nil: the scenario runs embedded only.
	prod func(ctx context.Context, cfg *config, s *site) (row, error)
}

var scenarios = []scenario{
	{name: "journeys", run: runJourneys, prod: journeysOn},
	{name: "webhook", run: runWebhook},
	{name: "consent", run: runConsent},
	{name: "starter", run: runStarter},
	{name: "scale", run: runScale, prod: scaleOn},
	{name: "counts", run: runCounts},
	{name: "preview", run: runPreview},
}

func main() {
	// Hidden subcommands: the bench re-executes itself to measure a
	// process of its own (starter RSS, worker RSS).
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "child-") {
		os.Exit(runChild(os.Args[1], os.Args[2:]))
	}

	cfg := &config{}
	var only string
	flag.BoolVar(&cfg.quick, "quick", false, "tiny sizes: all scenarios in under 2 minutes (smoke test; figures are not meaningful)")
	flag.StringVar(&only, "only", "", "comma-separated scenarios to run: "+scenarioNames())
	flag.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of this process to `file` (child processes write file.<child>)")
	flag.StringVar(&cfg.adminURL, "pg", envOr("STOPLINE_BENCH_DATABASE_URL", store.DefaultURL),
		"Postgres server URL; the bench creates and drops databases stopline_bench_<pid>_* on it (STOPLINE_BENCH_DATABASE_URL)")
	flag.DurationVar(&cfg.timeout, "timeout", 30*time.Minute, "upper bound of one scenario")
	flag.IntVar(&cfg.journeys, "journeys", 1000, "journeys: number of journeys (N)")
	flag.IntVar(&cfg.steps, "steps", 3, "journeys: SMS steps per journey (k)")
	flag.IntVar(&cfg.webhookRequests, "webhook-requests", 20000, "webhook: requests per side")
	flag.IntVar(&cfg.webhookConcurrency, "webhook-concurrency", 32, "webhook: concurrent requests")
	flag.IntVar(&cfg.webhookKeywords, "webhook-keywords", 20, "webhook: percentage of requests that are keywords (half STOP, half HELP); the rest is plain text")
	flag.BoolVar(&cfg.webhookPlain, "webhook-plain", true, "webhook: also run stopline rounds whose intake stores numbers and bodies unsealed (bench only), to show what sealing costs")
	flag.IntVar(&cfg.consentRows, "consent-rows", 1_000_000, "consent: rows loaded into consent")
	flag.IntVar(&cfg.consentEvents, "consent-events", 10_000_000, "consent: rows loaded into consent_events")
	flag.IntVar(&cfg.consentQueries, "consent-queries", 20000, "consent: timed lookups per side")
	flag.IntVar(&cfg.starterN, "starter-n", 10000, "starter: journeys started from the CSV (RSS is also shown for n/10); 100000 as in issue 5")
	flag.IntVar(&cfg.starterConcurrency, "starter-concurrency", 16, "starter: parallel starts (launch.Options.Concurrency)")
	flag.IntVar(&cfg.scaleN, "scale-n", 10000, "scale: journeys waiting on a 1h timer")
	flag.IntVar(&cfg.scaleRecipients, "scale-recipients", 20, "scale: recipients that text STOP (one latency sample each)")
	flag.IntVar(&cfg.scalePer, "scale-per", 20, "scale: waiting journeys per STOP recipient")
	flag.IntVar(&cfg.previewN, "preview-n", 100_000, "preview: audience rows previewed (RSS is also shown for n/10)")
	flag.StringVar(&cfg.temporal, "temporal", "embedded", "Temporal server of the workflow scenarios: embedded (in-memory SQLite), or postgres: the official temporal-server "+prodstack.ServerVersion+" on Postgres with `worker` processes, running journeys and scale only")
	workers := flag.String("workers", "1,2", "-temporal postgres: worker process counts, one row per scenario each (each beside as many baseline worker processes)")
	flag.IntVar(&cfg.temporalMaxConns, "temporal-max-conns", 8, "-temporal postgres: maxConns of each temporal-server service's store (4 services, each also 2 for visibility)")
	flag.IntVar(&cfg.workerMaxConns, "worker-max-conns", 8, "-temporal postgres: pool_max_conns of each worker's DATABASE_URL (plus 3 for its webhook intake)")
	flag.Parse()
	if err := parseTemporal(cfg, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if cfg.quick {
		quickSizes(cfg)
	}
	if only != "" {
		cfg.only = map[string]bool{}
		for _, n := range strings.Split(only, ",") {
			n = strings.TrimSpace(n)
			i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == n })
			if i < 0 {
				fmt.Fprintf(os.Stderr, "bench: unknown scenario %q (have %s)\n", n, scenarioNames())
				os.Exit(2)
			}
			if cfg.temporal == "postgres" && scenarios[i].prod == nil {
				fmt.Fprintf(os.Stderr, "bench: scenario %q runs only with -temporal embedded\n", n)
				os.Exit(2)
			}
			cfg.only[n] = true
		}
	}
	os.Exit(run(cfg))
}

// quickSizes shrinks every size flag the user did not set explicitly.
func quickSizes(cfg *config) {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	small := map[string]*int{}
	tiny := func(name string, p *int, v int) {
		small[name] = p
		if !set[name] {
			*p = v
		}
	}
	tiny("journeys", &cfg.journeys, 80)
	tiny("steps", &cfg.steps, 2)
	tiny("webhook-requests", &cfg.webhookRequests, 1000)
	tiny("consent-rows", &cfg.consentRows, 10_000)
	tiny("consent-events", &cfg.consentEvents, 100_000)
	tiny("consent-queries", &cfg.consentQueries, 2000)
	tiny("starter-n", &cfg.starterN, 1000)
	tiny("scale-n", &cfg.scaleN, 300)
	tiny("scale-recipients", &cfg.scaleRecipients, 5)
	tiny("scale-per", &cfg.scalePer, 10)
	tiny("preview-n", &cfg.previewN, 2000)
	if !set["timeout"] {
		cfg.timeout = 2 * time.Minute
	}
}

func run(cfg *config) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}

	dropStaleDatabases(ctx, cfg.adminURL)
	if cfg.temporal == "postgres" {
		dir, err := os.MkdirTemp("", "stopline-bench-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		logf("compiling ./worker")
		if cfg.workerBin, err = prodstack.Compile(ctx, dir, "worker"); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	printHeader(cfg)
	t := newTable()
	failed := 0
	start := time.Now()
	for _, r := range runs(cfg) {
		logf("== %s", r.name)
		sctx, cancel := context.WithTimeout(ctx, cfg.timeout)
		began := time.Now()
		out, err := r.run(sctx)
		cancel()
		if err != nil {
			failed++
			out = row{notes: "FAILED: " + err.Error()}
			logf("%s failed: %v", r.name, err)
		}
		out.scenario = r.name
		logf("%s done in %v", r.name, time.Since(began).Round(100*time.Millisecond))
		t.add(out)
		if ctx.Err() != nil {
			break
		}
	}
	t.print(os.Stdout)
	fmt.Printf("total %v\n", time.Since(start).Round(100*time.Millisecond))
	if failed > 0 || ctx.Err() != nil {
		return 1
	}
	return 0
}

// parseTemporal checks -temporal and reads -workers.
func parseTemporal(cfg *config, workers string) error {
	if cfg.temporal != "embedded" && cfg.temporal != "postgres" {
		return fmt.Errorf("-temporal %q: want embedded or postgres", cfg.temporal)
	}
	for _, f := range strings.Split(workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-workers %q: want counts of worker processes, such as 1,2", workers)
		}
		cfg.workers = append(cfg.workers, n)
	}
	return nil
}

// benchRun is one row of the table to measure.
type benchRun struct {
	name string
	run  func(ctx context.Context) (row, error)
}

// runs lists the rows of this invocation: each selected scenario once,
// or with -temporal postgres, each selected scenario that runs there once
// per worker count, each on a server of its own.
func runs(cfg *config) []benchRun {
	var rs []benchRun
	for _, s := range scenarios {
		if cfg.only != nil && !cfg.only[s.name] {
			continue
		}
		if cfg.temporal == "embedded" {
			rs = append(rs, benchRun{s.name, func(ctx context.Context) (row, error) { return s.run(ctx, cfg) }})
			continue
		}
		if s.prod == nil {
			continue
		}
		for _, n := range cfg.workers {
			name := fmt.Sprintf("%s (pg, %d %s)", s.name, n, plural(n, "worker"))
			rs = append(rs, benchRun{name, func(ctx context.Context) (row, error) { return onProdSite(ctx, cfg, s, n) }})
		}
	}
	return rs
}

// onProdSite runs a scenario on the official server with n worker
// processes; the row's notes start with the site.
func onProdSite(ctx context.Context, cfg *config, s scenario, n int) (row, error) {
	st, err := prodSite(ctx, cfg, s.name, n)
	if err != nil {
		return row{}, err
	}
	defer st.close()
	r, err := s.prod(ctx, cfg, st)
	r.notes = st.describe() + "; " + r.notes
	return r, err
}

func printHeader(cfg *config) {
	mode := "default sizes"
	if cfg.quick {
		mode = "-quick (smoke test sizes: figures are not meaningful)"
	}
	host, _ := os.Hostname()
	fmt.Printf("stopline bench  %s  %s %s/%s  host %s\n", time.Now().Format("2006-01-02 15:04 MST"), runtime.Version(), runtime.GOOS, runtime.GOARCH, host)
	fmt.Printf("machine: %d cores (%s), %s RAM, load average before: %s\n", runtime.NumCPU(), cpuModel(), memTotal(), loadAvg())
	fmt.Printf("mode: %s\n", mode)
	if cfg.temporal == "postgres" {
		fmt.Printf("temporal: the official temporal-server %s on Postgres (its development-postgres12.yaml), `worker` processes without -dev: %v; store maxConns %d per service, worker pool_max_conns %d + %d intake\n",
			prodstack.ServerVersion, cfg.workers, cfg.temporalMaxConns, cfg.workerMaxConns, prodIntakeSlots+prodKeywordSlots)
	} else {
		fmt.Println("temporal: embedded (in-memory SQLite)")
	}
	fmt.Println("ratio = stopline ÷ baseline as speed (rate ÷ rate, or baseline latency ÷ stopline latency): 1.00 = as fast as the baseline")
	fmt.Println()
}

func scenarioNames() string {
	var names []string
	for _, s := range scenarios {
		names = append(names, s.name)
	}
	return strings.Join(names, ",")
}

// logf reports progress on stderr, keeping stdout for the table.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s: "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// plural is word, or its plural unless n is 1.
func plural(n int, word string) string {
	switch {
	case n == 1:
		return word
	case strings.HasSuffix(word, "s"):
		return word + "es"
	}
	return word + "s"
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
