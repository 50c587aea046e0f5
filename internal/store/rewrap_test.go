package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows/contract"
)

// ring is a keyring of the given key IDs, each key derived from its ID.
func ring(t *testing.T, ids ...string) *codec.Codec {
	t.Helper()
	entries := make([]string, len(ids))
	for i, id := range ids {
		entries[i] = id + ":" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte(id[:1]), codec.KeySize))
	}
	c, err := codec.Parse(strings.Join(entries, ","))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRewrapKeys: after the keyring becomes b,a, workers re-wrapping at
// once move every data key wrapped by a, or stored unwrapped, to b, each
// once; what was sealed still opens, with keyring b,a and with b alone. A
// data key wrapped by a key ID the keyring lacks is left and counted.
func TestRewrapKeys(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	defer store.SetRewrapBatch(2)() // several batches

	keyer := testkit.DevKeyer()
	numbers := make([]string, 6)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+1415555%04d", 190+i)
	}
	seed := func(number string) {
		t.Helper()
		key := keyer.Key(number)
		m := inbound("SM"+number, "text from "+number)
		m.From, m.RecipientKey = number, key
		if _, _, _, err := s.SaveInbound(ctx, m); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Record(ctx, contract.ConsentChange{RecipientKey: key, Scope: scopeA, To: contract.OptedIn,
			Source: contract.SourceAdmin, Note: "note on " + number}); err != nil {
			t.Fatal(err)
		}
	}
	s.UseKeyring(nil) // PAYLOAD_ENCRYPTION=off: stored unwrapped
	seed(numbers[0])
	s.UseKeyring(ring(t, "a"))
	for _, n := range numbers[1:5] {
		seed(n)
	}
	s.UseKeyring(ring(t, "c")) // a key that is lost by the rotation
	seed(numbers[5])
	readable := numbers[:5]

	s.UseKeyring(ring(t, "b", "a"))
	warmPool(t, s, 3)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		runs []store.Rewrapped
	)
	for i := range 3 {
		wg.Go(func() {
			done, err := s.RewrapKeys(ctx, fmt.Sprintf("worker %d", i))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			runs = append(runs, done)
			mu.Unlock()
		})
	}
	wg.Wait()
	var total int64
	from := map[string]int64{}
	for _, r := range runs {
		total += r.Keys
		for id, n := range r.From {
			from[id] += n
		}
		if r.To != "b" || !maps.Equal(r.Unreadable, map[string]int64{"c": 1}) {
			t.Errorf("run = %+v; want to b, and the key under c counted unreadable", r)
		}
	}
	if total != 5 || !maps.Equal(from, map[string]int64{"": 1, "a": 4}) {
		t.Errorf("re-wrapped %d keys in all, from %v; want each of the 5 once: 1 unwrapped, 4 under a", total, from)
	}
	if byID, err := s.DataKeysByKeyID(ctx); err != nil || !maps.Equal(byID, map[string]int64{"b": 5, "c": 1}) {
		t.Errorf("data keys by key ID = %v, %v; want 5 under b and the unreadable one left under c", byID, err)
	}

	// Everything sealed still opens, under b,a and under b alone.
	for _, keyring := range [][]string{{"b", "a"}, {"b"}} {
		s.UseKeyring(ring(t, keyring...))
		for _, n := range readable {
			key := keyer.Key(n)
			msgs, err := s.InboundMessages(ctx, key)
			if err != nil || len(msgs) != 1 || msgs[0].From != n || msgs[0].Body != "text from "+n {
				t.Errorf("keyring %v: inbound of %s = %+v, %v; want it readable", keyring, n, msgs, err)
			}
			events, err := s.Events(ctx, key)
			if err != nil || len(events) != 1 || events[0].Note != "note on "+n {
				t.Errorf("keyring %v: events of %s = %+v, %v; want the note readable", keyring, n, events, err)
			}
		}
	}

	audit, err := s.Audit(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var audited float64
	for _, a := range audit {
		if a.Action != "rewrap_data_keys" || a.Details["to_key_id"] != "b" || !strings.HasPrefix(a.Actor, "worker ") {
			t.Errorf("audit entry %+v; want rewrap_data_keys to b by a worker", a)
		}
		n, _ := a.Details["data_keys"].(float64)
		audited += n
	}
	if audited != 5 {
		t.Errorf("audit log counts %v re-wrapped keys; want 5", audited)
	}

	// Nothing left to do: no change, no audit entry.
	if done, err := s.RewrapKeys(ctx, "again"); err != nil || done.Keys != 0 {
		t.Errorf("second sweep = %+v, %v; want nothing re-wrapped", done, err)
	}
	if again, err := s.Audit(ctx, ""); err != nil || len(again) != len(audit) {
		t.Errorf("audit after an empty sweep: %d entries, %v; want %d", len(again), err, len(audit))
	}
}
