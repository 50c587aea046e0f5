package smstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Credentials the fake Twilio accepts. They are alphanumeric, as twilio-go
// requires, and obviously not real.
const (
	AccountSID = "AC00000000000000000000000000000000"
	AuthToken  = "testtoken"
)

// FakeTwilio is a fake of Twilio's Messages API (2010-04-01), enough for
// twilio-go's CreateMessage, PageMessage/ListMessage and FetchMessage:
//
//	POST /2010-04-01/Accounts/{AccountSid}/Messages.json         create
//	GET  /2010-04-01/Accounts/{AccountSid}/Messages.json         list, most recent first
//	GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json   fetch
//
// It checks HTTP basic auth against AccountSID and AuthToken (401, code
// 20003). A create answers 201 with Twilio's message JSON, status "queued"
// (or "accepted" with a MessagingServiceSid), or 400 with Twilio's error
// JSON: 21211 for a To that is not '+' and digits (the message names the
// number, as Twilio's does), 21604/21603/21602 for a missing To/From/Body,
// 21610 after OptOut. The list filters by To and From, pages by PageSize
// and Page, and ignores date filters.
//
// The Fake methods (URL, Close, Accepted, OptOut, OptIn, Fail, SetDelay,
// Calls) and FailAfterAccept control it.
type FakeTwilio struct {
	Fake
	lostAnswers []failure // see FailAfterAccept; guarded by Fake.mu
}

// FailAfterAccept makes the next n create-message calls that would succeed
// accept the message and then answer status with body, like a gateway in
// front of Twilio that gave up after Twilio took the message.
func (f *FakeTwilio) FailAfterAccept(n int, status int, body string) {
	f.enqueue(&f.lostAnswers, n, status, body)
}

// NewFakeTwilio starts a fake Twilio on 127.0.0.1. Close it when done.
func NewFakeTwilio() *FakeTwilio {
	f := &FakeTwilio{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", f.create)
	mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Messages.json", f.list)
	mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Messages/{file}", f.fetch)
	f.start(mux)
	return f
}

var e164 = regexp.MustCompile(`^\+[0-9]{1,15}$`)

func (f *FakeTwilio) create(w http.ResponseWriter, r *http.Request) {
	if !f.admit(r) {
		return
	}
	if !twilioAuthorized(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	if err := r.ParseForm(); err != nil {
		writeTwilioError(w, http.StatusBadRequest, 20001, "could not parse the request body")
		return
	}
	a := Accepted{
		To:                  r.PostForm.Get("To"),
		From:                r.PostForm.Get("From"),
		MessagingServiceSID: r.PostForm.Get("MessagingServiceSid"),
		Body:                r.PostForm.Get("Body"),
	}

	if !f.lockUnlessFailing(w) {
		return
	}
	code, msg := 0, ""
	switch {
	case a.To == "":
		code, msg = 21604, "A 'To' phone number is required."
	case !e164.MatchString(a.To):
		code, msg = 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", a.To)
	case a.From == "" && a.MessagingServiceSID == "":
		code, msg = 21603, "A 'From' or 'MessagingServiceSid' parameter is required."
	case a.Body == "":
		code, msg = 21602, "Message body is required."
	case f.optedOut[a.To]:
		code, msg = 21610, "Attempt to send to unsubscribed recipient"
	}
	if code != 0 {
		f.mu.Unlock()
		writeTwilioError(w, http.StatusBadRequest, code, msg)
		return
	}
	a.SID = "SM" + randomHex(16)
	a = f.accept(a)
	lost, answerLost := pop(&f.lostAnswers)
	f.mu.Unlock()

	if answerLost {
		writeFailure(w, lost)
		return
	}
	f.pauseReply(r)
	writeJSON(w, http.StatusCreated, twilioMessageJSON(a))
}

func (f *FakeTwilio) list(w http.ResponseWriter, r *http.Request) {
	if !twilioAuthorized(w, r) {
		return
	}
	q := r.URL.Query()
	to, from := q.Get("To"), q.Get("From")
	pageSize := 50
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeTwilioError(w, http.StatusBadRequest, 20001, "PageSize must be between 1 and 1000")
			return
		}
		pageSize = n
	}
	page := 0
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeTwilioError(w, http.StatusBadRequest, 20001, "Page must be a non-negative integer")
			return
		}
		page = n
	}

	var matched []Accepted
	for _, a := range slices.Backward(f.Accepted()) { // most recent first
		if (to == "" || a.To == to) && (from == "" || a.From == from) {
			matched = append(matched, a)
		}
	}
	start := min(page*pageSize, len(matched))
	end := min(start+pageSize, len(matched))

	pageURI := func(p int) string {
		v := url.Values{}
		if to != "" {
			v.Set("To", to)
		}
		if from != "" {
			v.Set("From", from)
		}
		v.Set("PageSize", strconv.Itoa(pageSize))
		v.Set("Page", strconv.Itoa(p))
		if p > 0 {
			v.Set("PageToken", "PA"+strconv.Itoa(p*pageSize))
		}
		return messagesPath + "?" + v.Encode()
	}
	var next, prev *string
	if end < len(matched) {
		s := pageURI(page + 1)
		next = &s
	}
	if page > 0 {
		s := pageURI(page - 1)
		prev = &s
	}
	msgs := make([]twilioMessage, 0, end-start)
	for _, a := range matched[start:end] {
		msgs = append(msgs, twilioMessageJSON(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"messages":          msgs,
		"first_page_uri":    pageURI(0),
		"next_page_uri":     next,
		"previous_page_uri": prev,
		"page":              page,
		"page_size":         pageSize,
		"start":             start,
		"end":               max(end-1, start),
		"uri":               r.URL.RequestURI(),
	})
}

func (f *FakeTwilio) fetch(w http.ResponseWriter, r *http.Request) {
	if !twilioAuthorized(w, r) {
		return
	}
	sid, ok := strings.CutSuffix(r.PathValue("file"), ".json")
	if ok {
		for _, a := range f.Accepted() {
			if a.SID == sid {
				writeJSON(w, http.StatusOK, twilioMessageJSON(a))
				return
			}
		}
	}
	writeTwilioError(w, http.StatusNotFound, 20404, "The requested resource was not found")
}

const messagesPath = "/2010-04-01/Accounts/" + AccountSID + "/Messages.json"

// twilioAuthorized checks basic auth and the account in the path, answering
// as Twilio does when they are wrong.
func twilioAuthorized(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok || user != AccountSID || pass != AuthToken {
		writeTwilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return false
	}
	if r.PathValue("sid") != AccountSID {
		writeTwilioError(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return false
	}
	return true
}

// twilioMessage is Twilio's Message resource JSON; pointers are JSON nulls.
type twilioMessage struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                *string           `json:"from"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

func twilioMessageJSON(a Accepted) twilioMessage {
	// Twilio's dates are RFC 2822 in GMT, to the second.
	date := a.At.UTC().Format(time.RFC1123Z)
	uri := "/2010-04-01/Accounts/" + AccountSID + "/Messages/" + a.SID
	m := twilioMessage{
		AccountSID:      AccountSID,
		APIVersion:      "2010-04-01",
		Body:            a.Body,
		DateCreated:     date,
		DateUpdated:     date,
		Direction:       "outbound-api",
		NumMedia:        "0",
		NumSegments:     "1",
		PriceUnit:       "USD",
		SID:             a.SID,
		Status:          "queued",
		SubresourceURIs: map[string]string{"media": uri + "/Media.json"},
		To:              a.To,
		URI:             uri + ".json",
	}
	if a.From != "" {
		m.From = &a.From
	}
	if a.MessagingServiceSID != "" {
		// Twilio picks the sender later, so from is null and the status
		// is "accepted" until then.
		m.MessagingServiceSID = &a.MessagingServiceSID
		m.Status = "accepted"
	}
	return m
}

func writeTwilioError(w http.ResponseWriter, status, code int, message string) {
	writeJSON(w, status, map[string]any{
		"code":      code,
		"message":   message,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
		"status":    status,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
