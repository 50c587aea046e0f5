package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/workflows/contract"
)

// User metadata: the one-line summaries the Temporal UI shows beside a
// journey's timers, activities and side effects, and the journey's own
// summary and details at start. They name steps by their index in the
// journey file (as the status query does), never a phone number, a body or
// an attribute. They are payloads, so the codec encrypts them. The server
// stores them beside the commands but replay does not compare them: changing
// a summary changes no command.

// StaticSummary is a journey's one-line summary in the UI's workflow list.
func StaticSummary(def *journey.Definition, runID string) string {
	return fmt.Sprintf("%s · run %s · %d steps", def.Name, runID, len(def.Steps))
}

// StaticDetails describes a journey's steps as the designer wrote them
// (kinds, categories and waits; no message text).
func StaticDetails(def *journey.Definition, runID string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Journey** %s (%s, %s via %s)\n\n**Run** %s\n\n**Steps** %d\n", def.Name, def.Category, def.Sender.Scope(), def.Sender.Provider, runID, len(def.Steps))
	for i, s := range def.Steps {
		fmt.Fprintf(&b, "%d. %s\n", i, stepSummary(def, i, s))
	}
	return b.String()
}

func stepSummary(def *journey.Definition, i int, s journey.Step) string {
	switch {
	case s.IsWait():
		return waitSummary(i, s)
	case s.IsOptIn():
		return optInSummary(i)
	default:
		return smsSummary(i, def.Category)
	}
}

func smsSummary(i int, category contract.Category) string {
	return fmt.Sprintf("SMS step %d (%s)", i, category)
}

func optInSummary(i int) string { return fmt.Sprintf("opt-in request step %d", i) }

func openSummary(i int) string {
	return fmt.Sprintf("is cancelled send step %d open in the ledger?", i)
}

func settleSummary(i int) string {
	return fmt.Sprintf("settle cancelled send step %d (ask the provider, never send)", i)
}

func waitSummary(i int, s journey.Step) string { return fmt.Sprintf("wait %s (step %d)", s.Wait, i) }

func consentSummary(i int, category contract.Category) string {
	return fmt.Sprintf("consent check step %d (%s)", i, category)
}

// quietHoursSummary reads like "quiet hours until 08:00 America/Los_Angeles
// (step 2)": the end of the deferral on each of the recipient's clocks.
func quietHoursSummary(i int, now, until time.Time, zones []string) string {
	var clocks []string
	for _, z := range zones {
		if loc, err := time.LoadLocation(z); err == nil && z != "" {
			clocks = append(clocks, clock(now, until, loc)+" "+z)
		}
	}
	if len(clocks) == 0 {
		clocks = []string{clock(now, until, time.UTC) + " UTC"}
	}
	return fmt.Sprintf("quiet hours until %s (step %d)", strings.Join(clocks, ", "), i)
}

func capSummary(i int, now, until time.Time, reason string) string {
	return fmt.Sprintf("%s until %s UTC (step %d)", strings.ReplaceAll(reason, "_", " "), clock(now, until, time.UTC), i)
}

func windowClosedSummary(i int) string { return fmt.Sprintf("sending window closed (step %d)", i) }

func awaitYesSummary(i int, now, until time.Time) string {
	return fmt.Sprintf("await YES until %s UTC (step %d)", clock(now, until, time.UTC), i)
}

// clock shows until on loc's clock: the time of day, with the date when it
// is not within the next 24 hours.
func clock(now, until time.Time, loc *time.Location) string {
	if until.Sub(now) < 24*time.Hour {
		return until.In(loc).Format("15:04")
	}
	return until.In(loc).Format("Jan 2 15:04")
}

// sleep is workflow.Sleep with a summary.
func sleep(ctx workflow.Context, d time.Duration, summary string) error {
	return workflow.NewTimerWithOptions(ctx, d, workflow.TimerOptions{Summary: summary}).Get(ctx, nil)
}

// summarised runs the local activities started under ctx with local's
// options and a summary.
func summarised(ctx workflow.Context, local workflow.LocalActivityOptions, summary string) workflow.Context {
	local.Summary = summary
	return workflow.WithLocalActivityOptions(ctx, local)
}
