package store

// The consent and consent_events tables: current consent per (recipient,
// scope), and the append-only log of every change.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/workflows/contract"
)

// ErrOptedOut refuses an imported confirmation for a recipient who is opted
// out in that scope (or everywhere): only the recipient's own opt-in, or
// staff, may lift an opt-out.
var ErrOptedOut = errors.New("the recipient is opted out")

// Check answers whether recipientKey may receive from scope under rule. It
// reads outside any lock; Fenced gives the answer that serialises with
// opt-outs. An error is never consent: callers must treat it as "do not
// send".
func (s *Store) Check(ctx context.Context, recipientKey, scope string, rule contract.ConsentRule) (contract.Decision, error) {
	d, err := check(ctx, s.pool, recipientKey, scope)
	if err == nil {
		rule.Decide(&d)
	}
	return d, err
}

func check(ctx context.Context, q rowQuerier, recipientKey, scope string) (contract.Decision, error) {
	// The newest change among the sender's scope and '*' wins, so STOPALL
	// then START on one sender re-enables only that sender. On a tie the
	// opt-out wins.
	var d contract.Decision
	err := q.QueryRow(ctx, `
		SELECT scope, state FROM consent
		WHERE recipient_key = $1 AND scope IN ($2, '*')
		ORDER BY updated_at DESC, state = 'opted_out' DESC
		LIMIT 1`, recipientKey, scope).Scan(&d.Scope, &d.State)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return contract.Decision{State: contract.ConsentUnknown}, nil
	case err != nil:
		return contract.Decision{}, fmt.Errorf("consent check: %w", err)
	}
	return d, nil
}

// Fenced runs fn while holding the recipient's lock in shared mode, after a
// consent check (under rule) made under that lock. fn runs only when the
// check allows sending, and receives the transaction so it can record its
// outcome atomically with the lock's release. No opt-out of the recipient
// can commit while fn runs.
func (s *Store) Fenced(ctx context.Context, recipientKey, scope string, rule contract.ConsentRule, fn func(tx pgx.Tx) error) (contract.Decision, error) {
	var d contract.Decision
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))`, recipientKey); err != nil {
			return fmt.Errorf("consent lock: %w", err)
		}
		var err error
		if d, err = check(ctx, tx, recipientKey, scope); err != nil {
			return err
		}
		if rule.Decide(&d); !d.Allowed {
			return nil
		}
		return fn(tx)
	})
	return d, err
}

// Exempt runs fn in a transaction without consent check or lock. It is
// for the messages compliance requires after an opt-out (the one
// confirmation, HELP replies), which stopline's own suppression must not
// block.
func (s *Store) Exempt(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// Record applies c in its own transaction. See RecordTx.
func (s *Store) Record(ctx context.Context, c contract.ConsentChange) (changed bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		changed, err = s.RecordTx(ctx, tx, c)
		return err
	})
	return changed, err
}

// RecordTx applies c inside tx: it takes the recipient's lock exclusively
// (waiting for in-flight sends), updates the current state and appends an
// event. It reports changed=false, and appends nothing, when the change does
// not apply (see applies): in particular a change to the state already held
// is a no-op, so redelivered keywords are idempotent. The event's raw text
// and note are sealed under the recipient's data key.
func (s *Store) RecordTx(ctx context.Context, tx pgx.Tx, c contract.ConsentChange) (changed bool, err error) {
	return s.recordTx(ctx, tx, c, "")
}

// recordTx is RecordTx in a transaction that already holds the lock of
// recipient key locked ("": none), which it then does not ask for again.
func (s *Store) recordTx(ctx context.Context, tx pgx.Tx, c contract.ConsentChange, locked string) (changed bool, err error) {
	if c.RecipientKey == "" || c.Scope == "" {
		return false, errors.New("consent change: recipient key and scope are required")
	}
	switch c.To {
	case contract.OptedIn, contract.OptedOut, contract.OptInPending, contract.OptInConfirmed:
	default:
		return false, fmt.Errorf("consent change: invalid state %q", c.To)
	}
	if c.RecipientKey != locked {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, c.RecipientKey); err != nil {
			return false, fmt.Errorf("consent lock: %w", err)
		}
	}
	var (
		from  contract.ConsentState
		fresh bool // from was set within ConfirmWindow
	)
	err = tx.QueryRow(ctx, `SELECT state, updated_at > clock_timestamp() - make_interval(secs => $3) FROM consent WHERE recipient_key = $1 AND scope = $2`,
		c.RecipientKey, c.Scope, contract.ConfirmWindow.Seconds()).Scan(&from, &fresh)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("consent read: %w", err)
	}
	if from == c.To && c.To != contract.OptInPending {
		// The row already says so; it is a no-op only if no newer row that
		// competes with it ('*' for a scope, any scope for '*') says otherwise.
		var overridden bool
		if err := tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM consent o, consent c
				WHERE c.recipient_key = $1 AND c.scope = $2
				  AND o.recipient_key = $1 AND o.scope <> $2 AND ($2 = '*' OR o.scope = '*')
				  AND o.state <> c.state AND o.updated_at > c.updated_at)`,
			c.RecipientKey, c.Scope).Scan(&overridden); err != nil {
			return false, fmt.Errorf("consent read: %w", err)
		}
		if !overridden {
			return false, nil
		}
	}
	if c.To == contract.OptInConfirmed && (c.Source == contract.SourceKeyword || c.Source == contract.SourceImport) {
		// A YES answers the open request only if nothing newer (a STOPALL)
		// ended it; an imported confirmation must not lift one either.
		d, err := check(ctx, tx, c.RecipientKey, c.Scope)
		if err != nil {
			return false, err
		}
		if d.Scope != c.Scope {
			from = d.State
		}
	}
	if c.To == contract.OptInConfirmed && c.Source == contract.SourceImport && from == contract.OptedOut {
		// A list exported elsewhere may predate the recipient's STOP here.
		return false, ErrOptedOut
	}
	if !applies(c, from, fresh) {
		return false, nil
	}
	var raw, note []byte
	if c.RawText != "" || c.Note != "" {
		// Not through the intake's cache: under the recipient's lock this
		// sees a Forget that committed before.
		key, err := s.writeKey(ctx, tx, c.RecipientKey)
		if errors.Is(err, ErrDataKeyUnreadable) {
			// As SaveInbound: the change commits, its texts are lost.
			s.sealFailed("consent_events", err)
			key, err = dataKey{}, nil
		}
		if err != nil {
			return false, fmt.Errorf("consent event: %w", err)
		}
		raw, note = key.seal(labelEventRaw, c.RecipientKey, c.RawText), key.seal(labelEventNote, c.RecipientKey, c.Note)
	}
	// The state and its event in one statement, one round trip. The event
	// is made from the upsert's row, so it is written after it, as when
	// they were two statements.
	tag, err := tx.Exec(ctx, `
		WITH c AS (
			INSERT INTO consent (recipient_key, scope, state, source) VALUES ($1, $2, $4, $5)
			ON CONFLICT (recipient_key, scope) DO UPDATE
			SET state = EXCLUDED.state, source = EXCLUDED.source, updated_at = clock_timestamp()
			RETURNING recipient_key, scope, state, source)
		INSERT INTO consent_events (recipient_key, scope, from_state, to_state, source, raw_text_sealed, provider, provider_message_id, sender, note_sealed, rule, keyword)
		SELECT c.recipient_key, c.scope, NULLIF($3, ''), c.state, c.source, $6::bytea, NULLIF($7, ''), NULLIF($8, ''), NULLIF($9, ''), $10::bytea, NULLIF($11, ''), NULLIF($12, '')
		FROM c`,
		c.RecipientKey, c.Scope, string(from), c.To, c.Source, raw, c.Provider, c.ProviderMessageID, c.Sender, note, c.Rule, c.Keyword)
	switch {
	case err != nil:
		return false, fmt.Errorf("consent write: %w", err)
	case tag.RowsAffected() != 1:
		return false, fmt.Errorf("consent write: %d events written, want 1", tag.RowsAffected())
	}
	return true, nil
}

// applies holds the double opt-in transitions. A new request (OptInPending)
// leaves a confirmed recipient confirmed, and restarts the window of a
// pending one. The recipient's YES (OptInConfirmed from a keyword) only answers a
// request made within ConfirmWindow; staff and imports may confirm anyone.
func applies(c contract.ConsentChange, from contract.ConsentState, fresh bool) bool {
	switch c.To {
	case contract.OptInPending:
		return from != contract.OptInConfirmed
	case contract.OptInConfirmed:
		if c.Source == contract.SourceKeyword {
			return from == contract.OptInPending && fresh
		}
	}
	return true
}

// RequestOptIn records that a journey asked the recipient to confirm a
// double opt-in (c.To is OptInPending), under the recipient's lock: unless the
// recipient is opted out (in c.Scope or everywhere), when nothing changes,
// or already confirmed, when nothing needs to. It returns the decision made
// before the change, under an empty ConsentRule.
func (s *Store) RequestOptIn(ctx context.Context, c contract.ConsentChange) (contract.Decision, error) {
	var d contract.Decision
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, c.RecipientKey); err != nil {
			return fmt.Errorf("consent lock: %w", err)
		}
		var err error
		if d, err = check(ctx, tx, c.RecipientKey, c.Scope); err != nil {
			return err
		}
		(contract.ConsentRule{}).Decide(&d)
		if !d.Allowed || d.State == contract.OptInConfirmed {
			return nil
		}
		_, err = s.RecordTx(ctx, tx, c)
		return err
	})
	return d, err
}

// Event is one row of the consent audit log.
type Event struct {
	ID                int64
	RecipientKey      string
	Scope             string
	From, To          contract.ConsentState
	Source            contract.ConsentSource
	RawText           string
	Provider          string
	ProviderMessageID string
	Sender            string
	Note              string
	Rule              string // see ConsentChange.Rule
	Keyword           string
	At                time.Time
	// Erased: the recipient was forgotten; RawText and Note, where there
	// was text, read Erased.
	Erased bool
}

const (
	eventColumns = `e.id, e.recipient_key, e.scope, coalesce(e.from_state, ''), e.to_state, e.source, e.raw_text, e.raw_text_sealed,
	coalesce(e.provider, ''), coalesce(e.provider_message_id, ''), coalesce(e.sender, ''), e.note, e.note_sealed,
	coalesce(e.rule, ''), coalesce(e.keyword, ''), e.created_at, ` + keyColumns
	eventFrom = `consent_events e LEFT JOIN data_keys k ON k.recipient_key = e.recipient_key`
)

// scanEvent reads a row of eventColumns, opening its raw text and note.
func (o *opener) scanEvent(r pgx.Row) (Event, error) {
	var (
		e                     Event
		raw, note             *string
		rawSealed, noteSealed []byte
		rk                    rowKey
	)
	err := r.Scan(&e.ID, &e.RecipientKey, &e.Scope, &e.From, &e.To, &e.Source, &raw, &rawSealed,
		&e.Provider, &e.ProviderMessageID, &e.Sender, &note, &noteSealed, &e.Rule, &e.Keyword, &e.At,
		&rk.id, &rk.keyID, &rk.wrapped)
	if err != nil {
		return e, err
	}
	var rawErased, noteErased bool
	if e.RawText, rawErased, err = o.text(rk, e.RecipientKey, labelEventRaw, raw, rawSealed); err != nil {
		return e, err
	}
	e.Note, noteErased, err = o.text(rk, e.RecipientKey, labelEventNote, note, noteSealed)
	e.Erased = rawErased || noteErased
	return e, err
}

// Events returns a recipient's consent events, oldest first.
func (s *Store) Events(ctx context.Context, recipientKey string) ([]Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM `+eventFrom+` WHERE e.recipient_key = $1 ORDER BY e.id`, recipientKey)
	if err != nil {
		return nil, fmt.Errorf("consent events: %w", err)
	}
	o := s.opener()
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) { return o.scanEvent(r) })
	if err != nil {
		return nil, fmt.Errorf("consent events: %w", err)
	}
	return events, nil
}

// EachEvent calls fn with every consent event created at or after since,
// oldest first, streaming: the log can be far larger than memory. It stops
// at fn's first error. The log has no update or delete path anywhere.
func (s *Store) EachEvent(ctx context.Context, since time.Time, fn func(Event) error) error {
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM `+eventFrom+` WHERE e.created_at >= $1 ORDER BY e.id`, since)
	if err != nil {
		return fmt.Errorf("consent events: %w", err)
	}
	defer rows.Close()
	o := s.opener()
	for rows.Next() {
		e, err := o.scanEvent(rows)
		if err != nil {
			return fmt.Errorf("consent events: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("consent events: %w", err)
	}
	return nil
}

// ScopeState is a recipient's current consent in one scope.
type ScopeState struct {
	Scope     string
	State     contract.ConsentState
	Source    contract.ConsentSource
	UpdatedAt time.Time
}

// States returns a recipient's current consent in every scope it has a row
// for, by scope.
func (s *Store) States(ctx context.Context, recipientKey string) ([]ScopeState, error) {
	rows, err := s.pool.Query(ctx, `SELECT scope, state, source, updated_at FROM consent WHERE recipient_key = $1 ORDER BY scope`, recipientKey)
	if err != nil {
		return nil, fmt.Errorf("consent states: %w", err)
	}
	states, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ScopeState])
	if err != nil {
		return nil, fmt.Errorf("consent states: %w", err)
	}
	return states, nil
}
