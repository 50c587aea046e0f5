package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/admin"
	"github.com/stopline/stopline/internal/consent"
	"github.com/stopline/stopline/workflows"
)

const consentUsage = `usage:
  starter consent optout PHONE -scope SCOPE [-note TEXT]   record an opt-out (support staff)
  starter consent optin  PHONE -scope SCOPE [-note TEXT]   record an opt-in
  starter consent show    PHONE|KEY                        current consent per scope
  starter consent history PHONE|KEY                        the audit log
  starter consent export -since 2026-01-01T00:00:00Z > events.csv
  starter consent import FILE.csv [-scope SCOPE]           import an opt-out list (phone[,scope][,note])
SCOPE is a sender (+15550001111, a messaging service SID) or * for every sender.
Postgres comes from DATABASE_URL.`

// runConsent implements `starter consent ...`.
func runConsent(args []string) error {
	if len(args) == 0 {
		return errors.New(consentUsage)
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("consent "+cmd, flag.ContinueOnError)
	scope := fs.String("scope", "", "sender scope, or * for all senders")
	note := fs.String("note", "", "why (kept in the audit log)")
	region := fs.String("region", "US", "default region for numbers without a country code")
	since := fs.String("since", "", "export: RFC 3339 time")
	// Accept flags before or after the positional argument.
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if args = fs.Args(); len(args) > 0 {
			pos, args = append(pos, args[0]), args[1:]
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	keyer, err := keyerFromEnv()
	if err != nil {
		return err
	}
	dbURL := os.Getenv("DATABASE_URL")
	if dbURL == "" {
		dbURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	store, err := consent.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer store.Close()

	needPhone := func() (string, error) {
		if len(pos) != 1 {
			return "", fmt.Errorf("consent %s needs one phone number or recipient key\n%s", cmd, consentUsage)
		}
		return pos[0], nil
	}
	switch cmd {
	case "optout", "optin":
		p, err := needPhone()
		if err != nil {
			return err
		}
		to := consent.OptedOut
		if cmd == "optin" {
			to = consent.OptedIn
		}
		res, err := admin.SetConsent(ctx, store, keyer, admin.ChangeRequest{Phone: p, Scope: *scope, Note: *note, Region: *region}, to)
		if err != nil {
			return err
		}
		if !res.Changed {
			fmt.Printf("%s was already %s in scope %s\n", res.Change.RecipientKey, to, res.Change.Scope)
			return nil
		}
		fmt.Printf("recorded: %s %s in scope %s\n", res.Change.RecipientKey, to, res.Change.Scope)
		if to == consent.OptedOut {
			cancelRunning(ctx, store, res.Change)
		}
		return nil
	case "show", "history":
		p, err := needPhone()
		if err != nil {
			return err
		}
		key, err := admin.RecipientKey(keyer, p, *region)
		if err != nil {
			return err
		}
		view, err := admin.Lookup(ctx, store, key)
		if err != nil {
			return err
		}
		var out any = view.States
		if cmd == "history" {
			out = view.Events
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "export":
		from := time.Time{}
		if *since != "" {
			if from, err = time.Parse(time.RFC3339, *since); err != nil {
				return fmt.Errorf("-since: %w", err)
			}
		}
		return admin.Export(ctx, store, os.Stdout, from)
	case "import":
		if len(pos) != 1 {
			return errors.New("consent import needs a CSV file\n" + consentUsage)
		}
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		sum, err := admin.Import(ctx, store, keyer, f, *scope, *region)
		for _, e := range sum.Errors {
			fmt.Fprintf(os.Stderr, "%s:%d: %v\n", pos[0], e.Line, e.Err)
		}
		fmt.Printf("imported %d, unchanged %d, skipped %d\n", sum.Imported, sum.Unchanged, sum.Skipped)
		return err
	}
	return fmt.Errorf("unknown consent command %q\n%s", cmd, consentUsage)
}

// cancelRunning stops the recipient's running journeys at once. It is best
// effort: without Temporal they still send nothing more, because every send
// re-checks consent under the recipient's lock.
func cancelRunning(ctx context.Context, store *consent.Store, c consent.Change) {
	tc, err := dial(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "note: running journeys not signalled (Temporal unreachable); they stop at their next send:", err)
		return
	}
	defer tc.Close()
	acts := &activities.Activities{Store: store, Temporal: tc}
	n, err := acts.CancelJourneys(ctx, activities.CancelInput{RecipientKey: c.RecipientKey, Scope: c.Scope, Reason: activities.ReasonOptedOut}, workflows.SignalCancel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "note: cancelling running journeys:", err)
	}
	fmt.Printf("cancelled %d running journeys\n", n)
}
