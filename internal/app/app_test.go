package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/sms/httpchannel"
	"github.com/stopline/stopline/internal/sms/sinch"
	"github.com/stopline/stopline/internal/sms/twilio"
)

// Outside -dev, Start refuses settings that would expose consent or
// credentials, naming the variable, before it reaches Temporal.
func TestStartRefusesUnsafeSettings(t *testing.T) {
	db := pgtest.NewDatabase(t)
	const secret = "app-test-secret-0123456789"
	tests := []struct {
		name string
		cfg  func(*Config)
		want string
	}{
		{"short admin token", func(c *Config) { c.AdminToken = strings.Repeat("x", 31) }, "ADMIN_TOKEN is 31 bytes: at least 32"},
		{"short codec token", func(c *Config) { c.Payload.Token = strings.Repeat("x", 31) }, "CODEC_TOKEN is 31 bytes: at least 32"},
		{"no payload keys", func(c *Config) {}, "PAYLOAD_KEYS is not set"},
		{"bad payload keys", func(c *Config) { c.Payload.Keys = "k1:AAAA" }, `PAYLOAD_KEYS: key 1 ("k1"): 3 bytes, want 32`},
		{"Twilio over http", func(c *Config) {
			c.Twilio = twilio.Config{AccountSID: "AC123", AuthToken: "abc123", APIURL: "http://gateway.example.com"}
		}, "TWILIO_API_URL: \"http://gateway.example.com\": credentials would travel in clear text"},
		{"Sinch over http", func(c *Config) {
			c.Sinch = sinch.Config{ServicePlanID: "plan", APIToken: "token", APIURL: "http://10.0.0.5:8080"}
		}, "SINCH_API_URL"},
		{"HTTP channel over http", func(c *Config) {
			c.HTTPChannel = httpchannel.Config{URL: "http://sms.example.com/send", Secret: "s"}
		}, "HTTP_CHANNEL_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{DatabaseURL: db, RecipientKeySecret: secret}
			tt.cfg(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a, err := Start(ctx, cfg)
			if err == nil {
				a.Stop()
				t.Fatalf("Start succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestCheckProductionAllows(t *testing.T) {
	for _, cfg := range []Config{
		{AdminToken: strings.Repeat("x", 32), Twilio: twilio.Config{APIURL: "https://api.twilio.com"}},
		{Sinch: sinch.Config{APIURL: "http://127.0.0.1:9000"}, HTTPChannel: httpchannel.Config{URL: "http://localhost:8081/send"}},
		{Dev: true, AdminToken: "short", Twilio: twilio.Config{APIURL: "http://gateway.example.com"}},
	} {
		if err := checkProduction(cfg); err != nil {
			t.Errorf("checkProduction(%+v): %v", cfg, err)
		}
	}
}
