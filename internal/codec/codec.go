// Package codec encrypts the payloads stopline writes to Temporal (inputs,
// results, signals, queries, memos, side effects, failure details) with
// AES-256-GCM, so phone numbers, attributes and message bodies never reach
// the Temporal server or its database in readable form.
//
// Keys form a keyring: the first key encrypts, every key decrypts, and each
// payload names its key in its metadata, so keys rotate by putting the new
// key first and dropping the old one once no open history needs it and no
// data key in Postgres is wrapped by it (store.RewrapKeys).
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload. The encoding value follows the SDK's
// convention for codec output ("binary/..."), so tools that do not know the
// codec show the payload as opaque bytes.
const (
	Encoding    = "binary/encrypted"
	MetadataKey = "encryption-key-id"
)

// KeySize is the length of an AES-256 key.
const KeySize = 32

// Codec is a converter.PayloadCodec over a keyring.
type Codec struct {
	encrypt string // ID of the key new payloads use
	keys    map[string]cipher.AEAD
}

// Key is one keyring entry.
type Key struct {
	ID     string
	Secret []byte // KeySize bytes
}

// New returns a codec whose first key encrypts; all of them decrypt.
func New(keys ...Key) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	c := &Codec{encrypt: keys[0].ID, keys: make(map[string]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if err := checkID(k.ID); err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		if _, dup := c.keys[k.ID]; dup {
			return nil, fmt.Errorf("key %d: ID %q appears twice", i+1, k.ID)
		}
		if len(k.Secret) != KeySize {
			return nil, fmt.Errorf("key %d (%q): %d bytes, want %d (AES-256)", i+1, k.ID, len(k.Secret), KeySize)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("key %d (%q): %w", i+1, k.ID, err)
		}
		if c.keys[k.ID], err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("key %d (%q): %w", i+1, k.ID, err)
		}
	}
	return c, nil
}

// ParseKeys reads a keyring written as comma-separated "id:base64" entries,
// the format of PAYLOAD_KEYS. Errors name the entry, never the key bytes.
func ParseKeys(s string) ([]Key, error) {
	var keys []Key
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		id, b64, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("entry %d: want id:base64-key", i+1)
		}
		secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil {
			return nil, fmt.Errorf("entry %d (%q): key is not standard base64", i+1, id)
		}
		keys = append(keys, Key{ID: strings.TrimSpace(id), Secret: secret})
	}
	return keys, nil
}

// Parse builds a codec from a PAYLOAD_KEYS value.
func Parse(s string) (*Codec, error) {
	keys, err := ParseKeys(s)
	if err != nil {
		return nil, err
	}
	return New(keys...)
}

func checkID(id string) error {
	if id == "" {
		return errors.New("empty key ID")
	}
	if strings.ContainsAny(id, ":, \t\n") {
		return fmt.Errorf("key ID %q: no colons, commas or spaces", id)
	}
	return nil
}

// KeyID is the ID of the key that encrypts.
func (c *Codec) KeyID() string { return c.encrypt }

// Encode encrypts each whole payload, metadata included, so even its
// encoding is hidden. The key ID is the additional data: a payload moved
// under another key's name fails to decrypt.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.keys[c.encrypt]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encode payload: %w", err)
		}
		sealed := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(sealed); err != nil {
			return nil, fmt.Errorf("encode payload: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{converter.MetadataEncoding: []byte(Encoding), MetadataKey: []byte(c.encrypt)},
			Data:     aead.Seal(sealed, sealed, plain, []byte(c.encrypt)),
		}
	}
	return out, nil
}

// Decode decrypts encrypted payloads and passes others through unchanged:
// histories written before encryption, or input typed into a UI without
// the codec, stay readable. Errors name the key ID and nothing else.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKey])
		aead, ok := c.keys[id]
		if !ok {
			return nil, fmt.Errorf("payload encrypted with unknown key ID %q: add that key to PAYLOAD_KEYS", id)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return nil, fmt.Errorf("payload under key ID %q: too short to be encrypted", id)
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("payload under key ID %q: cannot decrypt (another key with that ID, or damaged)", id)
		}
		out[i] = &commonpb.Payload{}
		if err := proto.Unmarshal(plain, out[i]); err != nil {
			return nil, fmt.Errorf("payload under key ID %q: decrypted bytes are no payload", id)
		}
	}
	return out, nil
}

// DataConverter is the SDK's default converter with c applied to every
// payload; a nil c gives the default converter.
func DataConverter(c *Codec) converter.DataConverter {
	if c == nil {
		return converter.GetDefaultDataConverter()
	}
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter moves failure messages and stack traces into encoded
// attributes, where the codec covers them. Without it they stay plain
// text, and a failure message may quote a payload.
func FailureConverter(c *Codec) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          DataConverter(c),
		EncodeCommonAttributes: c != nil,
	})
}

// Apply sets opts' data and failure converters to c's. Every client
// stopline dials goes through it, so all of them read what the others wrote.
func Apply(opts *client.Options, c *Codec) {
	if c == nil {
		return
	}
	opts.DataConverter = DataConverter(c)
	opts.FailureConverter = FailureConverter(c)
}

// Seal encrypts plain under the key that encrypts, for data other than
// Temporal payloads (the store's data keys). The key ID and aad are bound
// to the ciphertext, so it opens only under that key ID and for that aad.
func (c *Codec) Seal(aad, plain []byte) (keyID string, sealed []byte, err error) {
	aead := c.keys[c.encrypt]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return c.encrypt, aead.Seal(nonce, nonce, plain, sealAAD(c.encrypt, aad)), nil
}

// Open decrypts what Seal returned. Errors name the key ID and nothing else.
func (c *Codec) Open(keyID string, aad, sealed []byte) ([]byte, error) {
	aead, ok := c.keys[keyID]
	if !ok {
		return nil, fmt.Errorf("sealed with unknown key ID %q: add that key to PAYLOAD_KEYS", keyID)
	}
	if len(sealed) < aead.NonceSize() {
		return nil, fmt.Errorf("sealed under key ID %q: too short", keyID)
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], sealAAD(keyID, aad))
	if err != nil {
		return nil, fmt.Errorf("sealed under key ID %q: cannot decrypt (another key with that ID, or damaged)", keyID)
	}
	return plain, nil
}

// sealAAD keeps Seal's additional data apart from Encode's (the bare key
// ID), so a sealed value never passes for a payload or the reverse.
func sealAAD(keyID string, aad []byte) []byte {
	return append([]byte("seal\x00"+keyID+"\x00"), aad...)
}
