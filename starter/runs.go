package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"time"

	"github.com/stopline/stopline/internal/admin"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

const runUsage = `usage:
  starter pause  -run-id ID [-note TEXT] [-by NAME] [-create]   the run's journeys hold before their next send
  starter resume -run-id ID [-note TEXT] [-by NAME] [-create]   they go on
  starter stop   -run-id ID [-note TEXT] [-by NAME] [-create]   they end stopped: run_stopped (final)
Each command is committed in Postgres (DATABASE_URL) with an audit event,
then told to the run's running journeys through Temporal. A run Postgres
does not know (no journey of it started, no command given) is refused as a
likely typo; -create commands it all the same, e.g. to pause it before its
first journey starts.`

// runCommands are the run commands by name, and the state each sets.
var runCommands = map[string]contract.RunState{
	"pause": contract.RunPaused, "resume": contract.RunRunning, "stop": contract.RunStopped,
}

// runRunCommand implements `starter pause|resume|stop`.
func runRunCommand(cmd string, args []string, w io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	dev := devFlag(fs)
	runID := fs.String("run-id", "", "the run, as the starter named it")
	note := fs.String("note", "", "why (kept in the run's audit log)")
	by := fs.String("by", loginName(), "who gives the command (kept in the run's audit log)")
	create := fs.Bool("create", false, "command a run that no journey has started in yet (without it, an unknown run ID is refused)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q\n%s", fs.Arg(0), runUsage)
	}
	if *runID == "" {
		return errors.New("-run-id is required\n" + runUsage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	st, err := openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := admin.SetRun(ctx, st, admin.RunRequest{RunID: *runID, By: *by, Note: *note, Create: *create}, runCommands[cmd])
	if errors.Is(err, admin.ErrRunUnknown) {
		return fmt.Errorf("%w; check -run-id, or give -create to command a run before its first journey starts", err)
	}
	if err != nil {
		return err
	}
	if res.Changed {
		fmt.Fprintf(w, "run %s is %s\n", res.RunID, res.State)
	} else {
		fmt.Fprintf(w, "run %s was already %s\n", res.RunID, res.State)
	}
	c, err := dial(ctx, *dev)
	if err == nil {
		defer c.Close()
		res.Signalled, err = workflows.TellRun(ctx, c, st, res.Committed)
	}
	fmt.Fprintf(w, "running journeys told: %d\n", res.Signalled)
	if err != nil {
		// Committed all the same: sends obey it. Only a signal frees a held
		// journey, so a resume must reach them.
		return fmt.Errorf("telling the run's journeys: %w (the state is committed and sends obey it; give the command again to tell the rest)", err)
	}
	return nil
}

// loginName is who runs the starter, for the audit log.
func loginName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return cmp.Or(os.Getenv("USER"), os.Getenv("LOGNAME"))
}

// prepareRun warns before journeys are started in a run that is paused
// (they hold before their first send) or stopped (they end at once,
// sending nothing), and records a new run, so that a command given to it
// before its first journey registers is taken. It reads the run from
// Postgres (DATABASE_URL, or the local default with -dev); without it the
// start goes on unchecked.
func prepareRun(ctx context.Context, w io.Writer, runID string, dev bool) {
	if os.Getenv("DATABASE_URL") == "" && !dev {
		return
	}
	st, err := openStore(ctx)
	if err != nil {
		fmt.Fprintf(w, "note: the state of run %s was not checked: %v\n", runID, err)
		return
	}
	defer st.Close()
	if err := st.EnsureRun(ctx, runID); err != nil {
		fmt.Fprintf(w, "note: run %s was not recorded: %v\n", runID, err)
	}
	run, err := st.RunByID(ctx, runID)
	switch {
	case err != nil:
		fmt.Fprintf(w, "note: the state of run %s was not checked: %v\n", runID, err)
	case run.State == contract.RunPaused:
		fmt.Fprintf(w, "warning: run %s is paused: its journeys hold before their first send until `starter resume -run-id %s`\n", runID, runID)
	case run.State == contract.RunStopped:
		fmt.Fprintf(w, "warning: run %s is stopped: its journeys end at once without sending (run_stopped); choose another -run-id for a new run\n", runID)
	}
}
