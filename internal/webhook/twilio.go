package webhook

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stopline/stopline/workflows/contract"
)

// emptyTwiML answers an inbound message without a reply: stopline sends its
// own confirmation, exactly once, through its sender.
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

const twilioSignatureHeader = "X-Twilio-Signature"

func (s *server) twilioInbound(w http.ResponseWriter, r *http.Request) *reqError {
	form, e := s.twilioForm(w, r)
	if e != nil {
		return e
	}
	m, err := parseTwilioInbound(form, s.now())
	if err != nil {
		return badRequest(err)
	}
	if e := s.deliver(r.Context(), m); e != nil {
		return e
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, emptyTwiML)
	return nil
}

func (s *server) twilioStatus(w http.ResponseWriter, r *http.Request) *reqError {
	form, e := s.twilioForm(w, r)
	if e != nil {
		return e
	}
	ev, err := parseTwilioStatus(form)
	if err != nil {
		return badRequest(err)
	}
	// Only an opt-out at the provider changes consent.
	if e := s.commit(r.Context(), ev.OptedOut(), func(ctx context.Context) error { return s.intake.Status(ctx, ev) }); e != nil {
		return e
	}
	s.log.InfoContext(r.Context(), "status callback accepted", "provider", ev.Provider, "message_id", ev.MessageID,
		"status", ev.MessageStatus, "error_code", ev.ErrorCode)
	w.WriteHeader(http.StatusOK)
	return nil
}

// twilioForm reads, parses and authenticates a Twilio form POST.
func (s *server) twilioForm(w http.ResponseWriter, r *http.Request) (url.Values, *reqError) {
	if s.cfg.TwilioAuthToken == "" && !s.cfg.Insecure {
		return nil, notConfigured(string(contract.ProviderTwilio), "TWILIO_AUTH_TOKEN")
	}
	if !s.knowsURL() && !s.cfg.Insecure {
		return nil, notConfigured(string(contract.ProviderTwilio), "PUBLIC_URL (or TRUST_PROXY=true behind a proxy)")
	}
	sig := r.Header.Get(twilioSignatureHeader)
	if sig == "" && !s.cfg.Insecure {
		return nil, fail(http.StatusForbidden, "missing %s header", twilioSignatureHeader)
	}
	raw, e := readBody(w, r)
	if e != nil {
		return nil, e
	}
	// Only the body: Twilio signs query parameters as part of the URL.
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, fail(http.StatusBadRequest, "invalid form body: %v", err)
	}
	// Twilio sends each field once. RequestValidator takes one value per key,
	// so a repeated key could be neither verified nor read unambiguously.
	params := make(map[string]string, len(form))
	for _, k := range slices.Sorted(maps.Keys(form)) {
		if len(form[k]) != 1 {
			return nil, fail(http.StatusBadRequest, "form field %.40q repeated", k)
		}
		params[k] = form[k][0]
	}
	if s.cfg.Insecure {
		return form, nil
	}
	u := s.signedURL(r)
	if !s.validTwilio(u, params, sig) {
		return nil, &reqError{status: http.StatusForbidden, msg: "invalid " + twilioSignatureHeader,
			detail: "checked against " + redactQuery(u) + " (set PublicURL, or TrustProxy behind a proxy, to the URL configured at Twilio)"}
	}
	return form, nil
}

// signedURL is the URL Twilio called: PublicURL if set, else the scheme
// and host the request (or, with TrustProxy, the proxy) reports, followed by
// the path and query as received.
func (s *server) signedURL(r *http.Request) string {
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") { // absolute-form or unset (tests)
		uri = r.URL.RequestURI()
	}
	if s.base != "" {
		return s.base + uri
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if s.cfg.TrustProxy {
		if p := strings.ToLower(forwarded(r.Header, "X-Forwarded-Proto", s.cfg.TrustProxyHops)); p == "http" || p == "https" {
			scheme = p
		}
		if h := forwarded(r.Header, "X-Forwarded-Host", s.cfg.TrustProxyHops); h != "" {
			host = h
		}
	}
	return scheme + "://" + host + uri
}

// knowsURL reports whether the signed URL comes from something the
// operator configured rather than from the request's Host header alone.
func (s *server) knowsURL() bool { return s.base != "" || s.cfg.TrustProxy || s.cfg.Dev }

// forwarded is the value the outermost of hops trusted proxies appended to
// a forwarding header: the hops-th from the right, over all its lines.
// Values to the left of it came from the client. With fewer values than
// hops, the trusted proxies did not all set it, and it is not used.
func forwarded(h http.Header, name string, hops int) string {
	var vals []string
	for _, line := range h.Values(name) {
		vals = append(vals, strings.Split(line, ",")...)
	}
	if len(vals) < hops {
		return ""
	}
	return strings.TrimSpace(vals[len(vals)-hops])
}

// validTwilio checks sig with twilio-go's RequestValidator, which accepts a
// signature made for the URL with or without its port. That is right for the
// scheme's default port (Twilio itself is inconsistent there) but would let a
// signature made for https://host/ pass on https://host:8443/; such a
// signature is refused.
func (s *server) validTwilio(u string, params map[string]string, sig string) bool {
	if !s.twilio.Validate(u, params, sig) {
		return false
	}
	p, err := url.Parse(u)
	if err != nil {
		return true // Validate compared against u as given only
	}
	port := p.Port()
	if port == "" || (p.Scheme == "https" && port == "443") || (p.Scheme == "http" && port == "80") {
		return true
	}
	// Build the port-less URL exactly as twilio-go does, so the check below
	// covers the variant it accepted.
	p.Host = strings.Split(p.Host, ":")[0]
	return !s.twilio.Validate(p.String(), params, sig)
}

// redactQuery drops the query, which may carry credentials, for logging.
func redactQuery(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?..."
	}
	return u
}

// parseTwilioInbound maps an authenticated inbound form to an Inbound.
// OptOutType is upper-cased; a value Twilio may add later passes through for
// keywords.FromTwilioOptOutType to ignore.
func parseTwilioInbound(f url.Values, now time.Time) (contract.Inbound, error) {
	m := contract.Inbound{
		Provider:            string(contract.ProviderTwilio),
		MessageID:           strings.TrimSpace(clean(f.Get("MessageSid"))),
		From:                strings.TrimSpace(clean(f.Get("From"))),
		To:                  strings.TrimSpace(clean(f.Get("To"))),
		Body:                clean(f.Get("Body")),
		OptOutType:          strings.ToUpper(strings.TrimSpace(clean(f.Get("OptOutType")))),
		MessagingServiceSID: strings.TrimSpace(clean(f.Get("MessagingServiceSid"))),
		ReceivedAt:          now,
	}
	if err := missing([2]string{"MessageSid", m.MessageID}, [2]string{"From", m.From}, [2]string{"To", m.To}); err != nil {
		return contract.Inbound{}, err
	}
	n, err := optionalInt("NumMedia", f.Get("NumMedia"))
	if err != nil {
		return contract.Inbound{}, err
	}
	if n < 0 {
		return contract.Inbound{}, fmt.Errorf("invalid NumMedia %d: negative", n)
	}
	m.NumMedia = n
	return m, nil
}

// parseTwilioStatus maps an authenticated status callback to a StatusEvent.
func parseTwilioStatus(f url.Values) (StatusEvent, error) {
	e := StatusEvent{
		Provider:            string(contract.ProviderTwilio),
		MessageID:           strings.TrimSpace(clean(f.Get("MessageSid"))),
		MessageStatus:       strings.TrimSpace(clean(f.Get("MessageStatus"))),
		To:                  strings.TrimSpace(clean(f.Get("To"))),
		From:                strings.TrimSpace(clean(f.Get("From"))),
		MessagingServiceSID: strings.TrimSpace(clean(f.Get("MessagingServiceSid"))),
	}
	if err := missing([2]string{"MessageSid", e.MessageID}, [2]string{"MessageStatus", e.MessageStatus}); err != nil {
		return StatusEvent{}, err
	}
	code, err := optionalInt("ErrorCode", f.Get("ErrorCode"))
	if err != nil {
		return StatusEvent{}, err
	}
	e.ErrorCode = code
	return e, nil
}

func optionalInt(field, v string) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("invalid %s %.40q: want an integer", field, v)
	}
	return n, nil
}
