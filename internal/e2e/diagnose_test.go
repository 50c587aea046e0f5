package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stopline/stopline/workflows"
)

// describeOptOut logs where a recipient's STOP got to: its inbound row, its
// Recipient workflow's history and its reply ledger rows.
func describeOptOut(t *testing.T, e *env, num string) {
	var signaled *time.Time
	var pending bool
	_ = e.App.Store.Pool().QueryRow(context.Background(), `SELECT signal_pending, signaled_at FROM inbound_messages WHERE recipient_key=$1 ORDER BY id DESC LIMIT 1`, e.Key(num)).Scan(&pending, &signaled)
	t.Logf("%s: pending %v signaled %v", num, pending, signaled)
	h := e.Client().GetWorkflowHistory(context.Background(), workflows.RecipientID(e.Key(num)), "", false, 0)
	for h.HasNext() {
		ev, err := h.Next()
		if err != nil {
			t.Logf("  history: %v", err)
			break
		}
		t.Logf("  %v %s %v", ev.GetEventTime().AsTime().Format("15:04:05.000"), ev.GetEventType(), ev.GetActivityTaskFailedEventAttributes().GetFailure().GetMessage())
	}
	rows, _ := e.App.Store.Pool().Query(context.Background(), `SELECT workflow_id, status, coalesce(reason,''), attempts FROM send_ledger WHERE recipient_key=$1 AND workflow_id LIKE 'reply/%'`, e.Key(num))
	for rows.Next() {
		var id, st, r string
		var a int
		_ = rows.Scan(&id, &st, &r, &a)
		t.Logf("  ledger %s %s %s %d", id, st, r, a)
	}
	rows.Close()
}

// waitFor polls cond until it holds or d passes; the caller asserts.
func waitFor(d time.Duration, cond func() bool) {
	deadline := time.Now().Add(d)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}
