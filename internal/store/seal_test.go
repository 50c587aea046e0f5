package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

// TestSealPlaintextInBatches seals more plain rows than a batch holds: it
// takes several transactions, each recorded with its counts, and while a
// batch is open a STOP and a consent change with a note still commit.
func TestSealPlaintextInBatches(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	const nInbound, nEvents = store.SealBatchSize + 200, 2*store.SealBatchSize + 500
	if _, err := s.Pool().Exec(ctx, `INSERT INTO inbound_messages (provider, message_id, from_number, to_number, body, recipient_key, intent, received_at)
		SELECT 'twilio', 'SMold'||i, '+1415555'||lpad(i::text, 4, '0'), $2, 'old text '||i, 'rk'||(i % 50), 'none', now()
		FROM generate_series(1, $1) i`, nInbound, scopeA); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `INSERT INTO consent_events (recipient_key, scope, to_state, source, raw_text, note)
		SELECT 'rk'||(i % 50), $2, 'opted_out', 'keyword', 'STOP '||i, 'old note '||i FROM generate_series(1, $1) i`, nEvents, scopeA); err != nil {
		t.Fatal(err)
	}

	// A recipient texting STOP, and a staff change with a note, while the
	// first batch has sealed and not yet committed.
	stopper := testkit.DevKeyer().Key(forgetNumber)
	var (
		batches  int
		whileErr = make(chan error, 1)
	)
	defer store.SetAfterSealBatch(func() {
		if batches++; batches > 1 {
			return
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		stop := contract.ConsentChange{RecipientKey: stopper, Scope: scopeA, To: contract.OptedOut, Source: contract.SourceKeyword}
		_, _, _, err := s.SaveInbound(wctx, inbound("SMnew", "STOP"), store.Effect{Intent: contract.IntentOptOut, Change: &stop})
		if err == nil {
			_, err = s.Record(wctx, contract.ConsentChange{RecipientKey: stopper, Scope: scopeB, To: contract.OptedOut, Source: contract.SourceAdmin, Note: "by phone"})
		}
		whileErr <- err
	})()

	done, err := s.SealPlaintext(ctx, "test worker")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-whileErr:
		if err != nil {
			t.Errorf("consent changes while a sealing batch was open: %v; want them committed at once", err)
		}
	default:
		t.Error("no sealing batch ran")
	}
	if done != (store.Sealed{InboundMessages: nInbound, ConsentEvents: nEvents}) {
		t.Errorf("sealed %+v; want %d inbound messages and %d events", done, nInbound, nEvents)
	}
	var plain int
	if err := s.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM inbound_messages WHERE from_number IS NOT NULL OR body IS NOT NULL)
		+ (SELECT count(*) FROM consent_events WHERE raw_text IS NOT NULL OR note IS NOT NULL)`).Scan(&plain); err != nil || plain != 0 {
		t.Errorf("rows still plain after sealing: %d (%v)", plain, err)
	}
	// 1200 and 2500 rows: 1000+1000, 200+1000, 0+500.
	audit, err := s.Audit(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if batches != 3 || len(audit) != 3 {
		t.Fatalf("%d batches, %d audit events; want 3 of each", batches, len(audit))
	}
	var sum store.Sealed
	for _, a := range audit {
		in, ev := a.Details["inbound_messages"].(float64), a.Details["consent_events"].(float64)
		if a.Action != "seal_plaintext" || in > store.SealBatchSize || ev > store.SealBatchSize {
			t.Errorf("audit event %+v; want a seal_plaintext batch of at most %d rows a table", a, store.SealBatchSize)
		}
		sum.InboundMessages += int64(in)
		sum.ConsentEvents += int64(ev)
	}
	if sum != done {
		t.Errorf("audit events add up to %+v; want %+v", sum, done)
	}
	if d, err := s.Check(ctx, stopper, scopeA, contract.ConsentRule{}); err != nil || d.Allowed {
		t.Errorf("the STOP sent while sealing: Check = %+v, %v; want opted out", d, err)
	}
}

// TestSealPlaintextConcurrentWithForget forgets people while workers seal:
// whatever the order, the forgotten person's rows read as erased, and
// nothing is left plain.
func TestSealPlaintextConcurrentWithForget(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	key := testkit.DevKeyer().Key(forgetNumber)
	insertLegacy(t, s, key)
	insertLegacy(t, s, other)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := s.SealPlaintext(ctx, "test worker"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Go(func() {
		if _, err := s.Forget(ctx, key, forgetNumber, "dpo", "request"); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	if found := scan(t, s); len(found) != 0 {
		t.Errorf("readable after sealing and forgetting: %v", found)
	}
	events, err := s.Events(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.RawText != "" && e.RawText != store.Erased || e.Note != "" && e.Note != store.Erased {
			t.Errorf("forgotten person's event %+v; want its texts erased", e)
		}
	}
	if others, err := s.Events(ctx, other); err != nil || len(others) != 1 || others[0].Note != "old note: "+forgetNumber {
		t.Errorf("other person's events = %+v, %v; want the note sealed and readable", others, err)
	}
}
