package webhook_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/webhook"
	"github.com/stopline/stopline/workflows/contract"
)

// A recipient whose data key cannot be unwrapped (its PAYLOAD_KEYS entry
// is gone) still opts out: the STOP and a provider's 21610 are committed
// and answered 2xx (nil), never 503 (ErrUnavailable) forever.
func TestStopWithUnreadableDataKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const number = "+14155553999"
	key := f.intake.Keyer.Key(number)
	// A data key, then its keyring entry gone (not through the intake,
	// whose cache would keep the key unwrapped).
	if _, err := f.store.Record(ctx, contract.ConsentChange{RecipientKey: key, Scope: senderC, To: contract.OptedIn, Source: contract.SourceAdmin, Note: "signed up"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Pool().Exec(ctx, `UPDATE data_keys SET key_id = 'retired' WHERE recipient_key = $1`, key); err != nil {
		t.Fatal(err)
	}

	err := f.intake.Inbound(ctx, contract.Inbound{Provider: "twilio", MessageID: "SMunreadable", From: number, To: senderA, Body: "STOP", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatalf("STOP: %v (unavailable: %v); want it committed", err, errors.Is(err, webhook.ErrUnavailable))
	}
	if f.allowed(t, number, senderA) {
		t.Error("after the STOP, sender A may still send")
	}
	err = f.intake.Status(ctx, webhook.StatusEvent{Provider: "twilio", MessageID: "SMstatus9", MessageStatus: "failed", To: number, From: senderC, ErrorCode: 21610})
	if err != nil {
		t.Fatalf("status 21610: %v; want it committed", err)
	}
	if f.allowed(t, number, senderC) {
		t.Error("after the provider's 21610, sender C may still send")
	}
}
