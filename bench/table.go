package main

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
)

// row is one scenario's line. Empty cells print as "-".
type row struct {
	scenario string
	stopline string  // stopline's figure, with its unit
	baseline string  // the baseline's figure, with its unit
	ratio    float64 // stopline ÷ baseline as speed; NaN or 0 = none
	goal     string  // the goal from issue 5, e.g. "≥ 0.80"
	p50, p99 string  // "stopline / baseline"
	rss      string
	notes    string
}

type table struct{ rows []row }

func newTable() *table { return &table{} }

func (t *table) add(r row) { t.rows = append(t.rows, r) }

func (t *table) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tstopline\tbaseline\tratio\tgoal\tp50 stopline / base\tp99 stopline / base\tRSS\tnotes")
	for _, r := range t.rows {
		ratio := "-"
		if r.ratio > 0 && !math.IsNaN(r.ratio) && !math.IsInf(r.ratio, 0) {
			ratio = fmt.Sprintf("%.2f", r.ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.scenario, dash(r.stopline), dash(r.baseline), ratio,
			dash(r.goal), dash(r.p50), dash(r.p99), dash(r.rss), r.notes)
	}
	_ = tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
