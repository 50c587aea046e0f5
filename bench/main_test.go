package main

import (
	"slices"
	"testing"
)

// -temporal picks the rows: every scenario on the embedded server, or the
// scenarios that run on the official server once per worker count.
func TestRuns(t *testing.T) {
	for _, tt := range []struct {
		temporal, workers string
		only              map[string]bool
		want              []string
	}{
		{"embedded", "1,2", nil, []string{"journeys", "webhook", "consent", "starter", "scale", "counts", "preview"}},
		{"embedded", "1,2", map[string]bool{"counts": true}, []string{"counts"}},
		{"postgres", "1,2", nil, []string{"journeys (pg, 1 worker)", "journeys (pg, 2 workers)", "scale (pg, 1 worker)", "scale (pg, 2 workers)"}},
		{"postgres", "3", map[string]bool{"scale": true}, []string{"scale (pg, 3 workers)"}},
	} {
		cfg := &config{temporal: tt.temporal, only: tt.only}
		if err := parseTemporal(cfg, tt.workers); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range runs(cfg) {
			got = append(got, r.name)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("-temporal %s -workers %s -only %v: rows %q, want %q", tt.temporal, tt.workers, tt.only, got, tt.want)
		}
	}
}

func TestParseTemporalRefuses(t *testing.T) {
	for _, tt := range []struct{ temporal, workers string }{
		{"sqlite", "1"}, {"postgres", "0"}, {"postgres", "1,x"}, {"postgres", ""},
	} {
		if err := parseTemporal(&config{temporal: tt.temporal}, tt.workers); err == nil {
			t.Errorf("-temporal %q -workers %q: accepted", tt.temporal, tt.workers)
		}
	}
}

// Only the databases of bench and prodstack processes are dropped as stale,
// never another temporal_ database.
func TestStaleName(t *testing.T) {
	for name, pid := range map[string]string{
		"stopline_bench_123_journeys": "123",
		"temporal_456_1":              "456",
		"temporal_456_2_vis":          "456",
		"temporal":                    "",
		"temporal_visibility":         "",
		"temporal_456_1_prod":         "",
		"stopline_test_789_1_2":       "",
	} {
		m := staleName.FindStringSubmatch(name)
		got := ""
		if m != nil {
			got = m[1] + m[2]
		}
		if got != pid {
			t.Errorf("%s: pid %q, want %q", name, got, pid)
		}
	}
}
