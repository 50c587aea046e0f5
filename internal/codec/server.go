package codec

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"go.temporal.io/sdk/converter"
)

// Path is where the codec server is mounted: the UI's codec endpoint is
// the server's base URL followed by Path, and the UI appends /encode or
// /decode.
const Path = "/codec"

// maxBody bounds a request: the UI sends the payloads of one event or
// one page of results, each at most Temporal's 2 MB payload limit.
const maxBody = 8 << 20

// ServerConfig configures the codec server.
type ServerConfig struct {
	// Token is required as "Authorization: Bearer <Token>". Empty refuses
	// every request, unless Dev.
	Token string
	// Dev serves without a token, and to pages from loopback origins: the
	// embedded UI of -dev can send no token.
	Dev bool
	// Origins may call from a browser (CORS); "*" allows any.
	Origins []string
}

// NewServer serves Temporal's codec-server protocol for c: POST
// {Path}/encode and {Path}/decode with a JSON {"payloads": [...]}. It never
// decodes for a caller without the token.
func NewServer(c *Codec, cfg ServerConfig) http.Handler {
	s := &server{codec: converter.NewPayloadCodecHTTPHandler(c), cfg: cfg}
	if cfg.Token != "" {
		sum := sha256.Sum256([]byte(cfg.Token))
		s.tokenHash = sum[:]
	}
	return s
}

type server struct {
	codec     http.Handler
	cfg       ServerConfig
	tokenHash []byte
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Add("Vary", "Origin")
	allowed := s.allowOrigin(w, r)
	if r.Method == http.MethodOptions {
		// A preflight carries no credentials; it only asks what is allowed.
		if !allowed {
			http.Error(w, "origin not allowed: add it to CODEC_CORS_ORIGINS", http.StatusForbidden)
			return
		}
		w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Authorization-Extras, Content-Type, X-Namespace")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.URL.Path != Path+"/encode" && r.URL.Path != Path+"/decode" {
		http.NotFound(w, r)
		return
	}
	if !s.cfg.Dev && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="stopline-codec"`)
		http.Error(w, "codec server: send Authorization: Bearer <CODEC_TOKEN>", http.StatusUnauthorized)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	s.codec.ServeHTTP(w, r)
}

// allowOrigin sets the CORS response headers when r comes from an allowed
// origin.
func (s *server) allowOrigin(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	ok := slices.Contains(s.cfg.Origins, origin) || slices.Contains(s.cfg.Origins, "*") || s.cfg.Dev && loopback(origin)
	if origin == "" || !ok {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Allow-Credentials", "true")
	return true
}

// authorized compares hashes in constant time, so a wrong token's timing
// tells nothing of the token or its length.
func (s *server) authorized(r *http.Request) bool {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if s.tokenHash == nil || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(sum[:], s.tokenHash) == 1
}

// loopback reports whether origin is a page served from this machine.
func loopback(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}
