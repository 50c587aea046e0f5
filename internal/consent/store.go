// Package consent is stopline's system of record in Postgres: current consent
// per (recipient, scope), the append-only consent event log, the send ledger
// and the sandbox outbox.
//
// Sends and consent changes of one recipient are serialised with a Postgres
// advisory lock on the recipient key: a send holds it shared from its consent
// check until the provider has answered, an opt-out takes it exclusively to
// commit. So every send either was accepted before the opt-out committed, or
// sees the opt-out.
package consent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AllScopes is the scope of a change that applies to every sender (STOPALL).
const AllScopes = "*"

// State is a recipient's consent in one scope.
type State string

const (
	OptedIn  State = "opted_in"
	OptedOut State = "opted_out"
	// Pending is an opt-in to a double opt-in program that the recipient
	// has not confirmed yet.
	Pending State = "pending"
	// Confirmed is a double opt-in the recipient confirmed (YES within
	// ConfirmWindow), or that staff or an import recorded.
	Confirmed State = "confirmed"
	// Unknown means no change was ever recorded: the recipient was imported
	// by the journey designer and is presumed to have consented.
	Unknown State = ""
)

// ConfirmWindow is how long a pending double opt-in can be confirmed.
const ConfirmWindow = 24 * time.Hour

// Rule is what a send needs from consent; the sender's program and the
// message's category decide it.
type Rule struct {
	// NeedConfirmed: only a confirmed double opt-in allows the send
	// (marketing from a double opt-in program).
	NeedConfirmed bool
	// OptOutAllows: an opt-out does not block the send (transactional
	// messages of a program whose STOP blocks marketing only).
	OptOutAllows bool
}

// Reasons a Decision refuses.
const (
	ReasonOptedOut     = "opted_out"
	ReasonNotConfirmed = "not_confirmed"
)

func (r Rule) decide(d *Decision) {
	switch {
	case d.State == OptedOut && !r.OptOutAllows:
		d.Reason = ReasonOptedOut
	case r.NeedConfirmed && d.State != Confirmed:
		d.Reason = ReasonNotConfirmed
	default:
		d.Allowed = true
	}
}

// Source says where a consent change came from.
type Source string

const (
	SourceKeyword  Source = "keyword"  // the recipient texted a keyword
	SourceProvider Source = "provider" // the provider refused a send (21610, 257)
	SourceAdmin    Source = "admin"    // support staff
	SourceImport   Source = "import"   // imported suppression list
	SourceJourney  Source = "journey"  // a journey's opt_in step asked for a double opt-in
)

// Store is the Postgres consent store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

// DefaultMaxConns bounds the pool when DATABASE_URL does not: a send holds a
// connection across its provider call, so the pool caps concurrent sends.
const DefaultMaxConns = 32

// Open connects to Postgres and checks the connection.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	return OpenSized(ctx, databaseURL, 0)
}

// OpenSized is Open with a pool of maxConns connections (0: as Open), for
// a pool kept apart for one kind of work, such as webhook intake, so that
// it and the sends cannot take each other's connections.
func OpenSized(ctx context.Context, databaseURL string, maxConns int32) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	switch {
	case maxConns > 0:
		cfg.MaxConns = maxConns
	case cfg.MaxConns < DefaultMaxConns && !strings.Contains(databaseURL, "pool_max_conns"):
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("DATABASE_URL: cannot reach Postgres at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return &Store{pool: pool}, nil
}

// Pool exposes the pool for packages that add their own tables.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Decision is the answer of a consent check.
type Decision struct {
	Allowed bool
	State   State  // state of the deciding row; Unknown when none exists
	Scope   string // scope of the deciding row (the sender's scope or AllScopes)
	Reason  string // why not allowed: ReasonOptedOut, ReasonNotConfirmed
}

// Check answers whether recipientKey may receive from scope under rule. It
// reads outside any lock; Fenced gives the answer that serialises with
// opt-outs. An error is never consent: callers must treat it as "do not
// send".
func (s *Store) Check(ctx context.Context, recipientKey, scope string, rule Rule) (Decision, error) {
	d, err := check(ctx, s.pool, recipientKey, scope)
	if err == nil {
		rule.decide(&d)
	}
	return d, err
}

type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func check(ctx context.Context, q rowQuerier, recipientKey, scope string) (Decision, error) {
	// The newest change among the sender's scope and '*' wins, so STOPALL
	// then START on one sender re-enables only that sender. On a tie the
	// opt-out wins.
	var d Decision
	err := q.QueryRow(ctx, `
		SELECT scope, state FROM consent
		WHERE recipient_key = $1 AND scope IN ($2, '*')
		ORDER BY updated_at DESC, state = 'opted_out' DESC
		LIMIT 1`, recipientKey, scope).Scan(&d.Scope, &d.State)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Decision{State: Unknown}, nil
	case err != nil:
		return Decision{}, fmt.Errorf("consent check: %w", err)
	}
	return d, nil
}

// Fenced runs fn while holding the recipient's lock in shared mode, after a
// consent check (under rule) made under that lock. fn runs only when the
// check allows sending, and receives the transaction so it can record its
// outcome atomically with the lock's release. No opt-out of the recipient
// can commit while fn runs.
func (s *Store) Fenced(ctx context.Context, recipientKey, scope string, rule Rule, fn func(tx pgx.Tx) error) (Decision, error) {
	var d Decision
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))`, recipientKey); err != nil {
			return fmt.Errorf("consent lock: %w", err)
		}
		var err error
		if d, err = check(ctx, tx, recipientKey, scope); err != nil {
			return err
		}
		if rule.decide(&d); !d.Allowed {
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

// Change is one consent change to record.
type Change struct {
	RecipientKey string
	Scope        string // sender scope or AllScopes
	To           State
	Source       Source
	// RawText is the message text. Deprecated for new events: the text
	// belongs in inbound_messages, where erasure and retention reach it
	// (consent_events is append-only); intake leaves it empty.
	RawText           string
	Provider          string
	ProviderMessageID string
	Sender            string
	Note              string
	// Rule and Keyword explain a keyword change: the rule that matched
	// (keywords.Intent.Explanation) and the canonical keyword.
	Rule    string
	Keyword string
}

// Record applies c in its own transaction. See RecordTx.
func (s *Store) Record(ctx context.Context, c Change) (changed bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		changed, err = RecordTx(ctx, tx, c)
		return err
	})
	return changed, err
}

// ErrOptedOut is RecordTx's refusal of an imported confirmation for a
// recipient who is opted out in that scope (or everywhere): only the
// recipient's own opt-in, or staff, may lift an opt-out.
var ErrOptedOut = errors.New("the recipient is opted out")

// RecordTx applies c inside tx: it takes the recipient's lock exclusively
// (waiting for in-flight sends), updates the current state and appends an
// event. It reports changed=false, and appends nothing, when the change does
// not apply (see applies): in particular a change to the state already held
// is a no-op, so redelivered keywords are idempotent.
func RecordTx(ctx context.Context, tx pgx.Tx, c Change) (changed bool, err error) {
	if c.RecipientKey == "" || c.Scope == "" {
		return false, errors.New("consent change: recipient key and scope are required")
	}
	switch c.To {
	case OptedIn, OptedOut, Pending, Confirmed:
	default:
		return false, fmt.Errorf("consent change: invalid state %q", c.To)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, c.RecipientKey); err != nil {
		return false, fmt.Errorf("consent lock: %w", err)
	}
	var (
		from  State
		fresh bool // from was set within ConfirmWindow
	)
	err = tx.QueryRow(ctx, `SELECT state, updated_at > clock_timestamp() - make_interval(secs => $3) FROM consent WHERE recipient_key = $1 AND scope = $2`,
		c.RecipientKey, c.Scope, ConfirmWindow.Seconds()).Scan(&from, &fresh)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("consent read: %w", err)
	}
	if from == c.To && c.To != Pending {
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
	if c.To == Confirmed && (c.Source == SourceKeyword || c.Source == SourceImport) {
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
	if c.To == Confirmed && c.Source == SourceImport && from == OptedOut {
		// A list exported elsewhere may predate the recipient's STOP here.
		return false, ErrOptedOut
	}
	if !applies(c, from, fresh) {
		return false, nil
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO consent (recipient_key, scope, state, source) VALUES ($1, $2, $3, $4)
		ON CONFLICT (recipient_key, scope) DO UPDATE
		SET state = EXCLUDED.state, source = EXCLUDED.source, updated_at = clock_timestamp()`,
		c.RecipientKey, c.Scope, c.To, c.Source); err != nil {
		return false, fmt.Errorf("consent write: %w", err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO consent_events (recipient_key, scope, from_state, to_state, source, raw_text, provider, provider_message_id, sender, note, rule, keyword)
		VALUES ($1, $2, NULLIF($3, ''), $4, $5, NULLIF($6, ''), NULLIF($7, ''), NULLIF($8, ''), NULLIF($9, ''), NULLIF($10, ''), NULLIF($11, ''), NULLIF($12, ''))`,
		c.RecipientKey, c.Scope, string(from), c.To, c.Source, c.RawText, c.Provider, c.ProviderMessageID, c.Sender, c.Note, c.Rule, c.Keyword); err != nil {
		return false, fmt.Errorf("consent event: %w", err)
	}
	return true, nil
}

// applies holds the double opt-in transitions. A new request (Pending)
// leaves a confirmed recipient confirmed, and restarts the window of a
// pending one. The recipient's YES (Confirmed from a keyword) only answers a
// request made within ConfirmWindow; staff and imports may confirm anyone.
func applies(c Change, from State, fresh bool) bool {
	switch c.To {
	case Pending:
		return from != Confirmed
	case Confirmed:
		if c.Source == SourceKeyword {
			return from == Pending && fresh
		}
	}
	return true
}

// Event is one row of the consent audit log.
type Event struct {
	ID                int64
	RecipientKey      string
	Scope             string
	From, To          State
	Source            Source
	RawText           string
	Provider          string
	ProviderMessageID string
	Sender            string
	Note              string
	Rule              string // see Change.Rule
	Keyword           string
	At                time.Time
}

// Events returns a recipient's consent events, oldest first.
func (s *Store) Events(ctx context.Context, recipientKey string) ([]Event, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, recipient_key, scope, coalesce(from_state, ''), to_state, source, coalesce(raw_text, ''),
		       coalesce(provider, ''), coalesce(provider_message_id, ''), coalesce(sender, ''), coalesce(note, ''),
		       coalesce(rule, ''), coalesce(keyword, ''), created_at
		FROM consent_events WHERE recipient_key = $1 ORDER BY id`, recipientKey)
	if err != nil {
		return nil, fmt.Errorf("consent events: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.ID, &e.RecipientKey, &e.Scope, &e.From, &e.To, &e.Source, &e.RawText,
			&e.Provider, &e.ProviderMessageID, &e.Sender, &e.Note, &e.Rule, &e.Keyword, &e.At)
		return e, err
	})
}
