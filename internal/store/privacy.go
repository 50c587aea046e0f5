package store

// Erasure (Forget), retention (PurgeBodies), the sealing of rows written
// before data keys existed (SealPlaintext), and the audit log of all three
// (audit_log).

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/internal/consent"
)

// Lock keys that keep several workers from doing the same job at once.
const (
	sealLock  = 0x7365616c706c61 // "sealpla"
	purgeLock = 0x70757267652021 // "purge !"
)

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
// key, so every number and text sealed under it reads as Erased, clears
// the send ledger's provider messages, deletes the sandbox outbox's
// messages to number (when given), and appends who did it, and why, to the
// audit log. Consent rows and events stay under the recipient key: a later
// journey to the number computes the same key and is skipped.
func (s *Store) Forget(ctx context.Context, recipientKey, number, actor, note string) (Forgotten, error) {
	var f Forgotten
	// Rows from before data keys are sealed first, so the key reaches them.
	if _, err := s.SealPlaintext(ctx, actor); err != nil {
		return f, err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if f.OptedOut, err = s.RecordTx(ctx, tx, consent.Change{RecipientKey: recipientKey, Scope: consent.AllScopes,
			To: consent.OptedOut, Source: consent.SourceAdmin}); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM data_keys WHERE recipient_key = $1`, recipientKey)
		if err != nil {
			return fmt.Errorf("forget: data key: %w", err)
		}
		f.KeyDestroyed = tag.RowsAffected() > 0
		if _, err := tx.Exec(ctx, `UPDATE send_ledger SET reason = NULL WHERE recipient_key = $1 AND reason IS NOT NULL`, recipientKey); err != nil {
			return fmt.Errorf("forget: send ledger: %w", err)
		}
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

// SealPlaintext seals the numbers and texts of rows written before data
// keys existed (or by a worker of an older version during a rolling
// upgrade), and records what it did in the audit log. It is idempotent and
// safe to run from several workers at once: rows are those still holding
// plain text, under a lock the others wait for. Lifting consent_events'
// append-only trigger is DDL, so it holds for this transaction only, and
// nobody else can write that table until it commits.
func (s *Store) SealPlaintext(ctx context.Context, actor string) (Sealed, error) {
	var (
		done Sealed
		todo bool
	)
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
				if k, err = s.writeKey(ctx, tx, recipientKey); err != nil {
					return k, err
				}
				keys[recipientKey] = k
			}
			return k, nil
		}
		var err error
		done.InboundMessages, err = sealRows(ctx, tx, keyOf,
			`SELECT id, coalesce(recipient_key, ''), coalesce(from_number, ''), coalesce(body, '') FROM inbound_messages
			 WHERE from_number IS NOT NULL OR body IS NOT NULL`,
			`UPDATE inbound_messages SET from_sealed = coalesce($2, from_sealed), body_sealed = coalesce($3, body_sealed),
			 from_number = NULL, body = NULL WHERE id = $1`, labelInboundFrom, labelInboundBody)
		if err != nil {
			return fmt.Errorf("seal inbound messages: %w", err)
		}
		if _, err := tx.Exec(ctx, `ALTER TABLE consent_events DISABLE TRIGGER consent_events_append_only`); err != nil {
			return fmt.Errorf("seal consent events: %w", err)
		}
		done.ConsentEvents, err = sealRows(ctx, tx, keyOf,
			`SELECT id, recipient_key, coalesce(raw_text, ''), coalesce(note, '') FROM consent_events
			 WHERE raw_text IS NOT NULL OR note IS NOT NULL`,
			`UPDATE consent_events SET raw_text_sealed = coalesce($2, raw_text_sealed), note_sealed = coalesce($3, note_sealed),
			 raw_text = NULL, note = NULL WHERE id = $1`, labelEventRaw, labelEventNote)
		if err != nil {
			return fmt.Errorf("seal consent events: %w", err)
		}
		if _, err := tx.Exec(ctx, `ALTER TABLE consent_events ENABLE TRIGGER consent_events_append_only`); err != nil {
			return fmt.Errorf("seal consent events: %w", err)
		}
		if done == (Sealed{}) {
			return nil // another worker did it
		}
		return appendAudit(ctx, tx, AuditEntry{Action: "seal_plaintext", Actor: actor,
			Note:    "plain numbers and texts sealed under per-recipient data keys; consent_events' append-only trigger lifted for this transaction only",
			Details: map[string]any{"inbound_messages": done.InboundMessages, "consent_events": done.ConsentEvents}})
	})
	if err != nil {
		return Sealed{}, err
	}
	return done, nil
}

// sealRows seals two text columns of the rows query selects (id, recipient
// key, text a, text b) with update ($1 id, $2 and $3 sealed).
func sealRows(ctx context.Context, tx pgx.Tx, keyOf func(string) (dataKey, error), query, update, labelA, labelB string) (int64, error) {
	type row struct {
		id   int64
		rk   string
		a, b string
	}
	rows, err := tx.Query(ctx, query)
	if err != nil {
		return 0, err
	}
	plain, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.id, &x.rk, &x.a, &x.b)
		return x, err
	})
	if err != nil {
		return 0, err
	}
	const chunk = 1000
	for start := 0; start < len(plain); start += chunk {
		b := &pgx.Batch{}
		for _, x := range plain[start:min(start+chunk, len(plain))] {
			k, err := keyOf(x.rk)
			if err != nil {
				return 0, err
			}
			b.Queue(update, x.id, k.seal(labelA, x.rk, x.a), k.seal(labelB, x.rk, x.b))
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return 0, err
		}
	}
	return int64(len(plain)), nil
}
