// Package deploy holds what an operator deploys next to stopline: the
// Grafana dashboard (grafana/stopline.json) and the Prometheus alert rules
// (prometheus/alerts.yml). Its tests check both with Prometheus's own
// promtool (Debian's prometheus package; .ci/run installs it). That every
// metric they name exists is checked end to end, in internal/e2e.
package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func promtool(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: install Debian's prometheus package (apt-get install prometheus), as .ci/run does")
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The rules load, and promtool's unit tests (prometheus/alerts_test.yml)
// show each alert firing on its failure and quiet on a healthy worker.
func TestAlertRules(t *testing.T) {
	promtool(t, "check", "rules", "prometheus/alerts.yml")
	promtool(t, "test", "rules", "prometheus/alerts_test.yml")
}

// Every query of the dashboard is valid PromQL: promtool checks each one as
// a recording rule, the dashboard's variables filled in.
func TestDashboardQueries(t *testing.T) {
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	raw, err := os.ReadFile("grafana/stopline.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("grafana/stopline.json: %v", err)
	}
	vars := strings.NewReplacer("$__rate_interval", "5m", "$job", "stopline")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			n++
			expr, _ := json.Marshal(vars.Replace(q.Expr)) // a JSON string is a YAML string
			fmt.Fprintf(&rules, "      - record: dashboard:query%d\n        expr: %s\n", n, expr)
		}
	}
	if dash.UID == "" || n == 0 {
		t.Fatalf("dashboard without uid or queries (%d)", n)
	}
	file := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := promtool(t, "check", "rules", file); !strings.Contains(out, fmt.Sprintf("%d rules found", n)) {
		t.Errorf("promtool checked fewer than the %d queries:\n%s", n, out)
	}
}
