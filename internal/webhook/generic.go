package webhook

import (
	"net/http"
	"strings"
	"time"

	"github.com/stopline/stopline/internal/sms/httpchannel"
	"github.com/stopline/stopline/workflows/contract"
)

// generic receives the generic channel's MO callback, signed as httpchannel
// signs outbound requests:
//
//	X-Stopline-Signature: sha256=<hex HMAC-SHA256 of the raw body>
//	{"id": "...", "from": "+1...", "to": "+1...", "body": "...", "received_at": "RFC 3339"}
//
// The signature carries no timestamp, so replays are not detected here; the
// Intake deduplicates on id.
func (s *server) generic(w http.ResponseWriter, r *http.Request) *reqError {
	if s.cfg.InboundSecret == "" && !s.cfg.Insecure {
		return notConfigured("generic inbound", "INBOUND_WEBHOOK_SECRET")
	}
	sig := r.Header.Get(httpchannel.SignatureHeader)
	if sig == "" && !s.cfg.Insecure {
		return fail(http.StatusForbidden, "missing %s header", httpchannel.SignatureHeader)
	}
	raw, e := readBody(w, r)
	if e != nil {
		return e
	}
	if !s.cfg.Insecure && !httpchannel.Verify(s.cfg.InboundSecret, raw, sig) {
		return fail(http.StatusForbidden, "invalid %s", httpchannel.SignatureHeader)
	}
	m, err := parseGeneric(raw, s.now())
	if err != nil {
		return badRequest(err)
	}
	if e := s.deliver(r.Context(), m); e != nil {
		return e
	}
	writeJSONOK(w)
	return nil
}

type genericMO struct {
	ID         string `json:"id"`
	From       string `json:"from"`
	To         string `json:"to"`
	Body       string `json:"body"`
	ReceivedAt string `json:"received_at"`
}

func parseGeneric(raw []byte, now time.Time) (contract.Inbound, error) {
	var mo genericMO
	if err := decodeJSON(raw, &mo); err != nil {
		return contract.Inbound{}, err
	}
	m := contract.Inbound{
		Provider:  string(contract.ProviderHTTP),
		MessageID: strings.TrimSpace(clean(mo.ID)),
		From:      strings.TrimSpace(clean(mo.From)),
		To:        strings.TrimSpace(clean(mo.To)),
		Body:      clean(mo.Body),
	}
	if err := missing([2]string{"id", m.MessageID}, [2]string{"from", m.From}, [2]string{"to", m.To}); err != nil {
		return contract.Inbound{}, err
	}
	var err error
	if m.ReceivedAt, err = parseTime("received_at", strings.TrimSpace(mo.ReceivedAt), now); err != nil {
		return contract.Inbound{}, err
	}
	return m, nil
}
