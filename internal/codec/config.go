package codec

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// DevKeys is the keyring of -dev: public, so it protects nothing. It lets
// a local setup run with encryption on, as production does.
const DevKeys = "dev:c3RvcGxpbmUgZGV2ZWxvcG1lbnQga2V5LCBwdWJsaWM="

// Config is the payload encryption part of a process's configuration.
type Config struct {
	Keys string // PAYLOAD_KEYS: "id:base64,..."; the first encrypts
	// Encryption is PAYLOAD_ENCRYPTION: "" or "on", or "off" to write
	// plain payloads.
	Encryption string
	// Token is CODEC_TOKEN, the bearer token of the codec server.
	Token string
	// CORSOrigins is CODEC_CORS_ORIGINS: the UI origins whose pages may
	// call the codec server.
	CORSOrigins []string
}

// FromEnv reads PAYLOAD_KEYS, PAYLOAD_ENCRYPTION, CODEC_TOKEN and
// CODEC_CORS_ORIGINS.
func FromEnv() Config {
	var origins []string
	for o := range strings.SplitSeq(os.Getenv("CODEC_CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	return Config{Keys: os.Getenv("PAYLOAD_KEYS"), Encryption: os.Getenv("PAYLOAD_ENCRYPTION"), Token: os.Getenv("CODEC_TOKEN"), CORSOrigins: origins}
}

// Load returns the codec cfg asks for, or nil when encryption is off. In
// dev, a missing keyring is replaced by DevKeys; elsewhere it is an error,
// since without one every number and message would reach Temporal in plain
// text.
func Load(cfg Config, dev bool, log *slog.Logger) (*Codec, error) {
	switch cfg.Encryption {
	case "", "on":
	case "off":
		log.Warn("PAYLOAD_ENCRYPTION=off: phone numbers, attributes and message texts reach Temporal in plain text")
		return nil, nil
	default:
		return nil, fmt.Errorf("PAYLOAD_ENCRYPTION %q: want on or off", cfg.Encryption)
	}
	keys := cfg.Keys
	if keys == "" {
		if !dev {
			return nil, fmt.Errorf(`PAYLOAD_KEYS is not set: it encrypts what stopline writes to Temporal (e.g. PAYLOAD_KEYS="k1:$(openssl rand -base64 32)"), or set PAYLOAD_ENCRYPTION=off to write plain text`)
		}
		keys = DevKeys
		log.Warn("using the fixed development payload key; set PAYLOAD_KEYS in production", "PAYLOAD_KEYS", DevKeys)
	}
	c, err := Parse(keys)
	if err != nil {
		return nil, fmt.Errorf("PAYLOAD_KEYS: %w", err)
	}
	return c, nil
}
