package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/policy"
	"github.com/stopline/stopline/internal/preview"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// A preview's figures are what the run then does: the rows it skips, the
// recipients consent refuses, the messages and segments that go out.
func TestPreviewMatchesTheRun(t *testing.T) {
	e := newEnv(t)
	def := testkit.MustJourney(`{"name": "preview", "category": "marketing", "sender": ` + testkit.AnyHourSender + `,
		"steps": [{"sms": "Hi {{.first_name}}, café day ✓"}, {"wait": "1s"}, {"sms": "Code {{.code}}: ` + strings.Repeat("long copy ", 16) + `"}]}`)

	var csv strings.Builder
	csv.WriteString("phone,first_name,code\n")
	var valid []string
	for i := range 30 {
		number := fmt.Sprintf("+1415555%04d", 1000+i)
		switch {
		case i%10 == 3:
			fmt.Fprintf(&csv, "555%d,Bad,B%d\n", i, i) // invalid number
		case i%10 == 5:
			fmt.Fprintf(&csv, "%s,NoCode,\n", number) // missing attribute
		default:
			fmt.Fprintf(&csv, "%s,P%d,C%d\n", number, i, i)
			valid = append(valid, number)
		}
		if i%10 == 7 {
			fmt.Fprintf(&csv, "%s,Again,A%d\n", number, i) // duplicate
		}
	}
	// Opted out in the journey's scope and everywhere; one in another
	// scope, which does not count.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i, scope := range map[int]string{0: "+15550001111", 1: contract.AllScopes, 2: "+15559999999"} {
		if _, err := e.App.Store.Record(ctx, contract.ConsentChange{RecipientKey: e.Key(valid[i]), Scope: scope, To: contract.OptedOut, Source: contract.SourceAdmin}); err != nil {
			t.Fatal(err)
		}
	}

	rep, err := preview.Run(ctx, strings.NewReader(csv.String()), preview.Options{Journey: def, Region: "US", Keyer: e.Keyer,
		Consent: e.App.Store, At: time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	sum := e.Launch("p1", def, csv.String())

	completed, optedOut := 0, 0
	for _, n := range valid {
		res := e.Result("p1", n)
		switch {
		case res.State == workflows.StateCompleted && res.Sent == 2:
			completed++
		case res.State == workflows.StateSkipped && res.Reason == contract.ReasonOptedOut:
			optedOut++
		default:
			t.Errorf("journey of %s: %s", phone.Mask(n), res.Summary)
		}
	}
	messages, segments := 0, 0
	for _, m := range e.Twilio.Accepted() {
		_, n := policy.Segments(m.Body)
		messages++
		segments += n
	}
	stepMessages := 0
	for _, s := range rep.Steps {
		stepMessages += s.Messages
	}
	skipped := 0
	for _, g := range rep.Skipped {
		skipped += g.Count
	}
	for _, c := range []struct {
		what            string
		preview, actual int
	}{
		{"rows", rep.Rows, sum.Rows},
		{"journeys", rep.Valid, sum.Started},
		{"skipped rows", skipped, len(sum.Skipped)},
		{"duplicates", rep.Duplicates.Count, len(sum.Duplicates)},
		{"refused by consent", rep.Consent.Blocked, optedOut},
		{"completed", rep.Consent.WouldSend, completed},
		{"messages", stepMessages, messages},
		{"segments", rep.Segments, segments},
	} {
		if c.preview != c.actual {
			t.Errorf("%s: preview %d, run %d", c.what, c.preview, c.actual)
		}
	}
	t.Logf("preview and run agree: %d rows, %d journeys, %d skipped rows, %d duplicates, %d opted out, %d messages, %d segments",
		rep.Rows, rep.Valid, skipped, rep.Duplicates.Count, rep.Consent.Blocked, stepMessages, rep.Segments)
	// The sender's legal_override opens every hour, for the run as at -at.
	if len(rep.Deferred) != 0 {
		t.Errorf("preview deferred %+v; the run deferred nothing", rep.Deferred)
	}
	if rep.Consent.Blocked != 2 || messages == 0 || segments == messages {
		t.Errorf("the test lost its point: %d refused (want 2), %d messages, %d segments", rep.Consent.Blocked, messages, segments)
	}
}
