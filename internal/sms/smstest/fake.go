// Package smstest provides fake SMS providers for tests: a fake Twilio
// (reached through the real twilio-go client), a fake Sinch and a fake
// custom HTTP channel. Each is an httptest server on 127.0.0.1, safe for
// concurrent use, and records what it accepted.
//
// Fakes never contact a real provider and use obviously fake credentials.
package smstest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// Accepted is one message a fake accepted.
type Accepted struct {
	SID                 string // provider's message ID (Twilio SID, Sinch batch ID, ...)
	To                  string
	From                string
	MessagingServiceSID string // Twilio only
	Body                string
	// At is when the fake accepted the message: taken under the fake's lock
	// right before it answers, so a test can order it against other events
	// (an opt-out committing, say).
	At time.Time
}

// Fake is the behaviour every fake provider shares. FakeTwilio, FakeSinch
// and FakeHTTPChannel embed it, so its methods are theirs.
//
// Every create-message call goes through the same steps: it is counted,
// waits out the delay, is checked for credentials, then, under the lock,
// takes the next injected failure if any, is validated, is refused if the
// recipient opted out, and is accepted.
type Fake struct {
	srv       *httptest.Server
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	accepted []Accepted
	optedOut map[string]bool
	failures []failure
	delay    time.Duration
	// replyDelay: see SetReplyDelay.
	replyDelay time.Duration
	calls      int
}

type failure struct {
	left   int
	status int
	body   string
}

func (f *Fake) start(h http.Handler) {
	f.closed = make(chan struct{})
	f.optedOut = make(map[string]bool)
	f.srv = httptest.NewServer(h) // listens on 127.0.0.1
}

// URL is the fake's base URL, e.g. http://127.0.0.1:40123.
func (f *Fake) URL() string { return f.srv.URL }

// Close stops the fake. Calls still waiting out a delay are abandoned
// without an answer. Close may be called more than once.
func (f *Fake) Close() {
	f.closeOnce.Do(func() {
		close(f.closed) // releases handlers waiting out a delay
		f.srv.Close()
	})
}

// Accepted returns a copy of the accepted messages in acceptance order.
func (f *Fake) Accepted() []Accepted {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.accepted)
}

// OptOut makes further sends to to fail as the provider's opt-out error
// (Twilio 21610, Sinch 257, HTTP channel "opted_out"), whatever the sender.
func (f *Fake) OptOut(to string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.optedOut[to] = true
}

// OptIn undoes OptOut.
func (f *Fake) OptIn(to string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.optedOut, to)
}

// Fail makes the next n create-message calls answer status with body, which
// may be anything (JSON or not). Failures queue up behind earlier ones.
func (f *Fake) Fail(n int, status int, body string) {
	f.enqueue(&f.failures, n, status, body)
}

// enqueue adds n answers of status with body to q, under the lock.
func (f *Fake) enqueue(q *[]failure, n int, status int, body string) {
	if n <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	*q = append(*q, failure{left: n, status: status, body: body})
}

// SetDelay delays the answer to each create-message call by d. A call whose
// request context ends during the delay is abandoned and accepts nothing.
func (f *Fake) SetDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

// SetReplyDelay delays the answer to each accepted message by d, after it
// was accepted: like a provider that took the message but whose answer is
// slow or lost, so a caller that dies meanwhile cannot know it was sent.
func (f *Fake) SetReplyDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replyDelay = d
}

// pauseReply waits out the reply delay (or until the caller goes away).
func (f *Fake) pauseReply(r *http.Request) {
	f.mu.Lock()
	d := f.replyDelay
	f.mu.Unlock()
	if d <= 0 {
		return
	}
	select {
	case <-time.After(d):
	case <-r.Context().Done():
	case <-f.closed:
	}
}

// Calls is the number of create-message calls received, failed ones
// included.
func (f *Fake) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// admit counts a create-message call and waits out the delay. It reports
// false when the caller went away or the fake closed meanwhile.
func (f *Fake) admit(r *http.Request) bool {
	f.mu.Lock()
	f.calls++
	d := f.delay
	f.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-f.closed:
	}
	return false
}

// lockUnlessFailing takes f.mu, unless the next injected failure answers
// the request instead: then it writes that failure, leaves f.mu unlocked and
// reports false.
func (f *Fake) lockUnlessFailing(w http.ResponseWriter) bool {
	f.mu.Lock()
	if fl, ok := pop(&f.failures); ok {
		f.mu.Unlock()
		writeFailure(w, fl)
		return false
	}
	return true
}

// pop takes the next answer of q. f.mu must be held.
func pop(q *[]failure) (failure, bool) {
	if len(*q) == 0 {
		return failure{}, false
	}
	fl := (*q)[0]
	if (*q)[0].left--; (*q)[0].left == 0 {
		*q = (*q)[1:]
	}
	return fl, true
}

// accept records m as accepted now. f.mu must be held.
func (f *Fake) accept(a Accepted) Accepted {
	a.At = time.Now()
	f.accepted = append(f.accepted, a)
	return a
}

func writeFailure(w http.ResponseWriter, fl failure) {
	ct := "text/html; charset=utf-8"
	if b := strings.TrimSpace(fl.body); strings.HasPrefix(b, "{") || strings.HasPrefix(b, "[") {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(fl.status)
	_, _ = w.Write([]byte(fl.body))
}

// randomHex returns n random bytes as lowercase hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// maxRequestBody bounds what the fakes read from a request.
const maxRequestBody = 1 << 20
