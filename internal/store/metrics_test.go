package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

// The scrape-time gauges: the keyword signals waiting for the re-driver and
// the age of the oldest, and the registered journeys by category.
func TestMetricsGauges(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	backlog := func() (int, time.Duration) {
		t.Helper()
		n, oldest, err := s.RedriverBacklog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n, oldest
	}
	if n, oldest := backlog(); n != 0 || oldest != 0 {
		t.Fatalf("empty backlog = %d, %v; want 0, 0", n, oldest)
	}

	stop := contract.Inbound{Provider: "twilio", MessageID: "SM1", From: "+14155550100", To: "+15550001111", Body: "STOP",
		RecipientKey: "k1", Scope: "+15550001111", ReceivedAt: time.Now()}
	if _, _, _, err := s.SaveInbound(ctx, stop, store.Effect{Intent: "opt_out", Change: gaugeChange(optOut("k1", stop.Scope))}); err != nil {
		t.Fatal(err)
	}
	plain := stop
	plain.MessageID, plain.Body = "SM2", "thanks"
	if _, _, _, err := s.SaveInbound(ctx, plain); err != nil { // no intent: nothing to signal
		t.Fatal(err)
	}
	// Age the STOP as if the re-driver had been stuck for two minutes.
	if _, err := s.Pool().Exec(ctx, `UPDATE inbound_messages SET stored_at = stored_at - interval '2 minutes' WHERE message_id = 'SM1'`); err != nil {
		t.Fatal(err)
	}
	if n, oldest := backlog(); n != 1 || oldest < 2*time.Minute || oldest > 3*time.Minute {
		t.Fatalf("backlog = %d, %v; want 1, about 2m", n, oldest)
	}
	_, _, err := s.Redrive(ctx, 10, func(msgs []contract.Inbound) ([]int64, error) {
		if len(msgs) != 1 || msgs[0].CommittedAt.IsZero() {
			t.Fatalf("pending signals %+v; want the STOP with its commit time", msgs)
		}
		return []int64{msgs[0].ID}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, oldest := backlog(); n != 0 || oldest != 0 {
		t.Fatalf("backlog after delivery = %d, %v; want 0, 0", n, oldest)
	}

	for i, c := range []string{"marketing", "marketing", "transactional"} {
		j := store.ActiveJourney{WorkflowID: "journey/r/" + string(rune('a'+i)), Scope: stop.Scope, Category: c}
		if _, err := s.RegisterJourney(ctx, j, "k1"); err != nil {
			t.Fatal(err)
		}
	}
	counts, err := s.ActiveJourneyCounts(ctx)
	if err != nil || counts["marketing"] != 2 || counts["transactional"] != 1 || len(counts) != 2 {
		t.Fatalf("active journeys %v, %v; want 2 marketing, 1 transactional", counts, err)
	}
}

func gaugeChange(c contract.ConsentChange) *contract.ConsentChange { return &c }
