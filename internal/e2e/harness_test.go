// Package e2e runs stopline end to end on internal/stack: the embedded
// Temporal server, the real worker wiring (internal/app), a real Postgres
// and the real twilio-go client talking to a local fake Twilio. One
// Temporal server serves the whole package; each test gets its own
// database, task queue and fake.
package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/stack"
)

// temporal is the package's Temporal server and client.
var temporal *stack.Temporal

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	start := time.Now()
	var err error
	temporal, err = stack.StartTemporal(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: start embedded Temporal:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "e2e: embedded Temporal started in %v\n", time.Since(start).Round(time.Millisecond))
	code := m.Run()
	temporal.Close()
	os.Exit(code)
}

// env is one test's stopline; the e2e tests' own helpers are its methods.
type env struct{ *stack.Env }

// newEnv starts a stack on the package's Temporal server; adjust edits the
// app's configuration.
func newEnv(t *testing.T, adjust ...func(*app.Config)) *env {
	return newEnvWith(t, stack.Options{}, adjust...)
}

// newEnvWith is newEnv with stack options; the package's server serves
// unless o names another.
func newEnvWith(t *testing.T, o stack.Options, adjust ...func(*app.Config)) *env {
	t.Helper()
	if o.Temporal == nil {
		o.Temporal = temporal
	}
	return &env{stack.New(t, o, adjust...)}
}

// call sends an HTTP request with a bearer token ("" = none) and returns
// the status and body.
func call(t *testing.T, method, url, token string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
