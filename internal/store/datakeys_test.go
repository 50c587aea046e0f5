package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

// reopen opens another Store on s's database, as another process would:
// with the test keyring and a cache of its own.
func reopen(t *testing.T, s *store.Store) *store.Store {
	t.Helper()
	s2, err := store.Open(context.Background(), s.Pool().Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s2.Close)
	s2.UseKeyring(pgtest.Keyring())
	return s2
}

// sealFailures records what a Store reports through OnSealFailure.
type sealFailures struct {
	mu     sync.Mutex
	tables []string
	errs   []string
}

func (f *sealFailures) watch(s *store.Store) {
	s.OnSealFailure(func(table string, err error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.tables = append(f.tables, table)
		f.errs = append(f.errs, err.Error())
	})
}

// TestUnreadableDataKey: a recipient's data key is wrapped by a keyring
// entry this process lacks. Start refuses (CheckDataKeys), naming it; and
// should a worker run anyway, the recipient's STOP, a provider's opt-out
// with a note, and the signals queued before, still go through, their
// texts not stored, each failure reported.
func TestUnreadableDataKey(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	key := testkit.DevKeyer().Key(forgetNumber)
	if _, _, _, err := s.SaveInbound(ctx, inbound("SMhelp", "HELP"), store.Effect{Intent: contract.IntentHelp}); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckDataKeys(ctx); err != nil {
		t.Fatalf("CheckDataKeys with every key there: %v", err)
	}
	// As if the entry wrapping it had been dropped from PAYLOAD_KEYS.
	if _, err := s.Pool().Exec(ctx, `UPDATE data_keys SET key_id = 'retired' WHERE recipient_key = $1`, key); err != nil {
		t.Fatal(err)
	}

	w := reopen(t, s)
	if err := w.CheckDataKeys(ctx); err == nil || !strings.Contains(err.Error(), `"retired"`) || !strings.Contains(err.Error(), "put those keys back in PAYLOAD_KEYS") {
		t.Errorf("CheckDataKeys = %v; want a refusal naming \"retired\" and how to fix it", err)
	}
	w.UseKeyring(nil) // PAYLOAD_ENCRYPTION=off
	if err := w.CheckDataKeys(ctx); err == nil || !strings.Contains(err.Error(), `"retired"`) || !strings.Contains(err.Error(), "PAYLOAD_ENCRYPTION=off") {
		t.Errorf("CheckDataKeys without a keyring = %v; want a refusal naming \"retired\" and PAYLOAD_ENCRYPTION=off", err)
	}
	w.UseKeyring(pgtest.Keyring())

	var failed sealFailures
	failed.watch(w)
	stop := contract.ConsentChange{RecipientKey: key, Scope: scopeA, To: contract.OptedOut, Source: contract.SourceKeyword}
	if _, inserted, taken, err := w.SaveInbound(ctx, inbound("SMstop", "STOP"), store.Effect{Intent: contract.IntentOptOut, Change: &stop}); err != nil || !inserted || taken.Intent != contract.IntentOptOut {
		t.Fatalf("STOP with an unreadable data key: inserted %v, intent %q, err %v; want it committed", inserted, taken.Intent, err)
	}
	if d, err := w.Check(ctx, key, scopeA, contract.ConsentRule{}); err != nil || d.Allowed || d.State != contract.OptedOut {
		t.Errorf("after the STOP, Check = %+v, %v; want opted out", d, err)
	}
	var bare int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM inbound_messages WHERE message_id = 'SMstop'
		AND from_number IS NULL AND body IS NULL AND from_sealed IS NULL AND body_sealed IS NULL`).Scan(&bare); err != nil || bare != 1 {
		t.Errorf("the STOP's row: %d without number or body (%v); want it stored without them, never in plain", bare, err)
	}
	// A provider's opt-out (error 21610) carries a note.
	if changed, err := w.Record(ctx, contract.ConsentChange{RecipientKey: key, Scope: scopeB, To: contract.OptedOut, Source: contract.SourceProvider,
		Note: "status callback error 21610"}); err != nil || !changed {
		t.Errorf("provider opt-out with an unreadable data key: changed %v, err %v; want it committed", changed, err)
	}
	if d, err := w.Check(ctx, key, scopeB, contract.ConsentRule{}); err != nil || d.Allowed {
		t.Errorf("after the provider opt-out, Check = %+v, %v; want opted out", d, err)
	}
	failed.mu.Lock()
	if strings.Join(failed.tables, ",") != "inbound_messages,consent_events" || !strings.Contains(strings.Join(failed.errs, ","), `"retired"`) {
		t.Errorf("seal failures reported: %v %v; want the STOP's and the opt-out's, naming the key ID", failed.tables, failed.errs)
	}
	for _, e := range failed.errs {
		if strings.Contains(e, key) || strings.Contains(e, "5550177") {
			t.Errorf("seal failure %q names the person", e)
		}
	}
	failed.mu.Unlock()

	// The HELP sealed before, and the STOP: both signals go out, in
	// order, without the number (no reply can be sent to it).
	var got []contract.Inbound
	read, marked, err := w.Redrive(ctx, 10, func(msgs []contract.Inbound) ([]int64, error) {
		got = msgs
		ids := make([]int64, len(msgs))
		for i, m := range msgs {
			ids[i] = m.ID
		}
		return ids, nil
	})
	if err != nil || read != 2 || marked != 2 || got[0].Intent != contract.IntentHelp || got[1].Intent != contract.IntentOptOut || got[0].From != "" || got[1].From != "" {
		t.Errorf("Redrive: read %d, marked %d, %+v, err %v; want the HELP and the STOP, without the number", read, marked, got, err)
	}
}

// TestForgetDropsSharedKeyCache: the intake's Store caches the data key;
// a Forget through the other Store of the process drops it, so the next
// message is sealed under the new key and reads back, not as erased.
func TestForgetDropsSharedKeyCache(t *testing.T) {
	admin := pgtest.NewStore(t)
	intake := reopen(t, admin)
	intake.ShareKeyCache(admin)
	ctx := context.Background()
	key := testkit.DevKeyer().Key(forgetNumber)
	if _, _, _, err := intake.SaveInbound(ctx, inbound("SM1", "before")); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Forget(ctx, key, forgetNumber, "dpo", "request"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := intake.SaveInbound(ctx, inbound("SM2", "after "+forgetName)); err != nil {
		t.Fatal(err)
	}
	msgs, err := admin.InboundMessages(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Body != store.Erased || msgs[1].Body != "after "+forgetName || msgs[1].From != forgetNumber {
		t.Errorf("messages = %+v; want the first erased, the one after the forget readable", msgs)
	}
}

// TestSealPlaintextPastUnreadableKey: a recipient whose data key cannot be
// unwrapped keeps its plain rows (and the sealing says so), while the rows
// of everyone after it are sealed all the same.
func TestSealPlaintextPastUnreadableKey(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	key := testkit.DevKeyer().Key(forgetNumber)
	if _, _, _, err := s.SaveInbound(ctx, inbound("SMhelp", "HELP"), store.Effect{Intent: contract.IntentHelp}); err != nil {
		t.Fatal(err) // makes key's data key
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE data_keys SET key_id = 'retired' WHERE recipient_key = $1`, key); err != nil {
		t.Fatal(err)
	}
	insertLegacy(t, s, key) // first in line
	insertLegacy(t, s, other)

	w := reopen(t, s)
	done, err := w.SealPlaintext(ctx, "test")
	if !errors.Is(err, store.ErrDataKeyUnreadable) {
		t.Errorf("SealPlaintext error = %v; want it to say a data key cannot be unwrapped", err)
	}
	if done.InboundMessages != 1 || done.ConsentEvents != 1 {
		t.Errorf("sealed %+v; want the other recipient's 1 message and 1 event", done)
	}
	for _, c := range []struct {
		rk        string
		wantPlain int
	}{{key, 2}, {other, 0}} {
		var plain int
		if err := s.Pool().QueryRow(ctx, `SELECT
			(SELECT count(*) FROM inbound_messages WHERE recipient_key = $1 AND (from_number IS NOT NULL OR body IS NOT NULL)) +
			(SELECT count(*) FROM consent_events WHERE recipient_key = $1 AND (raw_text IS NOT NULL OR note IS NOT NULL))`, c.rk).Scan(&plain); err != nil {
			t.Fatal(err)
		}
		if plain != c.wantPlain {
			t.Errorf("recipient %s: %d plain rows left, want %d", c.rk, plain, c.wantPlain)
		}
	}
}
