package store

// Erasure (Forget), retention (PurgeBodies), the sealing of rows written
// before data keys existed (SealPlaintext), and the audit log of all three
// (audit_log).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/workflows/contract"
)

// sealLock serialises the sealing of rows from before data keys (one
// batch at a time, across workers) with Forget.
const sealLock = 0x7365616c706c61 // "sealpla"

// AuditEntry is one row of audit_log.
type AuditEntry struct {
	Action       string
	Actor        string
	RecipientKey string
	Note         string
	Details      map[string]any
	At           time.Time
}

func appendAudit(ctx context.Context, tx pgx.Tx, a AuditEntry) error {
	details, err := json.Marshal(a.Details)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit_log (action, actor, recipient_key, note, details) VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), $5)`,
		a.Action, a.Actor, a.RecipientKey, a.Note, details)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// Audit returns the audit log entries about a recipient ("" for those about
// no one, such as SealPlaintext's), oldest first.
func (s *Store) Audit(ctx context.Context, recipientKey string) ([]AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT action, actor, coalesce(recipient_key, ''), coalesce(note, ''), coalesce(details, 'null'), created_at
		FROM audit_log WHERE coalesce(recipient_key, '') = $1 ORDER BY id`, recipientKey)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var (
			a       AuditEntry
			details []byte
		)
		if err := r.Scan(&a.Action, &a.Actor, &a.RecipientKey, &a.Note, &details, &a.At); err != nil {
			return a, err
		}
		return a, json.Unmarshal(details, &a.Details)
	})
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return entries, nil
}

// Forgotten is what Forget did.
type Forgotten struct {
	OptedOut       bool // an opt-out for every scope was recorded (false: one was there)
	KeyDestroyed   bool // false: nothing had been sealed for the recipient
	SandboxDeleted int64
}

// Forget erases a recipient (GDPR Art. 17) and keeps them suppressed (Art.
// 17(3)(b)), in one transaction under the recipient's lock: it records an
// opt-out for every scope unless one holds, destroys the recipient's data
// key, so every number and text sealed under it reads as Erased (their
// rows from before data keys are sealed under a key kept nowhere, to the
// same effect), deletes the sandbox outbox's messages to number (when
// given), and appends who did it, and why, to the audit log. Consent rows
// and events stay under the recipient key: a later journey to the number
// computes the same key and is skipped. The send ledger stays as it is: its
// reasons are fixed codes (FinishAttempt), nothing personal. The data key
// is dropped from this process's cache; other processes keep theirs for up
// to keyCacheTTL (see keyCache).
func (s *Store) Forget(ctx context.Context, recipientKey, number, actor, note string) (Forgotten, error) {
	var f Forgotten
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// No sealing batch may seal this person's plain rows under a key
		// made after this one is destroyed.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(sealLock)); err != nil {
			return fmt.Errorf("forget: %w", err)
		}
		var err error
		if f.OptedOut, err = s.RecordTx(ctx, tx, contract.ConsentChange{RecipientKey: recipientKey, Scope: contract.AllScopes,
			To: contract.OptedOut, Source: contract.SourceAdmin}); err != nil {
			return err
		}
		shred := shredKey()
		for _, t := range plainTables {
			if _, err := sealPlain(ctx, tx, t, func(string) (dataKey, error) { return shred, nil }, "recipient_key = $1", 0, recipientKey); err != nil {
				return fmt.Errorf("forget: %s: %w", t.name, err)
			}
		}
		tag, err := tx.Exec(ctx, `DELETE FROM data_keys WHERE recipient_key = $1`, recipientKey)
		if err != nil {
			return fmt.Errorf("forget: data key: %w", err)
		}
		f.KeyDestroyed = tag.RowsAffected() > 0
		if number != "" {
			if tag, err = tx.Exec(ctx, `DELETE FROM sandbox_messages WHERE to_number = $1`, number); err != nil {
				return fmt.Errorf("forget: sandbox outbox: %w", err)
			}
			f.SandboxDeleted = tag.RowsAffected()
		}
		return appendAudit(ctx, tx, AuditEntry{Action: "forget", Actor: actor, RecipientKey: recipientKey, Note: note,
			Details: map[string]any{"opted_out": f.OptedOut, "data_key_destroyed": f.KeyDestroyed, "sandbox_messages_deleted": f.SandboxDeleted}})
	})
	s.keys.drop(recipientKey)
	return f, err
}

// PurgeBodies deletes the bodies of inbound messages stored more than
// retention ago, keeping everything else (intent, keyword, rule, times), in
// batches. Workers may run it at once: each batch skips rows another holds.
func (s *Store) PurgeBodies(ctx context.Context, retention time.Duration) (int64, error) {
	const batch = 5000
	var total int64
	for {
		var n int64
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `
				UPDATE inbound_messages SET body_sealed = NULL, body = NULL, body_purged_at = clock_timestamp()
				WHERE id IN (SELECT id FROM inbound_messages
					WHERE (body_sealed IS NOT NULL OR body IS NOT NULL) AND stored_at < clock_timestamp() - make_interval(secs => $1)
					LIMIT $2 FOR UPDATE SKIP LOCKED)`, retention.Seconds(), batch)
			n = tag.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("inbound retention: %w", err)
		}
		if total += n; n < batch {
			return total, nil
		}
	}
}

// Sealed counts what SealPlaintext sealed.
type Sealed struct {
	InboundMessages int64 `json:"inbound_messages"`
	ConsentEvents   int64 `json:"consent_events"`
}

// sealBatchSize bounds the rows of each table one sealing transaction
// seals.
const sealBatchSize = 1000

// afterSealBatch runs inside each sealing batch's transaction, before it
// commits (tests hold a batch open with it).
var afterSealBatch = func() {}

// SealPlaintext seals the numbers and texts of rows written before data
// keys existed (or by a worker of an older version during a rolling
// upgrade), in batches of at most sealBatchSize rows of each table, each
// batch a transaction that records what it sealed in the audit log. Workers
// may run it at once: a batch holds sealLock, and takes only rows still
// holding plain text. Nothing else waits for a batch but Forget and
// another batch: consent_events' trigger allows exactly the update from
// plain to sealed (migration 013), and the rows a batch locks are old ones
// no one else writes.
func (s *Store) SealPlaintext(ctx context.Context, actor string) (Sealed, error) {
	var total Sealed
	// Recipients whose data key cannot be unwrapped: their rows stay plain
	// until the key is back, and the others' are sealed all the same.
	var unreadable []string
	for {
		done, err := s.sealBatch(ctx, actor, unreadable)
		var u unreadableKey
		if errors.As(err, &u) {
			unreadable = append(unreadable, u.recipientKey) // the batch rolled back; again without them
			continue
		}
		total.InboundMessages += done.InboundMessages
		total.ConsentEvents += done.ConsentEvents
		if err != nil || done.InboundMessages < sealBatchSize && done.ConsentEvents < sealBatchSize {
			if err == nil && len(unreadable) > 0 {
				err = fmt.Errorf("the plain rows of %d recipients stay plain: %w", len(unreadable), ErrDataKeyUnreadable)
			}
			return total, err
		}
	}
}

// unreadableKey is a sealing batch's error for a recipient whose data key
// cannot be unwrapped.
type unreadableKey struct {
	recipientKey string
	err          error
}

func (u unreadableKey) Error() string { return u.err.Error() }
func (u unreadableKey) Unwrap() error { return u.err }

// sealBatch seals up to sealBatchSize rows of each table, and records it.
func (s *Store) sealBatch(ctx context.Context, actor string, unreadable []string) (Sealed, error) {
	var (
		done Sealed
		todo bool
	)
	// The partial indexes on plain rows make this cheap once all is sealed.
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM inbound_messages WHERE from_number IS NOT NULL OR body IS NOT NULL)
		OR EXISTS (SELECT 1 FROM consent_events WHERE raw_text IS NOT NULL OR note IS NOT NULL)`).Scan(&todo); err != nil || !todo {
		return done, err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(sealLock)); err != nil {
			return err
		}
		keys := map[string]dataKey{}
		keyOf := func(recipientKey string) (dataKey, error) {
			k, ok := keys[recipientKey]
			if !ok {
				var err error
				if k, err = s.writeKey(ctx, tx, recipientKey); errors.Is(err, ErrDataKeyUnreadable) {
					return k, unreadableKey{recipientKey, err}
				} else if err != nil {
					return k, err
				}
				keys[recipientKey] = k
			}
			return k, nil
		}
		var err error
		const readable = `NOT coalesce(recipient_key, '') = ANY(coalesce($1::text[], '{}'))`
		if done.InboundMessages, err = sealPlain(ctx, tx, plainTables[0], keyOf, readable, sealBatchSize, unreadable); err != nil {
			return fmt.Errorf("seal inbound messages: %w", err)
		}
		if done.ConsentEvents, err = sealPlain(ctx, tx, plainTables[1], keyOf, readable, sealBatchSize, unreadable); err != nil {
			return fmt.Errorf("seal consent events: %w", err)
		}
		if done == (Sealed{}) {
			return nil // another worker did it
		}
		afterSealBatch()
		return appendAudit(ctx, tx, AuditEntry{Action: "seal_plaintext", Actor: actor,
			Note:    "plain numbers and texts sealed under per-recipient data keys (one batch)",
			Details: map[string]any{"inbound_messages": done.InboundMessages, "consent_events": done.ConsentEvents}})
	})
	if err != nil {
		return Sealed{}, err
	}
	return done, nil
}

// plainTable is a table whose rows may hold two texts in plain, from
// before data keys, and the sealed columns that replace them.
type plainTable struct {
	name, plainA, plainB, sealedA, sealedB, labelA, labelB string
}

var plainTables = [...]plainTable{
	{"inbound_messages", "from_number", "body", "from_sealed", "body_sealed", labelInboundFrom, labelInboundBody},
	{"consent_events", "raw_text", "note", "raw_text_sealed", "note_sealed", labelEventRaw, labelEventNote},
}

// sealPlain seals, with the key keyOf gives each recipient, the texts of
// up to limit (0: all) rows of t that hold plain text and match cond (SQL
// of the row, with args), oldest first, and returns how many it sealed.
// The rows are locked first, and only then read: a row sealed (or
// forgotten) meanwhile is no longer plain, and left alone.
func sealPlain(ctx context.Context, tx pgx.Tx, t plainTable, keyOf func(string) (dataKey, error), cond string, limit int, args ...any) (int64, error) {
	type row struct {
		id   int64
		rk   string
		a, b string
	}
	lim := "ALL"
	if limit > 0 {
		lim = strconv.Itoa(limit)
	}
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT id, coalesce(recipient_key, ''), coalesce(%[2]s, ''), coalesce(%[3]s, '') FROM %[1]s
		WHERE (%[2]s IS NOT NULL OR %[3]s IS NOT NULL) AND (%[4]s) ORDER BY id LIMIT %[5]s FOR UPDATE`, t.name, t.plainA, t.plainB, cond, lim), args...)
	if err != nil {
		return 0, err
	}
	plain, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.id, &x.rk, &x.a, &x.b)
		return x, err
	})
	if err != nil || len(plain) == 0 {
		return 0, err
	}
	update := fmt.Sprintf(`UPDATE %[1]s SET %[4]s = coalesce($2, %[4]s), %[5]s = coalesce($3, %[5]s), %[2]s = NULL, %[3]s = NULL WHERE id = $1`,
		t.name, t.plainA, t.plainB, t.sealedA, t.sealedB)
	b := &pgx.Batch{}
	for _, x := range plain {
		k, err := keyOf(x.rk)
		if err != nil {
			return 0, err
		}
		b.Queue(update, x.id, k.seal(t.labelA, x.rk, x.a), k.seal(t.labelB, x.rk, x.b))
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, err
	}
	return int64(len(plain)), nil
}
