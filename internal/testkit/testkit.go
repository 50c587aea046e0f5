// Package testkit holds the small helpers that tests of every layer share.
// It imports only leaf packages (phone, journey), so that the tests of any
// package, even one that internal/stack builds on, can use it; the bench
// uses it too.
package testkit

import (
	"testing"
	"time"

	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/phone"
)

// Sender is the sending number of test journeys, hence their consent scope.
const Sender = "+15550001111"

// AnyHourSender is the test journeys' sender as journey JSON. Its quiet
// hours allow any time of day: tests run whatever the time of day in the
// recipients' states (the policy check itself still runs before every step).
const AnyHourSender = `{"provider": "twilio", "from": "` + Sender + `", "type": "long_code", "quiet_hours": {"start": "00:00", "end": "24:00", "legal_override": "test journeys run at any hour"}}`

// MustKeyer returns the Keyer of secret; it panics on a secret NewKeyer
// refuses, which is a mistake in the test itself.
func MustKeyer(secret string) phone.Keyer {
	k, err := phone.NewKeyer([]byte(secret))
	if err != nil {
		panic(err)
	}
	return k
}

// DevKeyer is the Keyer of phone.DevSecret, as the worker uses in -dev.
func DevKeyer() phone.Keyer { return MustKeyer(phone.DevSecret) }

// MustJourney parses a journey definition written in a test; it panics on
// a bad one, which is a mistake in the test itself.
func MustJourney(js string) *journey.Definition {
	def, err := journey.Parse([]byte(js))
	if err != nil {
		panic(err)
	}
	return def
}

// Recv waits for a value on ch, failing the test after a generous timeout
// so that a deadlock fails fast instead of hanging the package.
func Recv[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		tb.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// Eventually polls cond until it holds, failing the test once timeout has
// passed.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
