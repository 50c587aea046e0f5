package webhook_test

import (
	"context"
	"testing"

	"github.com/stopline/stopline/internal/webhook"
)

// A 21610 status callback opts the recipient out once per message: replayed
// after the recipient texted START, it changes nothing.
func TestStatusOptOutOncePerMessage(t *testing.T) {
	f := newFixture(t)
	const number = "+14155550123"
	ev := webhook.StatusEvent{Provider: "twilio", MessageID: "SMstatus1", MessageStatus: "failed", To: number, From: senderD, ErrorCode: 21610}
	status := func() {
		t.Helper()
		if err := f.intake.Status(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	status()
	if f.allowed(t, number, senderD) {
		t.Fatal("allowed after a 21610 status callback")
	}
	f.text(t, number, senderD, "START")
	if !f.allowed(t, number, senderD) {
		t.Fatal("not allowed after START")
	}
	status() // replayed
	if !f.allowed(t, number, senderD) {
		t.Error("a replayed 21610 callback opted out again a recipient who texted START")
	}
	ev.MessageID = "SMstatus2" // a new refusal is a new opt-out
	status()
	if f.allowed(t, number, senderD) {
		t.Error("a new 21610 callback did not opt out")
	}
}
