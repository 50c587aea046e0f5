package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/stopline/stopline/activities"
	"github.com/stopline/stopline/internal/senders"
)

// Only a send on its provider's queue waits a limited time for a worker: on
// a rate-limited sender's queue the wait is the rate's backlog, which must
// not read as a missing provider (waiting_provider).
func TestRouteSend(t *testing.T) {
	reg, err := senders.Parse([]byte(`{"senders": [{"provider": "twilio", "from": "+15550004444", "type": "long_code", "max_per_second": 5}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a := &activities.Activities{Registry: reg, ProviderWait: 2 * time.Second}
	tests := []struct {
		sender string
		want   activities.SendRoute
	}{
		{"+15550001111", activities.SendRoute{Queue: "q/send-twilio", Wait: 2 * time.Second}},
		{"+15550004444", activities.SendRoute{Queue: "q/send-twilio/+15550004444"}},
	}
	for _, tt := range tests {
		got, err := a.RouteSend(context.Background(), activities.RouteInput{Base: "q", Provider: "twilio", Sender: tt.sender})
		if err != nil || got != tt.want {
			t.Errorf("RouteSend(%s) = %+v, %v; want %+v", tt.sender, got, err, tt.want)
		}
	}
}
