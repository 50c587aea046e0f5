package testkit

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/stopline/stopline/internal/metrics"
)

// MetricsWorkflowEnv is a workflow test environment whose SDK metrics
// handler feeds a fresh metrics.Set, closed when the test ends.
func MetricsWorkflowEnv(t testing.TB) (*metrics.Set, *testsuite.TestWorkflowEnvironment) {
	t.Helper()
	set := metrics.New(slog.New(slog.DiscardHandler))
	t.Cleanup(set.Close)
	h, err := set.SDKHandler()
	if err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	s.SetMetricsHandler(h)
	return set, s.NewTestWorkflowEnvironment()
}

// Scrape returns the lines of set's /metrics page that start with prefix.
func Scrape(set *metrics.Set, prefix string) []string {
	rec := httptest.NewRecorder()
	set.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	var got []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, prefix) {
			got = append(got, l)
		}
	}
	return got
}
