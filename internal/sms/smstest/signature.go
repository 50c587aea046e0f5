package smstest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// TwilioSignature computes the X-Twilio-Signature header Twilio sends with a
// webhook: base64 HMAC-SHA1, keyed by the auth token, of the full URL Twilio
// called followed by each form key and value, sorted by key (and a repeated
// key's values sorted too, as Twilio's own libraries do).
//
// Tests use it to post signed inbound webhooks; it must agree with
// client.RequestValidator in twilio-go, which is what the webhook checks.
func TwilioSignature(authToken, fullURL string, form url.Values) string {
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range slices.Sorted(maps.Keys(form)) {
		for _, v := range slices.Sorted(slices.Values(form[k])) {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
