package twilio

import (
	"context"
	"net/url"
	"strings"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/stopline/stopline/internal/sms"
)

const (
	// findPageSize is Twilio's default page size; one page normally covers
	// everything a recipient got from one sender since an unknown outcome.
	findPageSize = 50
	// findMaxPages bounds Find's work when a recipient has many recent
	// messages.
	findMaxPages = 5
)

// Find looks for a message like m created at or after since. It lists the
// recipient's messages from m.From (or, for a MessagingServiceSID message,
// all messages to m.To) and matches the body and sender client-side, because
// Twilio's list API filters neither by body nor by messaging service.
//
// Twilio's date_created has one-second resolution, so since is rounded down
// to the second. since is compared with Twilio's clock: callers should leave
// a few seconds of slack for clock skew.
func (s *Sender) Find(ctx context.Context, m sms.Message, since time.Time, claimed func(messageID string) (bool, error)) (sms.Result, bool, error) {
	if err := validate(m); err != nil {
		return sms.Result{}, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	api, ct := s.api(ctx)

	params := &openapi.ListMessageParams{}
	params.SetTo(m.To).SetPageSize(findPageSize)
	if m.MessagingServiceSID == "" {
		params.SetFrom(m.From)
	}
	floor := since.Truncate(time.Second)

	var pageToken, page string
	for range findMaxPages {
		resp, err := api.PageMessage(params, pageToken, page)
		if err == nil && !ct.ok() {
			err = errUnexpectedStatus // a 3xx that twilio-go let through
		}
		if err != nil {
			return sms.Result{}, false, classify(err, ct, m.To)
		}
		// Twilio lists most recent first, but the order is not promised for
		// messages that are still queued, so the whole page is checked and
		// paging stops only at a page that is entirely older than since.
		allOlder := true
		for _, msg := range resp.Messages {
			created, ok := parseTwilioTime(deref(msg.DateCreated))
			if !ok || created.Before(floor) {
				continue
			}
			allOlder = false
			if !matches(msg, m) {
				continue
			}
			if claimed != nil {
				taken, err := claimed(deref(msg.Sid))
				if err != nil {
					return sms.Result{}, false, err
				}
				if taken {
					continue
				}
			}
			return sms.Result{MessageID: deref(msg.Sid), Status: deref(msg.Status)}, true, nil
		}
		if allOlder || resp.NextPageUri == nil {
			break
		}
		pageToken, page = nextPage(*resp.NextPageUri)
		if pageToken == "" && page == "" {
			break
		}
	}
	return sms.Result{}, false, nil
}

// matches reports whether msg is the outbound message m. The list filters
// are checked again in case a gateway in front of Twilio ignores them.
func matches(msg openapi.ApiV2010Message, m sms.Message) bool {
	if strings.HasPrefix(deref(msg.Direction), "inbound") {
		return false
	}
	if deref(msg.To) != m.To || looseBody(deref(msg.Body)) != looseBody(m.Body) {
		return false
	}
	if m.MessagingServiceSID != "" {
		return deref(msg.MessagingServiceSid) == m.MessagingServiceSID
	}
	return deref(msg.From) == m.From
}

// smartEncoding undoes what Twilio's Smart Encoding does to a body (smart
// punctuation and odd spaces become GSM-7 characters), so the stored body
// of a message that went out still matches what stopline asked to send. A
// missed match would send the step a second time; a body that differs only
// in punctuation from another step's, to the same number within minutes, is
// the far smaller risk.
var smartEncoding = strings.NewReplacer(
	"‘", "'", "’", "'", "‚", "'", "‛", "'", "′", "'", "ʼ", "'",
	"“", `"`, "”", `"`, "„", `"`, "‟", `"`, "″", `"`, "«", `"`, "»", `"`,
	"–", "-", "—", "-", "‐", "-", "‑", "-", "‒", "-", "−", "-",
	"…", "...", "\u00a0", " ", "\u2009", " ", "\u200a", " ", "\u202f", " ", "\u3000", " ",
	"\u200b", "", "\ufeff", "", "\u00ad", "",
)

// looseBody is a body as compared by matches: smart encoding undone,
// whitespace runs collapsed and trimmed.
func looseBody(s string) string {
	return strings.Join(strings.Fields(smartEncoding.Replace(s)), " ")
}

// parseTwilioTime parses Twilio's RFC 2822 timestamps, e.g.
// "Thu, 30 Jul 2015 20:12:31 +0000".
func parseTwilioTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC1123Z, time.RFC1123} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// nextPage extracts the paging parameters from Twilio's next_page_uri,
// which PageMessage takes separately.
func nextPage(uri string) (pageToken, page string) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", ""
	}
	q := u.Query()
	return q.Get("PageToken"), q.Get("Page")
}
