package smstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Credentials the fake Sinch accepts; obviously not real.
const (
	SinchServicePlanID = "00000000000000000000000000000000"
	SinchAPIToken      = "testtoken"
)

// FakeSinch is a fake of Sinch's SMS batches API:
//
//	POST /xms/v1/{service_plan_id}/batches
//
// It checks "Authorization: Bearer SinchAPIToken" and the service plan (401
// {"code":"unauthorized",...}). A batch answers 201 with Sinch's batch JSON,
// or 400 {"code":"syntax_invalid_parameter_format","text":"Invalid
// recipient '...'"} for a recipient that is not digits with an optional '+'
// (the text names the number), 400 syntax_constraint_violation for a missing
// to or body, and 403 {"code":"257","text":"User opted out (STOP)"} after
// OptOut. Real Sinch reports 257 in a delivery report rather than on the
// POST; the fake answers it synchronously so the sender's classification can
// be tested.
//
// Each recipient of an accepted batch is one Accepted, with the batch ID as
// SID. The Fake methods control it.
type FakeSinch struct {
	Fake
}

// NewFakeSinch starts a fake Sinch on 127.0.0.1. Close it when done.
func NewFakeSinch() *FakeSinch {
	f := &FakeSinch{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /xms/v1/{plan}/batches", f.create)
	f.start(mux)
	return f
}

var msisdn = regexp.MustCompile(`^\+?[0-9]{1,15}$`)

type sinchBatch struct {
	ID             string   `json:"id"`
	From           string   `json:"from,omitempty"`
	To             []string `json:"to"`
	Body           string   `json:"body"`
	Type           string   `json:"type"`
	Canceled       bool     `json:"canceled"`
	CreatedAt      string   `json:"created_at"`
	ModifiedAt     string   `json:"modified_at"`
	DeliveryReport string   `json:"delivery_report"`
	ExpireAt       string   `json:"expire_at"`
	FlashMessage   bool     `json:"flash_message"`
}

func (f *FakeSinch) create(w http.ResponseWriter, r *http.Request) {
	if !f.admit(r) {
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+SinchAPIToken || r.PathValue("plan") != SinchServicePlanID {
		writeCodeText(w, http.StatusUnauthorized, "unauthorized", "Invalid credentials")
		return
	}
	var req sinchBatch
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err := dec.Decode(&req); err != nil {
		writeCodeText(w, http.StatusBadRequest, "syntax_invalid_json", "The JSON in the request is invalid")
		return
	}

	if !f.lockUnlessFailing(w) {
		return
	}
	status, code, text := 0, "", ""
	switch {
	case len(req.To) == 0:
		status, code, text = 400, "syntax_constraint_violation", "to: must not be empty"
	case req.Body == "":
		status, code, text = 400, "syntax_constraint_violation", "body: must not be empty"
	}
	for _, to := range req.To {
		if status != 0 {
			break
		}
		switch {
		case !msisdn.MatchString(to):
			status, code, text = 400, "syntax_invalid_parameter_format", fmt.Sprintf("Invalid recipient '%s'", to)
		case f.optedOut[to]:
			status, code, text = 403, "257", "User opted out (STOP)"
		}
	}
	if status != 0 {
		f.mu.Unlock()
		writeCodeText(w, status, code, text)
		return
	}
	id := strings.ToUpper("01" + randomHex(12)) // ULID-like, as Sinch's are
	var at time.Time
	for _, to := range req.To {
		at = f.accept(Accepted{SID: id, To: to, From: req.From, Body: req.Body}).At
	}
	f.mu.Unlock()

	req.ID = id
	req.Type = "mt_text"
	req.CreatedAt = at.UTC().Format(time.RFC3339Nano)
	req.ModifiedAt = req.CreatedAt
	req.DeliveryReport = "none"
	req.ExpireAt = at.Add(72 * time.Hour).UTC().Format(time.RFC3339Nano)
	writeJSON(w, http.StatusCreated, req)
}

func writeCodeText(w http.ResponseWriter, status int, code, text string) {
	writeJSON(w, status, map[string]string{"code": code, "text": text})
}
