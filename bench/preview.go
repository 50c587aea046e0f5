package main

// Scenario "preview": `starter preview`'s work (preview.Run) over a
// generated audience CSV, against the reading of the same file that a start
// makes (launch.Audience: numbers, keys, templates, duplicates), each in a
// bench/startchild process that reports its peak RSS. The preview adds the
// consent lookups in Postgres (one in five recipients has a consent row),
// the segment count and the sending window of every first message: the
// journey has no legal_override and -at is 07:00 in New York, so every
// first send is placed in its window.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// previewAt is a Tuesday, 07:00 in New York: every US window is closed.
const previewAt = "2026-12-01T12:00:00Z"

func runPreview(ctx context.Context, cfg *config) (row, error) {
	n := cfg.previewN
	small := max(n/10, 1)
	dir, exe, err := buildStartChild(ctx)
	if err != nil {
		return row{}, err
	}
	defer os.RemoveAll(dir)
	store, dbURL, drop, err := newStore(ctx, cfg.adminURL, "preview")
	if err != nil {
		return row{}, err
	}
	defer drop()
	keyer := mustKeyer()
	var keys []string
	for i := 0; i < n; i += 5 {
		keys = append(keys, keyer.Key(number(i)))
	}
	if err := loadConsent(ctx, store.Pool(), keys); err != nil {
		return row{}, err
	}
	journeyFile := filepath.Join(dir, "journey.json")
	js, err := json.Marshal(mustJourney(`{"name": "bench-preview", "category": "marketing",
		"sender": {"provider": "twilio", "from": "` + sender + `", "type": "long_code"},
		"steps": [{"sms": "Hi {{.first_name}}, your code is {{.code}}."}, {"wait": "2d"}, {"sms": "Last day for {{.code}}!"}]}`))
	if err != nil {
		return row{}, err
	}
	if err := os.WriteFile(journeyFile, js, 0o600); err != nil {
		return row{}, err
	}

	measure := func(mode string, count int) (startReport, error) {
		path, err := writeAudience(dir, count)
		if err != nil {
			return startReport{}, err
		}
		defer os.Remove(path)
		logf("preview: %s, %d rows", mode, count)
		args := []string{"-mode", mode, "-journey", journeyFile, "-secret", benchSecret, "-csv", path,
			"-database-url", dbURL, "-at", previewAt}
		if cfg.cpuprofile != "" {
			args = append(args, "-cpuprofile", fmt.Sprintf("%s.preview-%s-%d", cfg.cpuprofile, mode, count))
		}
		rep, _, err := runStartChild(ctx, exe, args)
		if err == nil && rep.Started != count {
			err = fmt.Errorf("%s: read %d recipients of %d", mode, rep.Started, count)
		}
		return rep, err
	}
	var reps [3]startReport // n/10 rows, the baseline, n rows
	for i, run := range []struct {
		mode  string
		count int
	}{{"preview", small}, {"read", n}, {"preview", n}} {
		if reps[i], err = measure(run.mode, run.count); err != nil {
			return row{}, err
		}
	}
	smallRun, read, full := reps[0], reps[1], reps[2]
	return row{
		stopline: fmt.Sprintf("%.2f s for %s rows", full.Seconds, strconv.Itoa(n)),
		baseline: fmt.Sprintf("%.2f s", read.Seconds),
		ratio:    read.Seconds / full.Seconds,
		goal:     "seconds, RSS flat",
		rss: fmt.Sprintf("preview %s at %d, %s at %d; reading %s", mib(full.PeakRSSKB), n, mib(smallRun.PeakRSSKB), small,
			mib(read.PeakRSSKB)),
		notes: fmt.Sprintf("preview.Run (consent from Postgres, %d opted out; segments; window at %s) vs the audience reading a start makes; peak RSS of each child process",
			full.Blocked, previewAt),
	}, nil
}
