package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/workflows/contract"
)

// Effect is one thing an inbound message may do: the intent stored with it
// and the consent change (nil: none) that carries it out.
type Effect struct {
	Intent contract.Intent
	Change *contract.ConsentChange
	// Also holds the same change in other scopes the message reaches (a
	// number's own scope besides its messaging service's). Those of the
	// effect taken are applied, each as RecordTx decides, and do not decide
	// which effect is taken.
	Also []contract.ConsentChange
}

// SaveInbound stores m and, in the same transaction, carries out the first
// of effects whose change applies (see RecordTx), or else the last one. What
// a message does can depend on the recipient's state, which is only read
// under the transaction's lock: with double opt-in a YES confirms an open
// request, or else is an opt-in. The message waits for its keyword signal
// unless the intent taken is contract.IntentNone or there is no recipient. A
// redelivery of the same (provider, message ID) changes nothing and reports
// inserted=false.
func (s *Store) SaveInbound(ctx context.Context, m contract.Inbound, effects ...Effect) (id int64, inserted bool, taken Effect, err error) {
	if len(effects) == 0 {
		effects = []Effect{{Intent: contract.IntentNone}}
	}
	taken = effects[0]
	m.Intent = taken.Intent
	texts, err := s.sealInbound(ctx, m)
	if err != nil {
		return 0, false, taken, fmt.Errorf("inbound: %w", err)
	}
	if taken.Change == nil {
		// One statement is atomic on its own: no BEGIN/COMMIT round trips
		// for the messages (most of them) that change no consent.
		id, inserted, err = insertInbound(ctx, s.pool, texts, m, false)
		return id, inserted, taken, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		// The insert takes the recipient's lock too (RecordTx's, which
		// then does not ask again): one round trip less, same order.
		if id, inserted, err = insertInbound(ctx, tx, texts, m, true); err != nil || !inserted {
			return err
		}
		taken = effects[len(effects)-1]
		for _, e := range effects {
			applied := true
			if e.Change != nil {
				if applied, err = s.recordTx(ctx, tx, *e.Change, m.RecipientKey); err != nil {
					return err
				}
			}
			if applied {
				taken = e
				break
			}
		}
		// Also whether the main change applied or not: a STOP to a scope
		// already opted out must still reach the other.
		for _, c := range taken.Also {
			if _, err := s.recordTx(ctx, tx, c, m.RecipientKey); err != nil {
				return err
			}
		}
		if taken.Intent == m.Intent {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE inbound_messages SET intent = $2, signal_pending = signal_pending AND $2 <> $3 WHERE id = $1`,
			id, taken.Intent, contract.IntentNone)
		return err
	})
	return id, inserted, taken, err
}

// inboundTexts are an inbound message's number and body as stored: sealed,
// or in plain text in the bench's plain intake only (BenchPlainIntake).
type inboundTexts struct {
	from, body           []byte // sealed
	plainFrom, plainBody string // "" is NULL
}

// sealInbound seals m's number and body under its recipient's data key.
func (s *Store) sealInbound(ctx context.Context, m contract.Inbound) (inboundTexts, error) {
	if s.benchPlainIntake.Load() {
		return inboundTexts{plainFrom: m.From, plainBody: m.Body}, nil
	}
	key, err := s.cachedWriteKey(ctx, m.RecipientKey)
	if errors.Is(err, ErrDataKeyUnreadable) {
		// The message and its consent effect are committed all the same,
		// its number and body not at all: a STOP must never be lost for
		// want of a key (CheckDataKeys keeps workers from starting so).
		s.sealFailed("inbound_messages", err)
		key, err = dataKey{}, nil
	}
	if err != nil {
		return inboundTexts{}, err
	}
	return inboundTexts{from: key.seal(labelInboundFrom, m.RecipientKey, m.From), body: key.seal(labelInboundBody, m.RecipientKey, m.Body)}, nil
}

const insertInboundSQL = `
	INSERT INTO inbound_messages (provider, message_id, from_sealed, to_number, body_sealed, num_media, recipient_key,
		scope, intent, keyword, language, provider_handled, received_at, signal_pending, rule, from_number, body)
	VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''), NULLIF($8, ''), $9, NULLIF($10, ''), NULLIF($11, ''), $12, $13, $14, NULLIF($15, ''),
		NULLIF($16, ''), NULLIF($17, ''))
	ON CONFLICT (provider, message_id) DO NOTHING
	RETURNING id, recipient_key`

// insertInbound inserts m with its number and body as given, unless its
// (provider, message ID) exists. With lock (m has a recipient), the same
// statement then takes the recipient's consent lock (see RecordTx), if the
// row is new: the lateral subquery runs once per inserted row, after it.
func insertInbound(ctx context.Context, q rowQuerier, texts inboundTexts, m contract.Inbound, lock bool) (id int64, inserted bool, err error) {
	signal := m.RecipientKey != "" && m.Intent != contract.IntentNone
	sql := insertInboundSQL
	if lock {
		sql = `WITH ins AS (` + insertInboundSQL + `)
			SELECT ins.* FROM ins, LATERAL (SELECT pg_advisory_xact_lock(hashtextextended(ins.recipient_key, 0))) l`
	}
	err = q.QueryRow(ctx, sql,
		m.Provider, m.MessageID, texts.from, m.To, texts.body, m.NumMedia, m.RecipientKey, m.Scope, m.Intent,
		m.Keyword, m.Language, m.ProviderHandled, m.ReceivedAt, signal, m.Rule, texts.plainFrom, texts.plainBody).Scan(&id, nil)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil // redelivery
	}
	if err != nil {
		return 0, false, fmt.Errorf("inbound: %w", err)
	}
	return id, true, nil
}

// PendingSignalCount is the backlog of undelivered keyword signals.
func (s *Store) PendingSignalCount(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM inbound_messages WHERE signal_pending`).Scan(&n)
	return n, err
}

// InboundMessages returns the messages a recipient sent, oldest first.
func (s *Store) InboundMessages(ctx context.Context, recipientKey string) ([]contract.Inbound, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+inboundColumns+` FROM `+inboundFrom+`
		WHERE m.recipient_key = $1 ORDER BY m.received_at, m.id`, recipientKey)
	if err != nil {
		return nil, fmt.Errorf("inbound: %w", err)
	}
	o := s.opener()
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (contract.Inbound, error) { return o.scanInbound(r) })
	if err != nil {
		return nil, fmt.Errorf("inbound: %w", err)
	}
	return msgs, nil
}

const (
	inboundColumns = `m.id, m.provider, m.message_id, m.from_number, m.from_sealed, m.to_number, m.body, m.body_sealed,
		m.body_purged_at IS NOT NULL, m.num_media, coalesce(m.recipient_key, ''), coalesce(m.scope, ''), m.intent,
		coalesce(m.keyword, ''), coalesce(m.language, ''), coalesce(m.rule, ''), m.provider_handled, m.received_at, m.stored_at, ` + keyColumns
	inboundFrom = `inbound_messages m LEFT JOIN data_keys k ON k.recipient_key = coalesce(m.recipient_key, '')`
)

// scanInbound reads a row of inboundColumns, opening its number and body.
func (o *opener) scanInbound(r pgx.Row) (contract.Inbound, error) {
	var (
		m                    contract.Inbound
		from, body           *string
		fromSealed, bodySeal []byte
		rk                   rowKey
	)
	err := r.Scan(&m.ID, &m.Provider, &m.MessageID, &from, &fromSealed, &m.To, &body, &bodySeal, &m.BodyPurged,
		&m.NumMedia, &m.RecipientKey, &m.Scope, &m.Intent, &m.Keyword, &m.Language, &m.Rule, &m.ProviderHandled,
		&m.ReceivedAt, &m.CommittedAt, &rk.id, &rk.keyID, &rk.wrapped)
	if err != nil {
		return m, err
	}
	var fromErased, bodyErased bool
	if m.From, fromErased, err = o.text(rk, m.RecipientKey, labelInboundFrom, from, fromSealed); err != nil {
		return m, err
	}
	m.Body, bodyErased, err = o.text(rk, m.RecipientKey, labelInboundBody, body, bodySeal)
	m.Erased = fromErased || bodyErased
	return m, err
}
