package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stopline/stopline/workflows/contract"
)

// Sinch HMAC headers.
const (
	sinchSignatureHeader = "X-Sinch-Webhook-Signature"
	sinchTimestampHeader = "X-Sinch-Webhook-Signature-Timestamp"
	sinchNonceHeader     = "X-Sinch-Webhook-Signature-Nonce"
	sinchAlgorithmHeader = "X-Sinch-Webhook-Signature-Algorithm"
	sinchAlgorithm       = "HmacSHA256"
)

const (
	// SinchMaxSkew is how far a Sinch signature timestamp may be from now,
	// either way. A nonce is remembered for as long as its timestamp is
	// acceptable, so a replay within the window is refused too.
	SinchMaxSkew = 5 * time.Minute
	// maxNonces bounds the replay cache (~100 bytes an entry). Only
	// correctly signed callbacks add to it, so only Sinch can fill it.
	maxNonces = 100_000
	// maxNonceLen refuses absurd nonces before they reach the cache.
	maxNonceLen = 256
)

// SignSinch computes the x-sinch-webhook-signature header Sinch sends:
// base64 HMAC-SHA256, keyed by secret, of body "." nonce "." timestamp
// (timestamp as sent in its header, Unix seconds). Tests use it to post
// signed callbacks.
func SignSinch(secret string, body []byte, nonce, timestamp string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	mac.Write([]byte("." + nonce + "." + timestamp))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func (s *server) sinch(w http.ResponseWriter, r *http.Request) *reqError {
	if s.cfg.SinchSecret == "" && !s.cfg.Insecure {
		// Unsigned Sinch callbacks would let anyone opt anyone in or out,
		// in any scope, and make stopline text numbers of their choosing.
		return notConfigured(string(contract.ProviderSinch), "SINCH_WEBHOOK_SECRET")
	}
	verify := !s.cfg.Insecure
	if verify {
		for _, h := range []string{sinchSignatureHeader, sinchTimestampHeader, sinchNonceHeader, sinchAlgorithmHeader} {
			if r.Header.Get(h) == "" {
				return fail(http.StatusForbidden, "missing %s header", strings.ToLower(h))
			}
		}
	}
	raw, e := readBody(w, r)
	if e != nil {
		return e
	}
	var nonce string
	if verify {
		var e *reqError
		if nonce, e = s.verifySinch(r.Header, raw); e != nil {
			return e
		}
	}
	m, ok, err := parseSinch(raw, s.now())
	if err != nil {
		return badRequest(err)
	}
	if !ok {
		s.log.DebugContext(r.Context(), "sinch delivery report ignored")
		writeJSONOK(w)
		return nil
	}
	if e := s.deliver(r.Context(), m); e != nil {
		if nonce != "" {
			// Sinch retries 5xx; should a retry carry the same nonce, it
			// must not be refused as a replay and the message lost.
			s.nonces.release(nonce)
		}
		return e
	}
	writeJSONOK(w)
	return nil
}

// verifySinch checks the HMAC headers and claims the nonce, which it
// returns. The signature is checked first, so that stale or replayed
// callbacks are only reported for genuine ones.
func (s *server) verifySinch(h http.Header, body []byte) (string, *reqError) {
	sig, ts, nonce, alg := h.Get(sinchSignatureHeader), h.Get(sinchTimestampHeader), h.Get(sinchNonceHeader), h.Get(sinchAlgorithmHeader)
	if !strings.EqualFold(alg, sinchAlgorithm) {
		return "", fail(http.StatusForbidden, "unsupported signature algorithm %.40q: want %s", alg, sinchAlgorithm)
	}
	if len(nonce) > maxNonceLen {
		return "", fail(http.StatusForbidden, "signature nonce longer than %d bytes", maxNonceLen)
	}
	if !hmac.Equal([]byte(SignSinch(s.cfg.SinchSecret, body, nonce, ts)), []byte(sig)) {
		return "", fail(http.StatusForbidden, "invalid %s", strings.ToLower(sinchSignatureHeader))
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", fail(http.StatusForbidden, "invalid signature timestamp %.40q: want Unix seconds", ts)
	}
	now := s.now()
	t := time.Unix(sec, 0)
	if d := now.Sub(t); d > SinchMaxSkew || d < -SinchMaxSkew {
		return "", fail(http.StatusForbidden, "stale signature timestamp %d: more than %v from now", sec, SinchMaxSkew)
	}
	switch s.nonces.claim(nonce, t.Add(SinchMaxSkew), now) {
	case claimReplay:
		return "", fail(http.StatusForbidden, "signature nonce already used (replay)")
	case claimFull:
		return "", fail(http.StatusServiceUnavailable, "replay cache full, retry later")
	}
	return nonce, nil
}

// sinchMO is Sinch's MO callback. body is raw because mo_media carries an
// object there.
type sinchMO struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	From       string          `json:"from"`
	To         string          `json:"to"`
	Body       json.RawMessage `json:"body"`
	ReceivedAt string          `json:"received_at"`
}

// parseSinch maps a Sinch callback to an Inbound. ok is false for delivery
// reports, which the same callback URL may receive and which are
// acknowledged without reaching the Intake.
func parseSinch(raw []byte, now time.Time) (m contract.Inbound, ok bool, err error) {
	var mo sinchMO
	if err := decodeJSON(raw, &mo); err != nil {
		return contract.Inbound{}, false, err
	}
	typ := strings.TrimSpace(clean(mo.Type))
	if typ == "" {
		return contract.Inbound{}, false, errors.New(`missing field "type"`)
	}
	if strings.Contains(typ, "delivery_report") {
		return contract.Inbound{}, false, nil
	}
	m = contract.Inbound{
		Provider:  string(contract.ProviderSinch),
		MessageID: strings.TrimSpace(clean(mo.ID)),
		From:      strings.TrimSpace(clean(mo.From)),
		To:        strings.TrimSpace(clean(mo.To)),
		Type:      typ,
	}
	if err := missing([2]string{"id", m.MessageID}, [2]string{"from", m.From}, [2]string{"to", m.To}); err != nil {
		return contract.Inbound{}, false, err
	}
	if m.Body, err = sinchBody(typ, mo.Body); err != nil {
		return contract.Inbound{}, false, err
	}
	m.Body = clean(m.Body)
	if typ == "mo_binary" || typ == "mo_media" {
		// Not text: recorded, never classified as a keyword.
		m.NumMedia = 1
	}
	if m.ReceivedAt, err = parseTime("received_at", mo.ReceivedAt, now); err != nil {
		return contract.Inbound{}, false, err
	}
	return m, true, nil
}

// sinchBody is the text of body: the string itself, or for mo_media the
// object's "message" (caption), if any.
func sinchBody(typ string, raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("invalid JSON: field \"body\": %v", err)
		}
		return s, nil
	}
	if typ == "mo_media" && raw[0] == '{' {
		var media struct {
			Message json.RawMessage `json:"message"`
		}
		var s string
		if json.Unmarshal(raw, &media) == nil && json.Unmarshal(media.Message, &s) == nil {
			return s, nil
		}
		return "", nil
	}
	return "", fmt.Errorf(`invalid JSON: field "body" must be a string for type %.40q`, typ)
}

// nonceCache remembers Sinch nonces until their timestamps expire.
type nonceCache struct {
	mu        sync.Mutex
	until     map[string]time.Time // nonce -> when it may be forgotten
	max       int
	lastSweep time.Time
}

type claimResult int

const (
	claimOK claimResult = iota
	claimReplay
	claimFull
)

func newNonceCache(max int) *nonceCache {
	return &nonceCache{until: make(map[string]time.Time), max: max}
}

// claim records nonce until the given time, unless it is already held. When
// the cache is full of live nonces it refuses rather than forget one, which
// would reopen a replay.
func (c *nonceCache) claim(nonce string, until, now time.Time) claimResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.until[nonce]; ok && now.Before(t) {
		return claimReplay
	}
	if len(c.until) >= c.max || now.Sub(c.lastSweep) >= time.Minute {
		for n, t := range c.until {
			if !now.Before(t) {
				delete(c.until, n)
			}
		}
		c.lastSweep = now
	}
	if len(c.until) >= c.max {
		return claimFull
	}
	c.until[nonce] = until
	return claimOK
}

func (c *nonceCache) release(nonce string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.until, nonce)
}
