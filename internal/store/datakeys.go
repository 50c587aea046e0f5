package store

// Per-recipient data keys (data_keys). Phone numbers and free text are
// sealed under their recipient's data key before they reach Postgres, and
// opened on the way out. A data key is stored wrapped by the keyring (the
// payload keyring, PAYLOAD_KEYS), so reading the database alone reveals
// nothing; deleting it (Forget) makes everything sealed under it unreadable,
// even in backups taken before.

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Erased stands where a text was whose data key was destroyed: the person
// was forgotten. It is for people to read; a message may hold the same
// word, so code tells the two apart by the Erased flag of what it reads
// (contract.Inbound, Event).
const Erased = "erased"

// Keyring wraps data keys; *codec.Codec is one. The key ID it returns is
// stored beside the wrapped key, so rotation only adds keys; RewrapKeys
// then moves the data keys to the key that wraps (KeyID), so the old one
// can go.
type Keyring interface {
	Seal(aad, plain []byte) (keyID string, sealed []byte, err error)
	Open(keyID string, aad, sealed []byte) ([]byte, error)
	KeyID() string // the ID Seal wraps under
}

// UseKeyring sets the keyring that wraps data keys; call it before the
// store is used. Without one (PAYLOAD_ENCRYPTION=off) data keys are stored
// unwrapped: erasure still works, but the database alone can read itself.
func (s *Store) UseKeyring(k Keyring) { s.keyring = k }

// ErrDataKeyUnreadable is the error of a data key that cannot be unwrapped:
// its keyring entry is missing from PAYLOAD_KEYS (or PAYLOAD_ENCRYPTION=off
// while keys are wrapped), or holds another secret under that ID.
var ErrDataKeyUnreadable = errors.New("data key cannot be unwrapped")

// OnSealFailure sets fn to hear of every text stored unsealed, as NULL,
// because its recipient's data key cannot be unwrapped: the consent effect
// it came with is committed all the same (a STOP must never wait for a
// key). table names where; err names the key ID, never the person.
func (s *Store) OnSealFailure(fn func(table string, err error)) { s.sealFailure = fn }

func (s *Store) sealFailed(table string, err error) {
	if s.sealFailure != nil {
		s.sealFailure(table, err)
	}
}

// CheckDataKeys unwraps one data key of each keyring entry that wraps any,
// and names the entries it cannot use: a worker without them could neither
// read those recipients' texts nor seal new ones. Run it at start.
func (s *Store) CheckDataKeys(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT k.id, k.recipient_key, k.key_id, k.wrapped FROM data_keys k
		JOIN (SELECT min(id) id FROM data_keys GROUP BY key_id) one ON one.id = k.id ORDER BY k.key_id`)
	if err != nil {
		return fmt.Errorf("data keys: %w", err)
	}
	var (
		id        int64
		rk, keyID string
		wrapped   []byte
		missing   []string
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &rk, &keyID, &wrapped}, func() error {
		if _, err := s.unwrap(rk, id, keyID, wrapped); err != nil {
			missing = append(missing, strconv.Quote(keyID))
		}
		return nil
	})
	switch {
	case err != nil:
		return fmt.Errorf("data keys: %w", err)
	case len(missing) == 0:
		return nil
	case s.keyring == nil:
		return fmt.Errorf("data keys in Postgres are wrapped by keyring entries %s, but PAYLOAD_ENCRYPTION=off: set PAYLOAD_KEYS with those keys (an old key may come last: it then only unwraps)", strings.Join(missing, ", "))
	}
	return fmt.Errorf("data keys in Postgres are wrapped by keyring entries %s that PAYLOAD_KEYS lacks (or holds with another secret): put those keys back in PAYLOAD_KEYS (an old key may come last: it then only unwraps)", strings.Join(missing, ", "))
}

// dataKey is an unwrapped data key and its row ID, which every sealed value
// carries: a value sealed under a destroyed key never meets its successor.
type dataKey struct {
	id   int64
	aead cipher.AEAD
}

const dataKeySize = 32

// Labels bind a sealed value to its column, so one cannot be moved into
// another.
const (
	labelInboundFrom = "inbound.from"
	labelInboundBody = "inbound.body"
	labelEventRaw    = "event.raw_text"
	labelEventNote   = "event.note"
)

// seal encrypts plain for recipientKey's column label: the data key's ID
// (8 bytes), a nonce, the ciphertext. Empty text stays NULL, and so does
// every text under the zero dataKey, which stands for a key that cannot be
// unwrapped: such a text is lost, never stored in plain.
func (k dataKey) seal(label, recipientKey, plain string) []byte {
	if plain == "" || k.aead == nil {
		return nil
	}
	out := make([]byte, 8+k.aead.NonceSize(), 8+k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	binary.BigEndian.PutUint64(out, uint64(k.id))
	_, _ = rand.Read(out[8:]) // crypto/rand.Read never fails
	return k.aead.Seal(out, out[8:], []byte(plain), []byte(label+"\x00"+recipientKey))
}

func wrapAAD(recipientKey string) []byte { return []byte("data key\x00" + recipientKey) }

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// unwrap opens a stored data key; its errors are ErrDataKeyUnreadable.
func (s *Store) unwrap(recipientKey string, id int64, keyID string, wrapped []byte) (dataKey, error) {
	raw, err := s.unwrapRaw(recipientKey, id, keyID, wrapped)
	if err != nil {
		return dataKey{}, err
	}
	aead, err := newAEAD(raw)
	if err != nil {
		return dataKey{}, fmt.Errorf("%w: %v", ErrDataKeyUnreadable, err)
	}
	return dataKey{id: id, aead: aead}, nil
}

// shredKey is a random key, kept nowhere, under data key ID 0, which no
// row has: what it seals reads as Erased from the start. Forget seals the
// plain rows of the person with it.
func shredKey() dataKey {
	raw := make([]byte, dataKeySize)
	_, _ = rand.Read(raw)
	aead, _ := newAEAD(raw) // a 32-byte key never fails
	return dataKey{id: 0, aead: aead}
}

// unwrapRaw returns the bytes of a stored data key.
func (s *Store) unwrapRaw(recipientKey string, id int64, keyID string, wrapped []byte) ([]byte, error) {
	raw := wrapped
	if keyID != "" {
		if s.keyring == nil {
			return nil, fmt.Errorf("%w: wrapped under key ID %q, but no keyring is configured (PAYLOAD_KEYS)", ErrDataKeyUnreadable, keyID)
		}
		var err error
		if raw, err = s.keyring.Open(keyID, wrapAAD(recipientKey), wrapped); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDataKeyUnreadable, err)
		}
	}
	if len(raw) != dataKeySize {
		return nil, fmt.Errorf("%w: data key %d: %d bytes", ErrDataKeyUnreadable, id, len(raw))
	}
	return raw, nil
}

// wrap returns a new random data key, wrapped for storage.
func (s *Store) wrapNew(recipientKey string) (keyID string, wrapped []byte, err error) {
	raw := make([]byte, dataKeySize)
	_, _ = rand.Read(raw)
	if s.keyring == nil {
		return "", raw, nil
	}
	return s.keyring.Seal(wrapAAD(recipientKey), raw)
}

// writeKey returns recipientKey's data key, creating it if it has none, in
// one statement on q.
func (s *Store) writeKey(ctx context.Context, q rowQuerier, recipientKey string) (dataKey, error) {
	keyID, wrapped, err := s.wrapNew(recipientKey)
	if err != nil {
		return dataKey{}, err
	}
	for range 3 {
		var (
			id    int64
			kid   string
			wkey  []byte
			found = true
		)
		// Under read committed the second SELECT misses a row that a
		// concurrent insert committed after this statement began; the
		// insert then does nothing too, and the next attempt sees it.
		err := q.QueryRow(ctx, `
			WITH ins AS (
				INSERT INTO data_keys (recipient_key, key_id, wrapped) VALUES ($1, $2, $3)
				ON CONFLICT (recipient_key) DO NOTHING
				RETURNING id, key_id, wrapped)
			SELECT id, key_id, wrapped FROM ins
			UNION ALL SELECT id, key_id, wrapped FROM data_keys WHERE recipient_key = $1
			LIMIT 1`, recipientKey, keyID, wrapped).Scan(&id, &kid, &wkey)
		if errors.Is(err, pgx.ErrNoRows) {
			found = false
		} else if err != nil {
			return dataKey{}, fmt.Errorf("data key: %w", err)
		}
		if found {
			return s.unwrap(recipientKey, id, kid, wkey)
		}
	}
	return dataKey{}, errors.New("data key: not found after create")
}

// keyCache keeps unwrapped data keys for the webhook intake, so a
// recipient's next message costs no extra round trip. The Stores of one
// process share it (ShareKeyCache), so a Forget drops the key from it at
// once. An entry lives for keyCacheTTL: a message stored with a key that
// another process has just destroyed is sealed under that key, so it reads
// as erased, never as plain text.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]cachedKey
	// drops counts drop calls: a key read before a drop is not cached
	// after it.
	drops uint64
}

type cachedKey struct {
	key dataKey
	at  time.Time
}

const (
	keyCacheTTL  = time.Minute
	keyCacheSize = 100_000
)

func (c *keyCache) get(recipientKey string) (dataKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.keys[recipientKey]
	if !ok || time.Since(e.at) > keyCacheTTL {
		return dataKey{}, false
	}
	return e.key, true
}

// generation is the number of drops so far, for put.
func (c *keyCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.drops
}

// put caches k unless a key was dropped since generation gen: k may be the
// one a Forget destroyed in between.
func (c *keyCache) put(gen uint64, recipientKey string, k dataKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.drops != gen {
		return
	}
	if c.keys == nil || len(c.keys) >= keyCacheSize {
		c.keys = make(map[string]cachedKey)
	}
	c.keys[recipientKey] = cachedKey{key: k, at: time.Now()}
}

func (c *keyCache) drop(recipientKey string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.keys, recipientKey)
	c.drops++
}

// ShareKeyCache has s use other's cache of data keys, so that a Forget on
// either drops the key for both. A process that opens several Stores on
// one database (the worker's own and its intake's) shares one cache.
func (s *Store) ShareKeyCache(other *Store) { s.keys = other.keys }

// cachedWriteKey is writeKey through the cache, on the pool.
func (s *Store) cachedWriteKey(ctx context.Context, recipientKey string) (dataKey, error) {
	if k, ok := s.keys.get(recipientKey); ok {
		return k, nil
	}
	gen := s.keys.generation()
	k, err := s.writeKey(ctx, s.pool, recipientKey)
	if err == nil {
		s.keys.put(gen, recipientKey, k)
	}
	return k, err
}

// keyColumns select the data key of a row whose recipient key is in
// column rk, from "LEFT JOIN data_keys k ON k.recipient_key = coalesce(rk, ”)".
const keyColumns = `k.id, coalesce(k.key_id, ''), k.wrapped`

// rowKey is a row's data key as selected by keyColumns; id is nil when the
// recipient has none (forgotten, or nothing was ever sealed).
type rowKey struct {
	id      *int64
	keyID   string
	wrapped []byte
}

// opener opens sealed values of many rows, unwrapping each data key once.
type opener struct {
	s    *Store
	keys map[int64]dataKey
}

func (s *Store) opener() *opener { return &opener{s: s, keys: map[int64]dataKey{}} }

// text returns a column's text: plain when the row predates sealing, ""
// when there is none (or it was purged), Erased (and erased) when its data
// key is gone.
func (o *opener) text(rk rowKey, recipientKey, label string, plain *string, sealed []byte) (text string, erased bool, err error) {
	switch {
	case plain != nil:
		return *plain, false, nil
	case sealed == nil:
		return "", false, nil
	case len(sealed) < 8:
		return "", false, fmt.Errorf("%s: sealed value too short", label)
	}
	id := int64(binary.BigEndian.Uint64(sealed))
	if rk.id == nil || *rk.id != id {
		return Erased, true, nil
	}
	k, ok := o.keys[id]
	if !ok {
		if k, err = o.s.unwrap(recipientKey, id, rk.keyID, rk.wrapped); err != nil {
			return "", false, err
		}
		if len(o.keys) >= keyCacheSize { // an export meets every recipient
			clear(o.keys)
		}
		o.keys[id] = k
	}
	ns := k.aead.NonceSize()
	if len(sealed) < 8+ns {
		return "", false, fmt.Errorf("%s: sealed value too short", label)
	}
	plainText, err := k.aead.Open(nil, sealed[8:8+ns], sealed[8+ns:], []byte(label+"\x00"+recipientKey))
	if err != nil {
		return "", false, fmt.Errorf("%s: cannot decrypt (damaged, or moved from another row)", label)
	}
	return string(plainText), false, nil
}
