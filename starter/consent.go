package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/stopline/stopline/internal/admin"
	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

const consentUsage = `usage:
  starter consent optout PHONE -scope SCOPE [-note TEXT]   record an opt-out (support staff)
  starter consent optin  PHONE -scope SCOPE [-note TEXT]   record an opt-in
  starter consent confirm PHONE -scope SCOPE [-note TEXT]  record a confirmed double opt-in
  starter consent show    PHONE|KEY                        current consent per scope
  starter consent history PHONE|KEY                        the audit log
  starter consent access  PHONE|KEY                        everything held on the number, as one JSON document
                                                           (a subject-access request, GDPR Art. 15)
  starter consent forget  PHONE|KEY -by WHO [-note TEXT]   erase the person (GDPR Art. 17) and keep them opted out
                                                           everywhere: their stored numbers and texts become
                                                           unreadable, their journeys and workflow histories go
  starter consent export -since 2026-01-01T00:00:00Z > events.csv
  starter consent import FILE.csv [-scope SCOPE]           import an opt-out list (phone[,scope][,note][,state]);
                                                           state opted_out (default) or confirmed (double opt-in)
SCOPE is a sender (+15550001111, a messaging service SID), a program name from
the senders file (-senders or STOPLINE_SENDERS; a program's senders map to
it too), or * for every sender. Postgres comes from DATABASE_URL.`

// openStore opens stopline's Postgres, named by DATABASE_URL.
func openStore(ctx context.Context) (*store.Store, error) {
	dbURL := os.Getenv("DATABASE_URL")
	if dbURL == "" {
		dbURL = store.DefaultURL
	}
	return store.Open(ctx, dbURL)
}

// runConsent implements `starter consent ...`.
func runConsent(args []string) error {
	if len(args) == 0 {
		return errors.New(consentUsage)
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("consent "+cmd, flag.ContinueOnError)
	dev := devFlag(fs)
	scope := fs.String("scope", "", "sender scope, or * for all senders")
	note := fs.String("note", "", "why (kept in the audit log)")
	by := fs.String("by", os.Getenv("USER"), "forget: who asks for the erasure (kept in the audit log; default $USER)")
	region := fs.String("region", "US", "default region for numbers without a country code")
	since := fs.String("since", "", "export: RFC 3339 time")
	sendersFile := fs.String("senders", os.Getenv("STOPLINE_SENDERS"), "senders file, to map programs and their senders to program scopes (STOPLINE_SENDERS)")
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
	keyer, err := keyerFromEnv(*dev)
	if err != nil {
		return err
	}
	var registry *senders.Registry
	if *sendersFile != "" {
		if registry, err = senders.Load(*sendersFile); err != nil {
			return err
		}
	}
	st, err := openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	// The data keys that seal numbers and texts are wrapped by the payload
	// keyring.
	pc, err := codec.Load(codec.FromEnv(), *dev, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	if pc != nil {
		st.UseKeyring(pc)
	}

	needPhone := func() (string, error) {
		if len(pos) != 1 {
			return "", fmt.Errorf("consent %s needs one phone number or recipient key\n%s", cmd, consentUsage)
		}
		return pos[0], nil
	}
	switch cmd {
	case "optout", "optin", "confirm":
		p, err := needPhone()
		if err != nil {
			return err
		}
		to := map[string]contract.ConsentState{"optout": contract.OptedOut, "optin": contract.OptedIn, "confirm": contract.OptInConfirmed}[cmd]
		res, err := admin.SetConsent(ctx, st, keyer, registry, admin.ChangeRequest{Phone: p, Scope: *scope, Note: *note, Region: *region}, to)
		if err != nil {
			return err
		}
		if !res.Changed {
			fmt.Printf("%s was already %s in scope %s\n", res.Change.RecipientKey, to, res.Change.Scope)
			return nil
		}
		fmt.Printf("recorded: %s %s in scope %s\n", res.Change.RecipientKey, to, res.Change.Scope)
		signalRunning(ctx, res.Change, *dev)
		return nil
	case "forget":
		p, err := needPhone()
		if err != nil {
			return err
		}
		var erase admin.Eraser
		tc, err := dial(ctx, *dev)
		if err != nil {
			fmt.Fprintln(os.Stderr, "note: journeys and workflow histories not removed:", err)
		} else {
			defer tc.Close()
			erase = func(ctx context.Context, key string, journeys []string) (int, int, error) {
				e, err := workflows.EraseRecipient(ctx, tc, namespace(), key, journeys, 30*time.Second)
				return e.Cancelled, e.Deleted, err
			}
		}
		tell := func(ctx context.Context, c contract.ConsentChange) {
			if tc == nil {
				return
			}
			if err := workflows.TellRecipient(ctx, tc, workflows.TaskQueue, c); err != nil {
				fmt.Fprintln(os.Stderr, "note: signalling running journeys:", err)
			}
		}
		res, err := admin.Forget(ctx, st, keyer, admin.ForgetRequest{Phone: p, By: *by, Note: *note, Region: *region}, tell, erase)
		if err != nil {
			return err
		}
		fmt.Println(res)
		return nil
	case "access":
		p, err := needPhone()
		if err != nil {
			return err
		}
		report, err := admin.Access(ctx, st, keyer, p, *region)
		if err != nil {
			return err
		}
		return printJSON(report)
	case "show", "history":
		p, err := needPhone()
		if err != nil {
			return err
		}
		key, err := admin.RecipientKey(keyer, p, *region)
		if err != nil {
			return err
		}
		view, err := admin.Lookup(ctx, st, key)
		if err != nil {
			return err
		}
		var out any = view.States
		if cmd == "history" {
			out = view.Events
		}
		return printJSON(out)
	case "export":
		from := time.Time{}
		if *since != "" {
			if from, err = time.Parse(time.RFC3339, *since); err != nil {
				return fmt.Errorf("-since: %w", err)
			}
		}
		return admin.Export(ctx, st, os.Stdout, from)
	case "import":
		if len(pos) != 1 {
			return errors.New("consent import needs a CSV file\n" + consentUsage)
		}
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		sum, err := admin.Import(ctx, st, keyer, registry, f, *scope, *region)
		for _, e := range sum.Errors {
			fmt.Fprintf(os.Stderr, "%s:%d: %v\n", pos[0], e.Line, e.Err)
		}
		fmt.Printf("imported %d, unchanged %d, skipped %d\n", sum.Imported, sum.Unchanged, sum.Skipped)
		return err
	}
	return fmt.Errorf("unknown consent command %q\n%s", cmd, consentUsage)
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// signalRunning hands the change to the recipient's Recipient workflow, which
// stops their running journeys at once after an opt-out, or lets those
// waiting for a double opt-in go on after a confirmation, and lists it in
// its consent query. It is best effort: without Temporal, journeys still
// send nothing more after an opt-out, because every send re-checks consent
// under the recipient's lock.
func signalRunning(ctx context.Context, c contract.ConsentChange, dev bool) {
	tc, err := dial(ctx, dev)
	if err != nil {
		fmt.Fprintln(os.Stderr, "note: running journeys not signalled:", err)
		return
	}
	defer tc.Close()
	if err := workflows.TellRecipient(ctx, tc, workflows.TaskQueue, c); err != nil {
		fmt.Fprintln(os.Stderr, "note: signalling running journeys:", err)
		return
	}
	fmt.Printf("running journeys told through workflow %s\n", workflows.RecipientID(c.RecipientKey))
}

// namespace is the Temporal namespace dial connects to.
func namespace() string {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return client.DefaultNamespace
	}
	return cmp.Or(opts.Namespace, client.DefaultNamespace)
}
