package app

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/sms/sinch"
	"github.com/stopline/stopline/internal/sms/twilio"
	"github.com/stopline/stopline/internal/store"
)

func TestConfigMismatch(t *testing.T) {
	for _, tt := range []struct {
		name  string
		peers []store.Peer
		want  string
	}{
		{"alone", nil, ""},
		{"all agree", []store.Peer{{WorkerID: "a", ConfigHash: "h1"}, {WorkerID: "b", ConfigHash: "h1"}}, ""},
		{"one differs", []store.Peer{{WorkerID: "a", ConfigHash: "h1"}, {WorkerID: "b", ConfigHash: "h2"}}, "config hash h1 differs from 1 of 2 live peers"},
		{"all differ", []store.Peer{{WorkerID: "a", ConfigHash: "h2"}}, "config hash h1 differs from 1 of 1 live peers"},
	} {
		if got := configMismatch("h1", tt.peers); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// Two workers on one task queue and database: the second, configured
// differently for a queue both poll, says so on /readyz (and still answers
// 200: a rolling configuration change runs two configurations for a
// while); one configured alike, or with another set of providers (each
// has its own send queue), does not.
func TestHeartbeatFlagsDifferentConfig(t *testing.T) {
	c, ns := embedded(t)
	base := Config{Temporal: c, Namespace: ns, CreateNamespace: true, DatabaseURL: pgtest.NewDatabase(t),
		RecipientKeySecret: "app-test-secret-0123456789", HTTPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), Payload: codec.Config{Keys: codec.DevKeys},
		Twilio: twilio.Config{AccountSID: "AC1", AuthToken: "t"}}
	start := func(cfg Config) *App {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		a, err := Start(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	first := start(base)
	t.Cleanup(first.Stop)
	tests := []struct {
		name string
		mod  func(*Config)
		want bool
	}{
		{"same", func(*Config) {}, false},
		{"sinch too", func(c *Config) { c.Sinch = sinch.Config{ServicePlanID: "plan1", APIToken: "t"} }, false},
		{"another twilio account", func(c *Config) { c.Twilio.AccountSID = "AC2" }, true},
		{"another recipient key", func(c *Config) { c.RecipientKeySecret = "another-secret-0123456789" }, true},
		{"another public URL", func(c *Config) { c.Webhooks.PublicURL = "https://sms.example.com" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.mod(&cfg)
			a := start(cfg)
			defer a.Stop()
			code, body := get(t, a.HTTPAddr(), "/readyz")
			want := tt.want
			if code != 200 || strings.Contains(body, "differs from") != want {
				t.Errorf("/readyz = %d %q; want 200, warning %v (hashes %s, %s)", code, body, want, first.ConfigHash(), a.ConfigHash())
			}
		})
	}
}
