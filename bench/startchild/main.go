// Command startchild is the process whose start rate and peak RSS the
// bench's "starter" scenario measures. It is a separate, small binary
// (built by the bench with go build) because the bench binary links the
// embedded Temporal server, whose package initialisation alone takes about
// 130 MB of RSS that the real starter command does not have.
//
//	startchild -addr HOST:PORT -queue Q -journey J.json -run-id R -mode launch -csv audience.csv
//	startchild -addr HOST:PORT -queue Q -journey J.json -run-id R -mode bare -n 10000
//	startchild -journey J.json -mode preview -csv audience.csv -database-url URL -at TIME
//	startchild -journey J.json -mode read -csv audience.csv   # the audience reading alone
//
// The "preview" scenario uses the last two: preview.Run and, as its
// baseline, launch.Audience's reading of the same file.
//
// It prints {"started":N,"failed":F,"seconds":S,"peak_rss_kb":K} on stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/workflows"
)

type report struct {
	Started int     `json:"started"`
	Failed  int     `json:"failed"`
	Seconds float64 `json:"seconds"`
	// Blocked: previewed recipients whose consent refuses the first step.
	Blocked int `json:"blocked,omitempty"`
	// PeakRSSKB is VmHWM of this process. The parent cannot use its
	// rusage: ru_maxrss of a child started with vfork+exec includes the
	// parent's RSS from before the exec.
	PeakRSSKB int64 `json:"peak_rss_kb"`
}

func main() {
	addr := flag.String("addr", "", "Temporal frontend host:port")
	ns := flag.String("ns", "default", "Temporal namespace")
	queue := flag.String("queue", "", "task queue")
	journeyFile := flag.String("journey", "", "journey definition (JSON)")
	runID := flag.String("run-id", "", "journey run ID")
	secret := flag.String("secret", "", "recipient key secret")
	payloadKeys := flag.String("payload-keys", "", "PAYLOAD_KEYS of the workers (empty: plain payloads)")
	mode := flag.String("mode", "launch", "launch: launch.Run over -csv; bare: plain StartWorkflow calls")
	csvPath := flag.String("csv", "", "audience CSV (launch)")
	n := flag.Int("n", 0, "journeys to start (bare)")
	conc := flag.Int("concurrency", 16, "parallel starts")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to file")
	flag.StringVar(&databaseURL, "database-url", "", "Postgres (preview)")
	flag.StringVar(&previewAt, "at", "", "RFC 3339 start time (preview)")
	flag.Parse()
	if err := run(*addr, *ns, *queue, *journeyFile, *runID, *secret, *payloadKeys, *mode, *csvPath, *n, *conc, *cpuprofile); err != nil {
		fmt.Fprintln(os.Stderr, "startchild:", err)
		os.Exit(1)
	}
}

func run(addr, ns, queue, journeyFile, runID, secret, payloadKeys, mode, csvPath string, n, conc int, cpuprofile string) error {
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	def, err := journey.Load(journeyFile)
	if err != nil {
		return err
	}
	if mode == "preview" || mode == "read" {
		return runPreview(ctx, def, secret, mode, csvPath)
	}
	opts := client.Options{HostPort: addr, Namespace: ns, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))}
	if payloadKeys != "" {
		pc, err := codec.Parse(payloadKeys)
		if err != nil {
			return fmt.Errorf("-payload-keys: %w", err)
		}
		codec.Apply(&opts, pc)
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return err
	}
	defer c.Close()

	var rep report
	began := time.Now()
	switch mode {
	case "launch":
		keyer, f, err := openAudience(secret, csvPath)
		if err != nil {
			return err
		}
		defer f.Close()
		sum, err := launch.Run(ctx, f, launch.Options{RunID: runID, Journey: def, Region: "US", Keyer: keyer, Concurrency: conc},
			launch.TemporalStarter{Client: c, TaskQueue: queue})
		if err != nil {
			return err
		}
		rep.Started, rep.Failed = sum.Started, len(sum.Failed)+len(sum.Skipped)+sum.AlreadyStarted
		if len(sum.Failed) > 0 {
			fmt.Fprintln(os.Stderr, "startchild: first failure:", sum.Failed[0])
		}
	case "bare":
		// The same workflow type and input, without the CSV, the number
		// normalisation, the keyed hash, the template check, and without
		// launch.TemporalStarter's start options (search attributes, ID
		// reuse and conflict policies).
		var next, started, failed atomic.Int64
		var wg sync.WaitGroup
		for range conc {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					key := fmt.Sprintf("r%032x", i)
					in := workflows.JourneyInput{RunID: runID, Journey: *def, Phone: fmt.Sprintf("+1415%07d", i), Region: "US",
						RecipientKey: key, Attributes: map[string]string{"first_name": "Ada", "code": fmt.Sprintf("C%d", i)}}
					_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.JourneyID(runID, key), TaskQueue: queue}, "Journey", in)
					if err != nil {
						failed.Add(1)
					} else {
						started.Add(1)
					}
				}
			})
		}
		wg.Wait()
		rep.Started, rep.Failed = int(started.Load()), int(failed.Load())
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	rep.Seconds = time.Since(began).Seconds()
	rep.PeakRSSKB = vmHWM()
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// vmHWM is the peak resident set size of this process in kB.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
