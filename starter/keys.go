package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/stopline/stopline/internal/codec"
)

const keysUsage = `usage:
  starter keys rewrap [-by WHO]   wrap every data key by the first key of PAYLOAD_KEYS (the worker
                                  also does it at start and hourly), then list the data keys by the
                                  key ID that wraps them: a key ID with none left may leave
                                  PAYLOAD_KEYS once no Temporal history needs it (README, Privacy)
Postgres comes from DATABASE_URL.`

// runKeys implements `starter keys ...`.
func runKeys(args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "rewrap" {
		return errors.New(keysUsage)
	}
	fs := flag.NewFlagSet("keys rewrap", flag.ContinueOnError)
	dev := devFlag(fs)
	by := fs.String("by", loginName(), "who re-wraps (kept in the audit log; default the login name)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	pc, err := codec.Load(codec.FromEnv(), *dev, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	if pc == nil {
		return errors.New("keys rewrap: PAYLOAD_ENCRYPTION=off: there is no keyring to wrap data keys with")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	st, err := openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	st.UseKeyring(pc)
	done, err := st.RewrapKeys(ctx, "starter keys rewrap: "+*by)
	fmt.Fprintf(out, "re-wrapped %d data keys by key ID %q (before: %s)\n", done.Keys, done.To, counts(done.From))
	if len(done.Unreadable) > 0 {
		fmt.Fprintf(out, "left as they are, wrapped by key IDs missing from PAYLOAD_KEYS: %s\n", counts(done.Unreadable))
	}
	if err != nil {
		return err
	}
	byID, err := st.DataKeysByKeyID(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "data keys by wrapping key ID: %s\n", counts(byID))
	return nil
}

// counts lists n by key ID, sorted; "" stands for keys stored unwrapped.
func counts(n map[string]int64) string {
	if len(n) == 0 {
		return "none"
	}
	s := ""
	for _, id := range slices.Sorted(maps.Keys(n)) {
		if s != "" {
			s += ", "
		}
		name := id
		if id == "" {
			name = "(unwrapped)"
		}
		s += fmt.Sprintf("%s %d", name, n[id])
	}
	return s
}
