package app

import (
	"cmp"
	"log/slog"
	"net"
	"net/http"

	"github.com/stopline/stopline/internal/codec"
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
