package admin

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

// RunRequest pauses, resumes or stops a journey run: POST
// /v1/runs/{run_id}/pause|resume|stop, and starter pause|resume|stop.
type RunRequest struct {
	RunID string `json:"-"` // from the URL or -run-id
	// By says who gives the command, for the audit log; the API defaults
	// it to "admin-api", the starter to the user's login name.
	By   string `json:"by"`
	Note string `json:"note"` // why, for the audit log
	// Create gives the command to a run Postgres does not know yet (no
	// journey of it started, no command given): without it such a run is
	// refused as ErrRunUnknown, since its ID is most likely mistyped. Set
	// it to pause or stop a run before launching it.
	Create bool `json:"create"`
}

// RunResult is what a run command did, and the answer to it.
type RunResult struct {
	RunID   string            `json:"run_id"`
	State   contract.RunState `json:"state"`
	Changed bool              `json:"changed"` // false: the run was in that state already
	// Signalled counts the running journeys told at once (TellRun).
	Signalled int `json:"signalled"`
	// SignalError, if set, says some journeys could not be told; they
	// still obey the state at their next send. Give a resume again.
	SignalError string `json:"signal_error,omitempty"`
	// Committed is the state as committed, which the journeys are told
	// (workflows.TellRun).
	Committed store.Run `json:"-"`
}

// ErrRunStopped answers a pause or resume of a stopped run.
var ErrRunStopped = store.ErrRunStopped

// ErrRunUnknown answers a command to, or a look-up of, a run Postgres does
// not know (store.ErrRunUnknown).
var ErrRunUnknown = store.ErrRunUnknown

// maxRunIDLen bounds a run ID: it is part of every journey's workflow ID.
const maxRunIDLen = 200

// SetRun validates req and commits the run's new state with an audit
// event (store.Store.SetRunState): when it returns, no send of the run
// goes out unless the state allows it. Telling the running journeys is
// the caller's next step (OnRun, workflows.TellRun). Validation errors
// are InputErrors; a pause or resume of a stopped run is ErrRunStopped; a
// run Postgres does not know is ErrRunUnknown unless req.Create.
func SetRun(ctx context.Context, st *store.Store, req RunRequest, to contract.RunState) (RunResult, error) {
	if err := checkRunID(req.RunID); err != nil {
		return RunResult{}, err
	}
	by, note := strings.TrimSpace(req.By), strings.TrimSpace(req.Note)
	if by == "" {
		return RunResult{}, InputError("by: required: who gives the command, for the audit log")
	}
	if err := checkNote(note); err != nil {
		return RunResult{}, InputError(err.Error())
	}
	run, changed, err := st.SetRunState(ctx, store.RunCommand{RunID: req.RunID, To: to, Actor: by, Note: note, Create: req.Create})
	if err != nil {
		return RunResult{}, err
	}
	return RunResult{RunID: run.ID, State: run.State, Changed: changed, Committed: run}, nil
}

// checkRunID refuses a run ID that could not be one: run IDs go into
// workflow IDs and visibility queries.
func checkRunID(id string) error {
	switch {
	case id == "":
		return InputError("run_id: required")
	case len(id) > maxRunIDLen:
		return InputError(fmt.Sprintf("run_id: longer than %d bytes", maxRunIDLen))
	case strings.ContainsFunc(id, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) || strings.ContainsRune(`"'\/`, r) }):
		return InputError(`run_id: must not contain spaces, quotes, slashes or backslashes`)
	}
	return nil
}

// RunView is a run's state and its audit log: GET /v1/runs/{run_id}.
type RunView struct {
	RunID  string            `json:"run_id"`
	State  contract.RunState `json:"state"`
	Events []RunEventJSON    `json:"events"` // oldest first
}

// RunEventJSON is one run command as the API shows it.
type RunEventJSON struct {
	Command string            `json:"command"`
	From    contract.RunState `json:"from"`
	To      contract.RunState `json:"to"`
	By      string            `json:"by"`
	Note    string            `json:"note,omitempty"`
	At      time.Time         `json:"at"`
}

// LookupRun returns a run's state and audit log; a run Postgres does not
// know is ErrRunUnknown.
func LookupRun(ctx context.Context, st *store.Store, runID string) (RunView, error) {
	if err := checkRunID(runID); err != nil {
		return RunView{}, err
	}
	if known, err := st.RunKnown(ctx, runID); err != nil || !known {
		return RunView{}, cmp.Or(err, fmt.Errorf("run %s: %w", runID, ErrRunUnknown))
	}
	run, err := st.RunByID(ctx, runID)
	if err != nil {
		return RunView{}, err
	}
	events, err := st.RunEvents(ctx, runID)
	if err != nil {
		return RunView{}, err
	}
	v := RunView{RunID: runID, State: run.State, Events: make([]RunEventJSON, 0, len(events))}
	for _, e := range events {
		v.Events = append(v.Events, RunEventJSON{Command: e.Command, From: e.From, To: e.To, By: e.Actor, Note: e.Note, At: e.At.UTC()})
	}
	return v, nil
}
