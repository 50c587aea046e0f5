package main

// Scenario "starter": start journeys from a generated audience CSV with
// launch.Run and launch.TemporalStarter, in a child process (bench/startchild,
// built with go build) that reports its peak RSS (VmHWM), against bare
// StartWorkflow calls at the same concurrency from the same binary. The
// task queue has no worker: only starts are measured. Every run gets a
// fresh embedded server, so no run pays for the workflows an earlier one
// left behind.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
)

func runStarter(ctx context.Context, cfg *config) (row, error) {
	n, conc := cfg.starterN, cfg.starterConcurrency
	small := max(n/10, 1)
	dir, exe, err := buildStartChild(ctx)
	if err != nil {
		return row{}, err
	}
	defer os.RemoveAll(dir)
	journeyFile := filepath.Join(dir, "journey.json")
	js, err := json.Marshal(waitingJourney())
	if err != nil {
		return row{}, err
	}
	if err := os.WriteFile(journeyFile, js, 0o600); err != nil {
		return row{}, err
	}

	type result struct {
		rep   startReport
		rssKB int64
	}
	measure := func(mode string, count int) (result, error) {
		ts, err := startTemporal(ctx)
		if err != nil {
			return result{}, err
		}
		defer ts.close()
		args := []string{"-addr", ts.srv.FrontendAddr(), "-ns", ts.srv.Namespace(), "-queue", "bench-starts-no-worker",
			"-journey", journeyFile, "-secret", benchSecret, "-payload-keys", benchPayloadKeys, "-mode", mode, "-n", strconv.Itoa(count), "-concurrency", strconv.Itoa(conc), "-run-id", fmt.Sprintf("%s%d", mode, count)}
		if mode == "launch" {
			path, err := writeAudience(dir, count)
			if err != nil {
				return result{}, err
			}
			defer os.Remove(path)
			args = append(args, "-csv", path)
		}
		logf("starter: %s, %d journeys", mode, count)
		if cfg.cpuprofile != "" {
			args = append(args, "-cpuprofile", fmt.Sprintf("%s.starter-%s-%d", cfg.cpuprofile, mode, count))
		}
		rep, rss, err := runStartChild(ctx, exe, args)
		if err != nil {
			return result{}, err
		}
		if rep.Started != count || rep.Failed != 0 {
			return result{}, fmt.Errorf("%s: started %d of %d (%d failed or skipped)", mode, rep.Started, count, rep.Failed)
		}
		return result{rep, rss}, nil
	}

	smallRun, err := measure("launch", small)
	if err != nil {
		return row{}, err
	}
	bare, err := measure("bare", n)
	if err != nil {
		return row{}, err
	}
	full, err := measure("launch", n)
	if err != nil {
		return row{}, err
	}
	sRate, bRate := float64(n)/full.rep.Seconds, float64(n)/bare.rep.Seconds
	return row{
		stopline: fmt.Sprintf("%.0f starts/s", sRate),
		baseline: fmt.Sprintf("%.0f starts/s", bRate),
		ratio:    sRate / bRate,
		goal:     "≥ 0.90, RSS flat",
		rss:      fmt.Sprintf("starter %s at %d, %s at %d; bare %s", mib(full.rssKB), n, mib(smallRun.rssKB), small, mib(bare.rssKB)),
		notes: fmt.Sprintf("launch.Run+TemporalStarter from CSV vs bare StartWorkflow (same input, no search attributes), concurrency %d, queue without worker; peak RSS of each child process; %d at %.0f starts/s",
			conc, small, float64(small)/smallRun.rep.Seconds),
	}, nil
}

// writeAudience writes an audience CSV of n distinct valid numbers.
func writeAudience(dir string, n int) (string, error) {
	path := filepath.Join(dir, fmt.Sprintf("audience-%d.csv", n))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "phone,first_name,code")
	for i := range n {
		fmt.Fprintf(w, "%s,Ada,C%d\n", number(i), i)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// startReport is what startchild prints.
type startReport struct {
	Started   int     `json:"started"`
	Failed    int     `json:"failed"`
	Seconds   float64 `json:"seconds"`
	Blocked   int     `json:"blocked"`
	PeakRSSKB int64   `json:"peak_rss_kb"` // VmHWM
}

// buildStartChild builds bench/startchild into a new temporary directory,
// which the caller removes, for the scenario's files too.
func buildStartChild(ctx context.Context) (dir, exe string, err error) {
	if dir, err = os.MkdirTemp("", "stopline-bench-"); err != nil {
		return "", "", err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	exe = filepath.Join(dir, "startchild")
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", exe, "github.com/stopline/stopline/bench/startchild")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("go build bench/startchild (run the bench from inside the module): %v\n%s", err, out)
	}
	return dir, exe, nil
}

// runStartChild runs startchild and returns its report and peak RSS (kB),
// which the child reads from its own VmHWM (see startchild).
func runStartChild(ctx context.Context, exe string, args []string) (startReport, int64, error) {
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return startReport{}, 0, fmt.Errorf("startchild: %w", err)
	}
	var rep startReport
	if err := json.Unmarshal(out, &rep); err != nil {
		return startReport{}, 0, fmt.Errorf("startchild output %q: %w", out, err)
	}
	if rep.PeakRSSKB == 0 {
		return rep, 0, errors.New("startchild: no VmHWM in /proc/self/status")
	}
	return rep, rep.PeakRSSKB, nil
}
