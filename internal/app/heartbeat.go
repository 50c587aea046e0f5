package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/stopline/stopline/internal/store"
)

// Heartbeats: every worker records, for each task queue it polls, a hash
// of the configuration that queue's work depends on, so one whose
// configuration differs from its live peers' on a queue (they would split
// that queue's work but handle it differently) says so. The main queue's
// hash leaves the providers out: workers with different providers are
// fine, as each provider's sends go on that provider's queue, whose hash
// adds the provider's settings.
const (
	heartbeatEvery = 5 * time.Second
	heartbeatLive  = 3 * heartbeatEvery
)

// configSummary is what must agree between the workers of one task
// queue. Secrets appear only as "set or not", except the recipient key
// secret, through a hash keyed with itself.
type configSummary struct {
	Namespace    string          `json:"namespace"`
	TaskQueue    string          `json:"task_queue"`
	SendersFile  string          `json:"senders_file_sha256"`
	RecipientKey string          `json:"recipient_key_check"`
	PublicURL    string          `json:"public_url"`
	TrustProxy   bool            `json:"trust_proxy"`
	PayloadKey   string          `json:"payload_key_id"` // "" = payloads in plain text
	Secrets      map[string]bool `json:"secrets_set"`
	// Provider is set in the summary of a provider's send queues.
	Provider *providerSummary `json:"provider,omitempty"`
}

// providerSummary is a provider's settings: the sending account (not a
// secret) and the API it calls.
type providerSummary struct {
	Name    string `json:"name"`
	Account string `json:"account"`
	APIURL  string `json:"api_url"`
}

// ConfigHash is the hash this worker records for its main task queue.
func (a *App) ConfigHash() string { return a.configHashes[a.cfg.TaskQueue] }

// computeConfigHashes hashes the configuration of each task queue this
// worker polls: the main queue, and the send queues of each provider.
func (a *App) computeConfigHashes() (map[string]string, error) {
	c := a.cfg
	sum := configSummary{
		Namespace: a.namespace, TaskQueue: c.TaskQueue,
		RecipientKey: a.Keyer.Key("stopline-config-check"),
		PublicURL:    c.Webhooks.PublicURL, TrustProxy: c.Webhooks.TrustProxy,
		Secrets: map[string]bool{
			"SINCH_WEBHOOK_SECRET": c.Webhooks.SinchSecret != "", "INBOUND_WEBHOOK_SECRET": c.Webhooks.InboundSecret != "",
			"ADMIN_TOKEN": c.AdminToken != "", "CODEC_TOKEN": c.Payload.Token != "",
		},
	}
	if a.Codec != nil {
		sum.PayloadKey = a.Codec.KeyID()
	}
	if c.SendersFile != "" {
		b, err := os.ReadFile(c.SendersFile)
		if err != nil {
			return nil, err
		}
		h := sha256.Sum256(b)
		sum.SendersFile = hex.EncodeToString(h[:])
	}
	hashes := map[string]string{c.TaskQueue: hashOf(sum)}
	accounts := map[string]providerSummary{
		"twilio": {Account: c.Twilio.AccountSID, APIURL: c.Twilio.APIURL},
		"sinch":  {Account: c.Sinch.ServicePlanID, APIURL: c.Sinch.APIURL},
		"http":   {APIURL: c.HTTPChannel.URL},
	}
	for _, q := range a.sendQueues() {
		if q.provider == "" {
			hashes[q.name] = hashes[c.TaskQueue]
			continue
		}
		p := accounts[q.provider]
		p.Name = q.provider
		sum.Provider = &p
		hashes[q.name] = hashOf(sum)
	}
	return hashes, nil
}

func hashOf(sum configSummary) string {
	b, _ := json.Marshal(sum) // plain strings and maps: cannot fail
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// heartbeat records this worker every heartbeatEvery after Start's first
// beat until ctx ends, then removes its rows. It logs an error whenever
// its hash on a queue starts to differ from a live peer's, and keeps the
// finding for /readyz.
func (a *App) heartbeat(ctx context.Context, log *slog.Logger) {
	defer close(a.heartbeatDone)
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			end, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = a.Store.EndHeartbeat(end, a.ID)
			cancel()
			return
		case <-t.C:
		}
		a.beat(ctx, log)
	}
}

func (a *App) beat(ctx context.Context, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, heartbeatEvery)
	defer cancel()
	var findings []string
	for _, queue := range slices.Sorted(maps.Keys(a.configHashes)) {
		hash := a.configHashes[queue]
		peers, err := a.Store.Heartbeat(ctx, a.ID, queue, hash, heartbeatLive)
		if err != nil {
			log.Warn("worker heartbeat", "err", err)
			return
		}
		if finding := configMismatch(hash, peers); finding != "" {
			findings = append(findings, "task queue "+queue+": "+finding)
		}
	}
	if len(findings) == 0 {
		a.configDiffers.Store(nil)
		return
	}
	finding := strings.Join(findings, "; ")
	if a.configDiffers.Load() == nil {
		log.Error("this worker's configuration differs from its peers' on the same task queue: they will handle the same work differently",
			"findings", finding)
	}
	a.configDiffers.Store(&finding)
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
