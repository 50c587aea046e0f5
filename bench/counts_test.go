package main

import (
	"context"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

// TestCounterLeavesOutIdleSweeps runs the re-driver's real sweep through a
// traced store: a sweep that finds nothing must not count (else the counts
// scenario never sees the app settle), one that delivers must.
func TestCounterLeavesOutIdleSweeps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pc := newPGCounter()
	st, err := store.OpenTraced(ctx, pgtest.NewDatabase(t), 0, pc)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	st.UseKeyring(pgtest.Keyring())
	deliver := func(msgs []contract.Inbound) ([]int64, error) {
		var ids []int64
		for _, m := range msgs {
			ids = append(ids, m.ID)
		}
		return ids, nil
	}

	before := pc.snapshot()
	for range 3 {
		if _, _, err := st.Redrive(ctx, 500, deliver); err != nil {
			t.Fatal(err)
		}
	}
	if got := pc.since(before); len(got) > 0 {
		t.Fatalf("idle sweeps counted: %v", got)
	}

	m := contract.Inbound{Provider: "twilio", MessageID: "SMidle", From: "+14155550100", To: "+14155550199",
		Body: "HELP", RecipientKey: "k1", Scope: "s", ReceivedAt: time.Now()}
	if _, _, _, err := st.SaveInbound(ctx, m, store.Effect{Intent: contract.IntentHelp}); err != nil {
		t.Fatal(err)
	}
	before = pc.snapshot()
	if _, marked, err := st.Redrive(ctx, 500, deliver); err != nil || marked != 1 {
		t.Fatalf("sweep: marked %d, %v", marked, err)
	}
	if got := pc.since(before); got.total() < 4 { // begin, lock, read, mark, commit
		t.Fatalf("a delivering sweep counted %v, want its whole transaction", got)
	}
}
