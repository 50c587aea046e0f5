package app

import (
	"cmp"
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/internal/store"
)

// loadCodec returns the payload codec of this process (nil: plain
// payloads). A Temporal client given in Config brings its own converter;
// Payload then only configures the codec server, if it names keys.
func loadCodec(cfg Config, log *slog.Logger) (*codec.Codec, error) {
	if cfg.Temporal != nil && cfg.Payload.Keys == "" {
		return nil, nil
	}
	return codec.Load(cfg.Payload, cfg.Dev, log)
}

// codecServer serves the codec-server protocol for operators' UIs, or is
// nil when payloads are not encrypted.
func (a *App) codecServer(log *slog.Logger) http.Handler {
	if a.Codec == nil {
		return nil
	}
	p := a.cfg.Payload
	if !a.cfg.Dev && p.Token == "" {
		log.Warn("codec server: CODEC_TOKEN is not set, so it refuses every request (401)")
	}
	return codec.NewServer(a.Codec, codec.ServerConfig{Token: p.Token, Dev: a.cfg.Dev, Origins: p.CORSOrigins})
}

// handleCodec mounts the codec server, if any, on mux.
func handleCodec(mux *http.ServeMux, h http.Handler) {
	if h != nil {
		mux.Handle(codec.Path+"/", h)
	}
}

// startDevUI starts the embedded UI once the codec server listens, so the
// UI decodes payloads in the browser through it.
func (a *App) startDevUI(log *slog.Logger) error {
	endpoint := ""
	if addr := cmp.Or(a.adminAddr, a.httpAddr); addr != "" && a.Codec != nil {
		endpoint = "http://" + browsable(addr) + codec.Path
	}
	addr, err := a.Dev.StartUI(a.cfg.UIAddr, endpoint)
	if err != nil {
		return err
	}
	log.Info("Temporal UI started", "url", "http://"+addr, "codec_endpoint", cmp.Or(endpoint, "none"))
	return nil
}

// browsable turns a listen address into one a browser on this machine can
// reach: a server on every interface is reached on loopback.
func browsable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// useKeyring has st wrap its data keys with the payload keyring, and
// report the texts it could not seal.
func (a *App) useKeyring(st *store.Store) {
	if a.Codec != nil {
		st.UseKeyring(a.Codec)
	}
	st.OnSealFailure(func(table string, err error) {
		a.Metrics.SealFailure(table)
		a.cfg.Logger.Error("committed without its texts: the recipient's data key cannot be unwrapped; put its key back in PAYLOAD_KEYS",
			"table", table, "err", err)
	})
}

// sealPlaintext seals rows stored before data keys existed (see
// store.SealPlaintext), in the background of a running worker: neither
// start nor intake waits for it. Once all is sealed it costs one query.
func (a *App) sealPlaintext(ctx context.Context, log *slog.Logger) {
	done, err := a.Store.SealPlaintext(ctx, "worker "+a.ID)
	if done != (store.Sealed{}) {
		log.Info("sealed stored phone numbers and texts under per-recipient data keys",
			"inbound_messages", done.InboundMessages, "consent_events", done.ConsentEvents)
	}
	if err != nil && ctx.Err() == nil {
		log.Warn("sealing stored phone numbers and texts; retrying with the next purge", "err", err)
	}
}

// DefaultInboundRetention is how long inbound message bodies are kept.
const DefaultInboundRetention = 90 * 24 * time.Hour

// purgeEvery is how often the worker purges bodies past retention, seals
// what workers of an older version wrote in plain text, and re-wraps data
// keys after a keyring rotation.
const purgeEvery = time.Hour

// privacySweep purges inbound bodies older than the retention, seals plain
// text and re-wraps data keys, now and every purgeEvery, until ctx ends.
// Every worker runs it; the store keeps them from doing the same rows.
func (a *App) privacySweep(ctx context.Context, log *slog.Logger) {
	retention := cmp.Or(a.cfg.InboundRetention, DefaultInboundRetention)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.sealPlaintext(ctx, log)
		if n, err := a.Store.PurgeBodies(ctx, retention); err != nil {
			log.Warn("inbound retention: purging old bodies", "err", err)
		} else if n > 0 {
			log.Info("inbound retention: purged message bodies", "count", n, "older_than", retention)
		}
		a.rewrapKeys(ctx, log)
		t.Reset(purgeEvery)
	}
}

// rewrapKeys wraps the data keys that an older key of PAYLOAD_KEYS wraps by
// its first key (see store.RewrapKeys).
func (a *App) rewrapKeys(ctx context.Context, log *slog.Logger) {
	done, err := a.Store.RewrapKeys(ctx, "worker "+a.ID)
	if err != nil && ctx.Err() == nil {
		log.Warn("re-wrapping data keys", "err", err)
	}
	if done.Keys > 0 {
		log.Info("data keys re-wrapped by the first key of PAYLOAD_KEYS", "count", done.Keys, "to_key_id", done.To, "from_key_ids", done.From)
	}
	if len(done.Unreadable) > 0 {
		log.Warn("data keys wrapped by key IDs missing from PAYLOAD_KEYS: their recipients' stored numbers and texts cannot be read",
			"by_key_id", done.Unreadable)
	}
}
