package smstest

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/stopline/stopline/internal/sms/httpchannel"
)

// HTTPChannelSecret is the signing secret the fake HTTP channel checks.
const HTTPChannelSecret = "testsecret"

// FakeHTTPChannel is a fake receiver of the httpchannel protocol. It accepts
// POSTs on any path, checks the X-Stopline-Signature header against
// HTTPChannelSecret (401 {"code":"permanent",...}), and answers 201
// {"id":"msg_...","status":"accepted"}, or 422 {"code":"invalid_number"} for
// a "to" that is not '+' and digits (the message names the number), 400
// {"code":"permanent"} for a missing to or body, and 403
// {"code":"opted_out"} after OptOut. The Fake methods control it.
type FakeHTTPChannel struct {
	Fake
}

// NewFakeHTTPChannel starts a fake HTTP channel on 127.0.0.1. Point
// httpchannel.Config.URL at URL() and use HTTPChannelSecret.
func NewFakeHTTPChannel() *FakeHTTPChannel {
	f := &FakeHTTPChannel{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /", f.create)
	f.start(mux)
	return f
}

func (f *FakeHTTPChannel) create(w http.ResponseWriter, r *http.Request) {
	if !f.admit(r) {
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		writeChannelError(w, http.StatusBadRequest, httpchannel.CodePermanent, "unreadable body")
		return
	}
	if !httpchannel.Verify(HTTPChannelSecret, raw, r.Header.Get(httpchannel.SignatureHeader)) {
		writeChannelError(w, http.StatusUnauthorized, httpchannel.CodePermanent, "bad signature")
		return
	}
	var req httpchannel.Request
	if err := json.Unmarshal(raw, &req); err != nil {
		writeChannelError(w, http.StatusBadRequest, httpchannel.CodePermanent, "body is not JSON")
		return
	}

	if !f.lockUnlessFailing(w) {
		return
	}
	status, code, msg := 0, "", ""
	switch {
	case req.To == "" || req.Body == "":
		status, code, msg = http.StatusBadRequest, httpchannel.CodePermanent, "to and body are required"
	case !e164.MatchString(req.To):
		status, code, msg = http.StatusUnprocessableEntity, httpchannel.CodeInvalidNumber, "cannot send to "+req.To
	case f.optedOut[req.To]:
		status, code, msg = http.StatusForbidden, httpchannel.CodeOptedOut, "recipient opted out"
	}
	if status != 0 {
		f.mu.Unlock()
		writeChannelError(w, status, code, msg)
		return
	}
	a := f.accept(Accepted{SID: "msg_" + randomHex(12), To: req.To, From: req.From, Body: req.Body})
	f.mu.Unlock()

	writeJSON(w, http.StatusCreated, httpchannel.Response{ID: a.SID, Status: "accepted"})
}

func writeChannelError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, httpchannel.ErrorBody{Code: code, Message: msg})
}
