package admin

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

// Config configures the admin HTTP API.
type Config struct {
	Store *store.Store
	Keyer phone.Keyer
	// Token is the bearer token every request must carry. Empty disables
	// the API: every request gets 503.
	Token string
	// Region reads phone numbers given without "+"; default "US", as the
	// starter's -region. A request may override it.
	Region string
	Logger *slog.Logger
	// OnChange, if set, is called after a change was committed; the worker
	// hands it to the recipient's Recipient workflow (workflows.TellRecipient),
	// which cancels running journeys at once. Without it they stop at their
	// next consent check, which sees the change.
	OnChange func(ctx context.Context, c contract.ConsentChange)
	// Senders maps program names and program senders to program scopes.
	Senders *senders.Registry
	// OnRun, if set, is called after a run command was committed; the
	// worker tells the run's journeys (workflows.TellRun) and returns how
	// many it signalled. Without it, sends still obey the run's state.
	OnRun func(ctx context.Context, run store.Run) (signalled int, err error)
	// Erase removes a forgotten recipient's workflows from Temporal; nil:
	// forget erases in Postgres only and says so.
	Erase Eraser
}

// NewHandler returns the admin API. Every request needs "Authorization:
// Bearer <token>" (401 without it or with another token); with no token
// configured every request gets 503. Routes:
//
//	POST /v1/consent/optout  {"phone", "scope", "note", "region"} -> opt-out from source admin
//	POST /v1/consent/optin   same body                            -> opt-in from source admin
//	POST /v1/consent/confirm same body                            -> confirmed double opt-in (a signed form, say)
//	GET  /v1/consent/{phone}?region=US                            -> states per scope and events
//	GET  /v1/consent/export?since=RFC3339                         -> CSV of events (see Export)
//	POST /v1/runs/{run_id}/pause   {"note", "by", "create"}       -> the run's journeys hold before their next send
//	POST /v1/runs/{run_id}/resume  same body                      -> they go on
//	POST /v1/runs/{run_id}/stop    same body                      -> they end stopped: run_stopped (final)
//	GET  /v1/runs/{run_id}                                        -> the run's state and its commands
//	(a run Postgres does not know: 404; "create": true commands it all the same)
//	POST /v1/consent/forget  {"phone", "by", "note", "region"}    -> erase the person, keep the opt-out (see Forget)
//
// phone and scope are required; scope "*" means every sender, as STOPALL.
// There is deliberately no default scope: an operator acting on "the"
// sender by accident would silence or re-enable more than intended. In GET
// /v1/consent/{phone}, {phone} may also be a recipient key ("r" and 32 hex
// digits), which keeps numbers out of proxies' access logs.
//
// Errors are JSON, {"error": "phone: required"}, and name the field.
// Responses never echo a phone number back, and logs show it masked.
func NewHandler(cfg Config) http.Handler {
	if cfg.Region == "" {
		cfg.Region = "US"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &handler{cfg: cfg, mux: http.NewServeMux()}
	if cfg.Token != "" {
		sum := sha256.Sum256([]byte(cfg.Token))
		h.tokenHash = sum[:]
	}
	h.mux.HandleFunc("POST /v1/consent/optout", h.change(contract.OptedOut))
	h.mux.HandleFunc("POST /v1/consent/optin", h.change(contract.OptedIn))
	h.mux.HandleFunc("POST /v1/consent/confirm", h.change(contract.OptInConfirmed))
	h.mux.HandleFunc("GET /v1/consent/export", h.export)
	h.mux.HandleFunc("POST /v1/consent/forget", h.forget)
	h.mux.HandleFunc("POST /v1/consent/lookup", h.lookup)
	h.mux.HandleFunc("GET /v1/consent/{key}", h.show)
	h.mux.HandleFunc("POST /v1/runs/{run}/pause", h.runCommand(contract.RunPaused))
	h.mux.HandleFunc("POST /v1/runs/{run}/resume", h.runCommand(contract.RunRunning))
	h.mux.HandleFunc("POST /v1/runs/{run}/stop", h.runCommand(contract.RunStopped))
	h.mux.HandleFunc("GET /v1/runs/{run}", h.showRun)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return h
}

type handler struct {
	cfg       Config
	tokenHash []byte
	mux       *http.ServeMux
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Consent data is personal: no cache may keep it.
	w.Header().Set("Cache-Control", "no-store")
	if h.tokenHash == nil {
		writeError(w, http.StatusServiceUnavailable, "admin API disabled: set ADMIN_TOKEN")
		return
	}
	if msg, ok := h.authorize(r); !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="stopline-admin"`)
		writeError(w, http.StatusUnauthorized, msg)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorize checks the bearer token. Both sides are hashed before the
// constant-time comparison, which would otherwise return early on a length
// mismatch and so leak the token's length.
func (h *handler) authorize(r *http.Request) (string, bool) {
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "missing bearer token: send Authorization: Bearer <ADMIN_TOKEN>", false
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], h.tokenHash) != 1 {
		return "invalid bearer token", false
	}
	return "", true
}

// ChangeResponse answers optout and optin. Changed is false when the
// recipient was already in that state (no event is added).
type ChangeResponse struct {
	RecipientKey string                `json:"recipient_key"`
	Scope        string                `json:"scope"`
	State        contract.ConsentState `json:"state"`
	Changed      bool                  `json:"changed"`
}

// maxBody bounds a request body; a change request is a few hundred bytes.
const maxBody = 64 << 10

// readJSON decodes a body of one JSON object into v, answering 400 (and
// reporting false) when it is not one.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, jsonError(err))
		return false
	}
	if dec.Decode(&struct{}{}) != io.EOF {
		writeError(w, http.StatusBadRequest, "invalid JSON body: more than one object")
		return false
	}
	return true
}

func (h *handler) change(to contract.ConsentState) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req ChangeRequest
		if !readJSON(w, r, &req) {
			return
		}
		if req.Region == "" {
			req.Region = h.cfg.Region
		}
		res, err := SetConsent(r.Context(), h.cfg.Store, h.cfg.Keyer, h.cfg.Senders, req, to)
		if err != nil {
			h.fail(w, "admin consent change", err)
			return
		}
		c, changed := res.Change, res.Changed
		h.cfg.Logger.Info("admin consent change", "phone", phone.Mask(res.Phone), "recipient_key", c.RecipientKey,
			"scope", c.Scope, "state", string(to), "changed", changed)
		if changed && h.cfg.OnChange != nil {
			// The change is committed: finish even if the client has gone.
			h.cfg.OnChange(context.WithoutCancel(r.Context()), c)
		}
		writeJSON(w, http.StatusOK, ChangeResponse{RecipientKey: c.RecipientKey, Scope: c.Scope, State: to, Changed: changed})
	}
}

// runCommand answers once the command is committed and the journeys were
// told: 200 with a RunResult, 409 for a pause or resume of a stopped run,
// 404 for a run Postgres does not know (unless the body says create).
func (h *handler) runCommand(to contract.RunState) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req RunRequest
		if r.ContentLength != 0 && !readJSON(w, r, &req) { // the body is optional
			return
		}
		req.RunID, req.By = r.PathValue("run"), cmp.Or(strings.TrimSpace(req.By), "admin-api")
		res, err := SetRun(r.Context(), h.cfg.Store, req, to)
		switch {
		case errors.Is(err, ErrRunStopped):
			writeError(w, http.StatusConflict, "run "+req.RunID+": "+err.Error())
			return
		case errors.Is(err, ErrRunUnknown):
			writeError(w, http.StatusNotFound, err.Error()+`; check the run ID, or give {"create": true} to command a run before it starts`)
			return
		case err != nil:
			h.fail(w, "admin run command", err)
			return
		}
		if h.cfg.OnRun != nil {
			// Committed: finish telling the journeys even if the client has gone.
			n, err := h.cfg.OnRun(context.WithoutCancel(r.Context()), res.Committed)
			res.Signalled = n
			if err != nil {
				h.cfg.Logger.Warn("admin run command: signalling journeys", "run", res.RunID, "err", err)
				res.SignalError = "some journeys were not told at once; they obey the run at their next send. " + err.Error()
			}
		}
		h.cfg.Logger.Info("admin run command", "run", res.RunID, "state", string(to), "changed", res.Changed, "by", req.By, "signalled", res.Signalled)
		writeJSON(w, http.StatusOK, res)
	}
}

func (h *handler) showRun(w http.ResponseWriter, r *http.Request) {
	view, err := LookupRun(r.Context(), h.cfg.Store, r.PathValue("run"))
	if errors.Is(err, ErrRunUnknown) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		h.fail(w, "admin run show", err)
		return
	}
	writeJSON(w, http.StatusOK, view)
}

func (h *handler) forget(w http.ResponseWriter, r *http.Request) {
	var req ForgetRequest
	if !readJSON(w, r, &req) {
		return
	}
	req.Region = cmp.Or(req.Region, h.cfg.Region)
	tell := h.cfg.OnChange
	// Once the erasure has begun, finish it even if the client has gone.
	res, err := Forget(context.WithoutCancel(r.Context()), h.cfg.Store, h.cfg.Keyer, req, tell, h.cfg.Erase)
	if err != nil {
		h.fail(w, "admin consent forget", err)
		return
	}
	h.cfg.Logger.Info("admin consent forget", "phone", phone.Mask(res.phone), "recipient_key", res.RecipientKey, "by", req.By,
		"opted_out", res.OptedOut, "data_key_destroyed", res.DataKeyDestroyed, "journeys_cancelled", res.JourneysCancelled,
		"executions_deleted", res.ExecutionsDeleted, "temporal_error", res.TemporalError)
	writeJSON(w, http.StatusOK, res)
}

// LookupRequest names a recipient by phone number (or recipient key) in
// a POST body, which proxies do not log, unlike a URL.
type LookupRequest struct {
	Phone  string `json:"phone"`
	Region string `json:"region"` // reads Phone when it has no "+"; default as ChangeRequest
}

func (h *handler) lookup(w http.ResponseWriter, r *http.Request) {
	var req LookupRequest
	if !readJSON(w, r, &req) {
		return
	}
	key, err := RecipientKey(h.cfg.Keyer, req.Phone, cmp.Or(req.Region, h.cfg.Region))
	if err != nil {
		h.fail(w, "admin consent lookup", err)
		return
	}
	h.writeView(w, r, key)
}

// show answers a GET by recipient key only: a phone number in a URL would
// end up in access logs.
func (h *handler) show(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if !recipientKeyRE.MatchString(key) {
		writeError(w, http.StatusBadRequest, "want a recipient key in the URL; look a phone number up with POST /v1/consent/lookup {\"phone\": ...}")
		return
	}
	h.writeView(w, r, key)
}

func (h *handler) writeView(w http.ResponseWriter, r *http.Request, key string) {
	resp, err := Lookup(r.Context(), h.cfg.Store, key)
	if err != nil {
		h.fail(w, "admin consent show", err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *handler) export(w http.ResponseWriter, r *http.Request) {
	var since time.Time
	if s := r.URL.Query().Get("since"); s != "" {
		var err error
		if since, err = time.Parse(time.RFC3339, s); err != nil {
			writeError(w, http.StatusBadRequest, "since: want an RFC 3339 time such as 2026-01-02T15:04:05Z")
			return
		}
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="consent-events.csv"`)
	cw := &countingWriter{w: w}
	if err := Export(r.Context(), h.cfg.Store, cw, since); err != nil {
		if cw.n == 0 {
			w.Header().Del("Content-Disposition")
			h.fail(w, "admin consent export", err)
			return
		}
		// Too late for an error status: abort the response so the client
		// sees a broken transfer, not a short file that looks complete.
		h.cfg.Logger.Error("admin consent export", "err", err)
		panic(http.ErrAbortHandler)
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// fail answers 400 with an InputError's text, else 500, logging the cause:
// the store's errors name keys and scopes at most, never phone numbers.
func (h *handler) fail(w http.ResponseWriter, what string, err error) {
	if msg, ok := errors.AsType[InputError](err); ok {
		writeError(w, http.StatusBadRequest, string(msg))
		return
	}
	h.cfg.Logger.Error(what, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error: consent store unavailable")
}

// jsonError turns a decoding error into a message naming the field.
func jsonError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return fmt.Sprintf("%s: want a %s, got %s", typeErr.Field, typeErr.Type, typeErr.Value)
	case errors.As(err, &maxErr):
		return fmt.Sprintf("request body larger than %d bytes", maxErr.Limit)
	case errors.Is(err, io.EOF):
		return `invalid JSON body: empty (want {"phone": ..., "scope": ...})`
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "invalid JSON body: " + err.Error()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // read by people and scripts, never embedded in HTML
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
