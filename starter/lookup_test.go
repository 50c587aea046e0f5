package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/internal/testkit"
)

// Printed UI links name the namespace the starter uses
// (TEMPORAL_NAMESPACE), not "default".
func TestUILinksNameTheNamespace(t *testing.T) {
	t.Setenv("TEMPORAL_NAMESPACE", "stopline")
	const want = "http://ui.test/namespaces/stopline/workflows"
	var out bytes.Buffer
	if err := printKey(&out, testkit.DevKeyer(), "+14155550101", "US", "http://ui.test"); err != nil {
		t.Fatal(err)
	}
	printSummary(&out, "audience.csv", "run1", "http://ui.test", &launch.Summary{})
	if got := strings.Count(out.String(), want+"?query="); got != 2 {
		t.Errorf("%d links to %s?query=, want 2:\n%s", got, want, out.String())
	}
	if got := uiWorkflows("http://ui.test"); got != want {
		t.Errorf("uiWorkflows = %q, want %q", got, want)
	}
}
