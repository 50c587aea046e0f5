package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Source answers the gauges read from Postgres at scrape time.
type Source interface {
	// RedriverBacklog is how many committed keyword signals wait for the
	// re-driver, and how long the oldest has waited since its commit.
	RedriverBacklog(ctx context.Context) (pending int, oldest time.Duration, err error)
	// ActiveJourneyCounts is how many journeys are registered as running,
	// by category.
	ActiveJourneyCounts(ctx context.Context) (map[string]int, error)
}

// scrapeTimeout bounds the Postgres reads of one scrape.
const scrapeTimeout = 5 * time.Second

// Watch reads src's gauges at every scrape.
func (s *Set) Watch(src Source) {
	if s == nil {
		return
	}
	s.reg.MustRegister(&gauges{src: src, set: s})
}

var (
	pendingDesc = prometheus.NewDesc(NameRedriverPending,
		"Committed keyword signals (STOP, START, HELP, ...) not yet delivered to the recipients' Recipient workflows.", nil, nil)
	oldestDesc = prometheus.NewDesc(NameRedriverOldest,
		"Seconds the oldest undelivered keyword signal has waited since its commit; 0 when none waits.", nil, nil)
	journeysDesc = prometheus.NewDesc(NameJourneysActive,
		"Journeys registered as running (active_journeys), by category.", journeysFamily.labels, nil)
)

type gauges struct {
	src Source
	set *Set
}

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- oldestDesc
	ch <- journeysDesc
}

// Collect reads the gauges; a source that fails leaves its gauges out of
// the scrape (so an alert on them sees no data, not a zero) and counts the
// error.
func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	if pending, oldest, err := g.src.RedriverBacklog(ctx); err != nil {
		g.failed("redriver", err)
	} else {
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(pending))
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, oldest.Seconds())
	}
	counts, err := g.src.ActiveJourneyCounts(ctx)
	if err != nil {
		g.failed("journeys", err)
		return
	}
	byLabel := map[string]int{}
	for c := range categories {
		byLabel[c] = 0 // every category is reported, 0 included
	}
	for c, n := range counts {
		byLabel[journeysFamily.values(c)[0]] += n
	}
	for c, n := range byLabel {
		ch <- prometheus.MustNewConstMetric(journeysDesc, prometheus.GaugeValue, float64(n), c)
	}
}

func (g *gauges) failed(source string, err error) {
	g.set.log.Warn("metrics: reading gauges from Postgres", "source", source, "err", err)
	g.set.sourceErrors.WithLabelValues(sourceFamily.values(source)...).Inc()
}
