package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

const (
	forgetNumber = "+14155550177"
	forgetName   = "Zoltana"
)

// secrets are what must not be readable anywhere once sealed or erased:
// the number in E.164, its national digits, its last seven, a name from a
// body.
var secrets = []string{forgetNumber, "4155550177", "5550177", forgetName}

// piiTables are every table of the schema: a new one must be added here
// (TestScanCoversEveryTable).
var piiTables = []string{"consent", "consent_events", "send_ledger", "sandbox_messages", "active_journeys",
	"inbound_messages", "status_optouts", "worker_heartbeats", "data_keys", "audit_log", "schema_migrations",
	"journey_outcomes", "runs", "run_events"}

// scan counts occurrences of each secret in every table's rows, as text
// (bytea as hex), so plain text anywhere in a row is found.
func scan(t *testing.T, s *store.Store) map[string]int {
	t.Helper()
	found := map[string]int{}
	for _, table := range piiTables {
		var all string
		if err := s.Pool().QueryRow(context.Background(), `SELECT coalesce(string_agg(t::text, E'\n'), '') FROM `+table+` t`).Scan(&all); err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		for _, sec := range secrets {
			if n := strings.Count(all, sec); n > 0 {
				found[table+": "+sec] += n
			}
		}
	}
	return found
}

// warmPool opens n connections of s's pool, so that n workers started next
// run at once: otherwise the first is done before the others' connections
// are open, and a test of running at once tests nothing.
func warmPool(t *testing.T, s *store.Store, n int) {
	t.Helper()
	conns := make([]*pgxpool.Conn, n)
	for i := range conns {
		c, err := s.Pool().Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	for _, c := range conns {
		c.Release()
	}
}

// TestScanCoversEveryTable keeps piiTables complete.
func TestScanCoversEveryTable(t *testing.T) {
	s := pgtest.NewStore(t)
	rows, err := s.Pool().Query(context.Background(), `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		if !strings.Contains(strings.Join(piiTables, " ")+" ", table+" ") {
			t.Errorf("table %s is not scanned for personal data: add it to piiTables", table)
		}
	}
}

func inbound(id, body string) contract.Inbound {
	return contract.Inbound{Provider: "twilio", MessageID: id, From: forgetNumber, To: scopeA, Body: body,
		RecipientKey: testkit.DevKeyer().Key(forgetNumber), Scope: scopeA, ReceivedAt: time.Now()}
}

// seedPerson stores, for forgetNumber: a STOP with a body, a plain reply,
// a staff note quoting the number, a ledger row refused by the provider, a
// sandbox message; and rows written before sealing existed.
func seedPerson(t *testing.T, s *store.Store) string {
	t.Helper()
	ctx := context.Background()
	key := testkit.DevKeyer().Key(forgetNumber)
	stop := contract.ConsentChange{RecipientKey: key, Scope: scopeA, To: contract.OptedOut, Source: contract.SourceKeyword}
	if _, _, _, err := s.SaveInbound(ctx, inbound("SM1", "STOP texting "+forgetName), store.Effect{Intent: contract.IntentOptOut, Change: &stop}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.SaveInbound(ctx, inbound("SM2", "hi it is "+forgetName+" on 415 555 0177")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record(ctx, contract.ConsentChange{RecipientKey: key, Scope: scopeB, To: contract.OptedIn, Source: contract.SourceAdmin,
		Note: forgetName + " called from (415) 555-0177"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.BeginAttempt(ctx, "journey/r1/"+key, 0, key, "twilio"); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAttempt(ctx, nil, "journey/r1/"+key, 0, contract.LedgerSkipped, "", ledgerReason); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSandboxMessage(ctx, store.SandboxMessage{MessageID: "SB1", To: forgetNumber, Sender: scopeA, Body: "Hi " + forgetName}); err != nil {
		t.Fatal(err)
	}
	insertLegacy(t, s, key)
	return key
}

// insertLegacy writes rows as a stopline before sealing did: number, body,
// raw text and note in plain text.
func insertLegacy(t *testing.T, s *store.Store, key string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Pool().Exec(ctx, `INSERT INTO inbound_messages (provider, message_id, from_number, to_number, body, recipient_key, intent, received_at)
		VALUES ('twilio', 'SM0-'||$1, $2, $3, 'old text from '||$4, $1, 'none', now() - interval '1 day')`, key, forgetNumber, scopeA, forgetName); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `INSERT INTO consent_events (recipient_key, scope, to_state, source, raw_text, note)
		VALUES ($1, $2, 'opted_out', 'keyword', 'STOP '||$3, 'old note: '||$4)`, key, scopeB, forgetName, forgetNumber); err != nil {
		t.Fatal(err)
	}
}

// ledgerReason is a send ledger reason: a fixed code, nothing personal,
// which Forget keeps.
const ledgerReason = "opted_out_at_provider"

// TestForget forgets a person whose rows from before data keys were
// sealed first, and one whose were not (Forget seals them itself).
func TestForget(t *testing.T) {
	for _, sealFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("sealed first %v", sealFirst), func(t *testing.T) { testForget(t, sealFirst) })
	}
}

func testForget(t *testing.T, sealFirst bool) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	key := seedPerson(t, s)
	if sealFirst {
		if _, err := s.SealPlaintext(ctx, "test"); err != nil {
			t.Fatal(err)
		}
		// Sealed, the rows hold nothing readable, yet read back whole.
		// Only the development sandbox outbox is plain; forget deletes it.
		for where := range scan(t, s) {
			if !strings.HasPrefix(where, "sandbox_messages: ") {
				t.Errorf("before forget, readable: %s", where)
			}
		}
	}
	msgs, err := s.InboundMessages(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 || msgs[0].Body != "old text from "+forgetName || msgs[1].Body != "STOP texting "+forgetName || msgs[2].From != forgetNumber {
		t.Fatalf("inbound before forget = %+v", msgs)
	}
	eventsBefore, err := s.Events(ctx, key)
	if err != nil {
		t.Fatal(err)
	}

	f, err := s.Forget(ctx, key, forgetNumber, "dpo@example.com", "erasure request 4711")
	if err != nil {
		t.Fatal(err)
	}
	if !f.OptedOut || !f.KeyDestroyed || f.SandboxDeleted != 1 {
		t.Errorf("Forget = %+v; want an opt-out recorded, the key destroyed, one sandbox message deleted", f)
	}

	if found := scan(t, s); len(found) != 0 {
		t.Errorf("after forget, readable secrets = %v; want none", found)
	}
	// Every sealed value left fails to open under every key there is.
	rows, err := s.Pool().Query(ctx, `SELECT v FROM (
		SELECT from_sealed v FROM inbound_messages UNION ALL SELECT body_sealed FROM inbound_messages
		UNION ALL SELECT raw_text_sealed FROM consent_events UNION ALL SELECT note_sealed FROM consent_events) x WHERE v IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		t.Fatal(err)
	}
	// A later message from the number gets a new key, which must not open
	// the old values either.
	if _, _, _, err := s.SaveInbound(ctx, inbound("SM3", "hello again")); err != nil {
		t.Fatal(err)
	}
	if len(sealed) < 6 {
		t.Fatalf("%d sealed values; want at least 6", len(sealed))
	}
	for i, v := range sealed {
		if ok, err := store.OpensUnderAnyKey(ctx, s, v, []string{key, ""}); err != nil || ok {
			t.Errorf("sealed value %d opens after forget (err %v)", i, err)
		}
	}

	msgs, err = s.InboundMessages(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 4 {
		t.Fatalf("inbound after forget: %d messages; want the 3 erased and the new one", len(msgs))
	}
	for _, m := range msgs[:3] {
		if m.From != store.Erased || m.Body != store.Erased {
			t.Errorf("message %s after forget: from %q body %q; want %q", m.MessageID, m.From, m.Body, store.Erased)
		}
	}
	if msgs[1].Intent != contract.IntentOptOut {
		t.Errorf("the STOP's intent after forget = %q; want it kept", msgs[1].Intent)
	}
	if msgs[3].Body != "hello again" || msgs[3].From != forgetNumber {
		t.Errorf("message after forget = %+v; want readable", msgs[3])
	}

	events, err := s.Events(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != len(eventsBefore)+1 {
		t.Fatalf("events after forget: %d; want the %d before and the opt-out", len(events), len(eventsBefore))
	}
	for _, e := range events {
		if e.Note != "" && e.Note != store.Erased || e.RawText != "" && e.RawText != store.Erased {
			t.Errorf("event %d after forget: note %q raw text %q; want %q or nothing", e.ID, e.Note, e.RawText, store.Erased)
		}
	}
	if last := events[len(events)-1]; last.Scope != contract.AllScopes || last.To != contract.OptedOut {
		t.Errorf("last event = %+v; want the opt-out from every scope", last)
	}
	for _, scope := range []string{scopeA, scopeB, "+18005550100"} {
		d, err := s.Check(ctx, key, scope, contract.ConsentRule{})
		if err != nil || d.Allowed {
			t.Errorf("after forget, Check(%s) = %+v, %v; want suppressed", scope, d, err)
		}
	}
	audit, err := s.Audit(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 1 || audit[0].Action != "forget" || audit[0].Actor != "dpo@example.com" || audit[0].Note != "erasure request 4711" || audit[0].At.IsZero() {
		t.Errorf("audit = %+v; want the forget, by whom, when, and its note", audit)
	}

	// The ledger keeps its reason: a code, not personal data.
	if l := pgtest.Ledger(t, s, "journey/r1/"+key); len(l) != 1 || l[0].Reason != ledgerReason {
		t.Errorf("send ledger after forget = %+v; want its reason %q kept", l, ledgerReason)
	}

	// Forgetting again records no second opt-out.
	if f, err = s.Forget(ctx, key, forgetNumber, "dpo@example.com", "again"); err != nil || f.OptedOut {
		t.Errorf("second Forget = %+v, %v; want no new opt-out", f, err)
	}
}

// TestSealPlaintext seals rows written before data keys, from several
// workers at once: each row once, one audit event, the trigger back.
func TestSealPlaintext(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	key := testkit.DevKeyer().Key(forgetNumber)
	insertLegacy(t, s, key)
	insertLegacy(t, s, other)
	warmPool(t, s, 3)

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total store.Sealed
	)
	for range 3 {
		wg.Go(func() {
			done, err := s.SealPlaintext(ctx, "test worker")
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total.InboundMessages += done.InboundMessages
			total.ConsentEvents += done.ConsentEvents
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != (store.Sealed{InboundMessages: 2, ConsentEvents: 2}) {
		t.Errorf("sealed in all = %+v; want each of the 2+2 rows once", total)
	}
	if found := scan(t, s); len(found) != 0 {
		t.Errorf("readable secrets after sealing: %v", found)
	}
	audit, err := s.Audit(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 1 || audit[0].Action != "seal_plaintext" || audit[0].Details["consent_events"] != float64(2) {
		t.Errorf("audit = %+v; want one seal_plaintext event with its counts", audit)
	}
	events, err := s.Events(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Note != "old note: "+forgetNumber || events[0].RawText != "STOP "+forgetName {
		t.Errorf("events after sealing = %+v; want the text readable through the store", events)
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE consent_events SET note = NULL`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("UPDATE consent_events after sealing: %v; want the append-only refusal back", err)
	}
}

// TestRetention purges bodies past the retention and keeps the rest of the
// row; workers purging at once purge each body once. Besides the two
// messages looked at, many old ones (written before sealing, of another
// sender) make each purge take several batches, so the workers overlap.
func TestRetention(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	key := testkit.DevKeyer().Key(forgetNumber)
	stop := contract.ConsentChange{RecipientKey: key, Scope: scopeA, To: contract.OptedOut, Source: contract.SourceKeyword}
	old, _, _, err := s.SaveInbound(ctx, contract.Inbound{Provider: "twilio", MessageID: "SMold", From: forgetNumber, To: scopeA, Body: "stop please",
		RecipientKey: key, Scope: scopeA, Keyword: "STOP", Rule: "courtesy", ReceivedAt: time.Now()}, store.Effect{Intent: contract.IntentOptOut, Change: &stop})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.SaveInbound(ctx, inbound("SMnew", "recent text")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE inbound_messages SET stored_at = stored_at - interval '91 days' WHERE id = $1`, old); err != nil {
		t.Fatal(err)
	}
	const bulk = 12000
	if _, err := s.Pool().Exec(ctx, `INSERT INTO inbound_messages (provider, message_id, from_number, to_number, body, recipient_key, intent, received_at, stored_at)
		SELECT 'twilio', 'SMbulk'||g, '+14155550000', $1, 'old text', $2, 'none', now() - interval '100 days', now() - interval '100 days'
		FROM generate_series(1, $3::int) g`, scopeA, other, bulk); err != nil {
		t.Fatal(err)
	}
	warmPool(t, s, 3)
	var (
		wg     sync.WaitGroup
		purged = make(chan int64, 3)
	)
	for range 3 {
		wg.Go(func() {
			n, err := s.PurgeBodies(ctx, 90*24*time.Hour)
			if err != nil {
				t.Error(err)
			}
			purged <- n
		})
	}
	wg.Wait()
	close(purged)
	var total int64
	for n := range purged {
		total += n
	}
	if total != bulk+1 {
		t.Errorf("purged %d bodies in all; want %d", total, bulk+1)
	}
	msgs, err := s.InboundMessages(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d messages; want both rows kept", len(msgs))
	}
	o, n := msgs[0], msgs[1]
	if o.Body != "" || !o.BodyPurged || o.Intent != contract.IntentOptOut || o.Keyword != "STOP" || o.Rule != "courtesy" || o.ReceivedAt.IsZero() {
		t.Errorf("old message = %+v; want the body purged and intent, keyword, rule and times kept", o)
	}
	if n.Body != "recent text" || n.BodyPurged {
		t.Errorf("recent message = %+v; want its body kept", n)
	}
}

// TestErasedIsAFlag: a text that says "erased" is no erasure. Read back,
// and in the re-driver's signals, only a forgotten sender is flagged
// erased and signalled without a number (so no reply goes out); a sender
// or body that is the word itself stays as it is.
func TestErasedIsAFlag(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	key := testkit.DevKeyer().Key(forgetNumber)
	stop := contract.ConsentChange{RecipientKey: key, Scope: scopeA, To: contract.OptedOut, Source: contract.SourceKeyword}
	if _, _, _, err := s.SaveInbound(ctx, inbound("SMe1", store.Erased), store.Effect{Intent: contract.IntentOptOut, Change: &stop}); err != nil {
		t.Fatal(err)
	}
	word := inbound("SMe2", store.Erased) // sender and body: the word
	word.From, word.RecipientKey = store.Erased, other
	if _, _, _, err := s.SaveInbound(ctx, word, store.Effect{Intent: contract.IntentHelp}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{key, other} {
		if _, err := s.Record(ctx, contract.ConsentChange{RecipientKey: k, Scope: scopeB, To: contract.OptedIn, Source: contract.SourceAdmin, Note: store.Erased}); err != nil {
			t.Fatal(err)
		}
	}
	// check reads every message and event of both recipients, and the
	// pending signals, against whether key's data key is destroyed.
	check := func(forgotten bool) {
		t.Helper()
		for _, k := range []string{key, other} {
			erased := forgotten && k == key
			msgs, err := s.InboundMessages(ctx, k)
			if err != nil || len(msgs) != 1 || msgs[0].Body != store.Erased || msgs[0].Erased != erased {
				t.Errorf("forgotten %v: inbound of %s = %+v, %v; want body %q, erased %v", forgotten, k, msgs, err, store.Erased, erased)
			}
			events, err := s.Events(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			staff := 0
			for _, e := range events {
				if e.Scope == scopeB {
					staff++
					if e.Note != store.Erased || e.Erased != erased {
						t.Errorf("forgotten %v: staff event of %s = %+v; want note %q, erased %v", forgotten, k, e, store.Erased, erased)
					}
				}
			}
			if staff != 1 {
				t.Errorf("%s: %d staff events; want 1", k, staff)
			}
		}
		from := map[string]string{}
		if _, _, err := s.Redrive(ctx, 10, func(msgs []contract.Inbound) ([]int64, error) {
			for _, m := range msgs {
				from[m.MessageID] = m.From
			}
			return nil, nil // leave them pending
		}); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"SMe1": forgetNumber, "SMe2": store.Erased}
		if forgotten {
			want["SMe1"] = "" // no number to reply to
		}
		if fmt.Sprint(from) != fmt.Sprint(want) {
			t.Errorf("forgotten %v: signalled senders %v; want %v", forgotten, from, want)
		}
	}
	check(false)
	if _, err := s.Forget(ctx, key, forgetNumber, "dpo@example.com", ""); err != nil {
		t.Fatal(err)
	}
	check(true)
}
