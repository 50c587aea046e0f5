package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/stopline/stopline/internal/sms"
	"github.com/stopline/stopline/internal/store"
)

// Heartbeats: every worker records its config hash in Postgres, so one
// whose configuration differs from its live peers' (which would split the
// work of one task queue between workers that behave differently) says so.
const (
	heartbeatEvery = 5 * time.Second
	heartbeatLive  = 3 * heartbeatEvery
)

// configSummary is what must agree between the workers of one task
// queue. Secrets appear only as "set or not", except the recipient key
// secret, through a hash keyed with itself.
type configSummary struct {
	Namespace    string                  `json:"namespace"`
	TaskQueue    string                  `json:"task_queue"`
	Providers    []sms.Provider          `json:"providers"`
	ProviderURLs map[sms.Provider]string `json:"provider_urls"`
	SendersFile  string                  `json:"senders_file_sha256"`
	RecipientKey string                  `json:"recipient_key_check"`
	PublicURL    string                  `json:"public_url"`
	TrustProxy   bool                    `json:"trust_proxy"`
	PayloadKey   string                  `json:"payload_key_id"` // "" = payloads in plain text
	Secrets      map[string]bool         `json:"secrets_set"`
}

// ConfigHash is the hash this worker records in its heartbeat.
func (a *App) ConfigHash() string { return a.configHash }

func (a *App) computeConfigHash() (string, error) {
	c := a.cfg
	sum := configSummary{
		Namespace: a.namespace, TaskQueue: c.TaskQueue,
		ProviderURLs: map[sms.Provider]string{sms.ProviderTwilio: c.Twilio.APIURL, sms.ProviderSinch: c.Sinch.APIURL, sms.ProviderHTTP: c.HTTPChannel.URL},
		RecipientKey: a.Keyer.Key("stopline-config-check"),
		PublicURL:    c.Webhooks.PublicURL, TrustProxy: c.Webhooks.TrustProxy,
		Secrets: map[string]bool{
			"TWILIO_AUTH_TOKEN": c.Twilio.AuthToken != "", "SINCH_API_TOKEN": c.Sinch.APIToken != "",
			"SINCH_WEBHOOK_SECRET": c.Webhooks.SinchSecret != "", "INBOUND_WEBHOOK_SECRET": c.Webhooks.InboundSecret != "",
			"HTTP_CHANNEL_SECRET": c.HTTPChannel.Secret != "", "ADMIN_TOKEN": c.AdminToken != "", "CODEC_TOKEN": c.Payload.Token != "",
		},
	}
	for p, s := range a.Activities.Providers {
		if s != nil {
			sum.Providers = append(sum.Providers, p)
		}
	}
	slices.Sort(sum.Providers)
	if a.Codec != nil {
		sum.PayloadKey = a.Codec.KeyID()
	}
	if c.SendersFile != "" {
		b, err := os.ReadFile(c.SendersFile)
		if err != nil {
			return "", err
		}
		h := sha256.Sum256(b)
		sum.SendersFile = hex.EncodeToString(h[:])
	}
	b, err := json.Marshal(sum)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8]), nil
}

// heartbeat records this worker every heartbeatEvery until ctx ends, then
// removes its row. It logs an error whenever its hash starts to differ
// from a live peer's, and keeps the finding for /readyz.
func (a *App) heartbeat(ctx context.Context, log *slog.Logger) {
	defer close(a.heartbeatDone)
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		a.beat(ctx, log)
		select {
		case <-ctx.Done():
			end, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = a.Store.EndHeartbeat(end, a.ID)
			cancel()
			return
		case <-t.C:
		}
	}
}

func (a *App) beat(ctx context.Context, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, heartbeatEvery)
	defer cancel()
	peers, err := a.Store.Heartbeat(ctx, a.ID, a.cfg.TaskQueue, a.configHash, heartbeatLive)
	if err != nil {
		log.Warn("worker heartbeat", "err", err)
		return
	}
	finding := configMismatch(a.configHash, peers)
	if finding != "" && a.configDiffers.Load() == nil {
		log.Error("this worker's configuration differs from its peers' on the same task queue: they will handle the same journeys differently",
			"task_queue", a.cfg.TaskQueue, "config_hash", a.configHash, "peers", peers)
	}
	if finding == "" {
		a.configDiffers.Store(nil)
	} else {
		a.configDiffers.Store(&finding)
	}
}

// configMismatch says how many live peers have another hash, or "".
func configMismatch(own string, peers []store.Peer) string {
	differ := 0
	for _, p := range peers {
		if p.ConfigHash != own {
			differ++
		}
	}
	if differ == 0 {
		return ""
	}
	return fmt.Sprintf("config hash %s differs from %d of %d live peers", own, differ, len(peers))
}
