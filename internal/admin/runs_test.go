package admin

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/internal/testkit"
)

// Run commands over HTTP: bad input names its field, an unknown run is
// refused (and left unknown) unless created, a stopped run refuses a
// resume, and every command is told to the journeys.
func TestRunCommands(t *testing.T) {
	t.Parallel()
	told := 0
	h := NewHandler(Config{Store: pgtest.NewStore(t), Keyer: testkit.DevKeyer(), Token: testToken,
		OnRun: func(_ context.Context, run store.Run) (int, error) { told++; return 3, nil }})
	auth := "Bearer " + testToken
	tests := []struct {
		name, method, target, body string
		status                     int
		want                       string // in the body
	}{
		{"stop an unknown run", "POST", "/v1/runs/sprnig/stop", "", 404, `run sprnig: no such run`},
		{"show an unknown run", "GET", "/v1/runs/sprnig", "", 404, `run sprnig: no such run`},
		{"pause before the start", "POST", "/v1/runs/spring/pause", `{"create": true}`, 200, `"state":"paused","changed":true,"signalled":3`},
		{"pause again, no body", "POST", "/v1/runs/spring/pause", "", 200, `"state":"paused","changed":false`},
		{"unknown field", "POST", "/v1/runs/spring/resume", `{"who": "ops"}`, 400, `unknown field \"who\"`},
		{"quote in run ID", "POST", `/v1/runs/a"b/stop`, "", 400, "run_id: must not contain spaces, quotes, slashes or backslashes"},
		{"note too long", "POST", "/v1/runs/spring/stop", `{"note": "` + strings.Repeat("n", 2000) + `"}`, 400, "note longer than"},
		{"stop", "POST", "/v1/runs/spring/stop", `{"by": "ops", "note": "wrong code"}`, 200, `"state":"stopped","changed":true`},
		{"resume a stopped run", "POST", "/v1/runs/spring/resume", "", 409, "a stopped run cannot be paused or resumed"},
		{"show", "GET", "/v1/runs/spring", "", 200, `{"command":"stop","from":"paused","to":"stopped","by":"ops","note":"wrong code"`},
	}
	for _, tt := range tests {
		rec := do(t, h, tt.method, tt.target, auth, tt.body)
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("%s: %d %s, want %d with %s", tt.name, rec.Code, rec.Body.String(), tt.status, tt.want)
		}
	}
	if told != 3 {
		t.Errorf("journeys told %d times, want 3 (once per committed command)", told)
	}
	if rec := do(t, h, "POST", "/v1/runs/spring/stop", "", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", rec.Code)
	}
}
