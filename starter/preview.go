package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/internal/preview"
	"github.com/stopline/stopline/internal/store"
)

// runPreview implements `starter preview`: a dry run over the audience
// that reads consent from Postgres and starts and sends nothing.
func runPreview(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("preview", flag.ContinueOnError)
	var (
		dev          = devFlag(fs)
		journeyPath  = fs.String("journey", "", "journey definition (JSON)")
		audiencePath = fs.String("audience", "", "audience CSV: a phone column plus attribute columns")
		sendersPath  = fs.String("senders", os.Getenv("STOPLINE_SENDERS"), "the worker's senders file: programs, double opt-in (STOPLINE_SENDERS)")
		region       = fs.String("region", "US", "default region for numbers without a country code")
		samples      = fs.Int("n", 5, "recipients whose messages are shown")
		at           = fs.String("at", "", "when the run would start, RFC 3339 (default: now)")
		format       = fs.String("format", "text", "text or json")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *journeyPath == "" || *audiencePath == "" {
		fs.Usage()
		return errors.New("preview: -journey and -audience are required")
	}
	if *format != "text" && *format != "json" {
		return fmt.Errorf("preview: -format must be text or json, got %q", *format)
	}
	start := time.Now()
	if *at != "" {
		var err error
		if start, err = time.Parse(time.RFC3339, *at); err != nil {
			return fmt.Errorf("preview: -at: want an RFC 3339 time such as 2026-12-01T18:00:00-05:00: %w", err)
		}
	}
	keyer, err := keyerFromEnv(*dev)
	if err != nil {
		return err
	}
	def, reg, err := loadJourney(*journeyPath, *sendersPath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	st, err := store.Open(ctx, databaseURL())
	if err != nil {
		return err
	}
	defer st.Close()
	f, err := os.Open(*audiencePath)
	if err != nil {
		return err
	}
	defer f.Close()

	rep, err := preview.Run(ctx, f, preview.Options{Journey: def, Region: *region, Keyer: keyer, Senders: reg,
		Consent: st, At: start, Samples: *samples})
	if err != nil {
		return fmt.Errorf("%s: %w", *audiencePath, err)
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteText(stdout, *audiencePath)
}

// runValidate implements `starter validate`: the checks a start makes
// before starting anything, with the same messages; any error fails.
func runValidate(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	var (
		journeyPath  = fs.String("journey", "", "journey definition (JSON)")
		audiencePath = fs.String("audience", "", "audience CSV whose header is checked against the journey's attributes (optional)")
		sendersPath  = fs.String("senders", os.Getenv("STOPLINE_SENDERS"), "the worker's senders file, to check an opt_in step's sender (STOPLINE_SENDERS)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *journeyPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("validate: -journey is required, and takes no arguments")
	}
	def, _, err := loadJourney(*journeyPath, *sendersPath)
	if err != nil {
		return err
	}
	if *audiencePath != "" {
		if err := checkHeader(*audiencePath, def); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(stdout, "%s: ok\n", *journeyPath)
	return err
}

// checkHeader reads the audience header as a start does.
func checkHeader(path string, def *journey.Definition) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := launch.ReadAudience(f, launch.Options{Journey: def}); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// databaseURL is stopline's Postgres, as the worker finds it.
func databaseURL() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}
