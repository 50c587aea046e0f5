package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// Provider send queue gauges.
const (
	NameProviderQueueBacklog = "stopline_provider_queue_backlog"
	NameProviderQueuePollers = "stopline_provider_queue_pollers"
)

// QueueStats is what Temporal says of one provider's send queue.
type QueueStats struct {
	Backlog int64 // activity tasks waiting for a worker (approximate)
	Pollers int   // workers that polled it recently
}

// QueueSource answers the provider send queue gauges at scrape time.
type QueueSource interface {
	// ProviderQueues describes the send queue of each provider, by
	// provider name.
	ProviderQueues(ctx context.Context) (map[string]QueueStats, error)
}

var (
	queueFamily = family{[]string{"provider"}, []map[string]bool{providers}}
	backlogDesc = prometheus.NewDesc(NameProviderQueueBacklog,
		"Sends and replies waiting in a provider's send queue for a worker that has the provider (approximate).", queueFamily.labels, nil)
	pollersDesc = prometheus.NewDesc(NameProviderQueuePollers,
		"Workers that recently polled a provider's send queue: 0 means no running worker has the provider's credentials.", queueFamily.labels, nil)
)

// WatchQueues reads src's provider queue gauges at every scrape.
func (s *Set) WatchQueues(src QueueSource) {
	if s == nil {
		return
	}
	s.reg.MustRegister(&queueGauges{src: src, set: s})
}

type queueGauges struct {
	src QueueSource
	set *Set
}

func (g *queueGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogDesc
	ch <- pollersDesc
}

// Collect leaves the gauges out when Temporal cannot answer (an alert on
// them sees no data, not a zero) and counts the error.
func (g *queueGauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	stats, err := g.src.ProviderQueues(ctx)
	if err != nil {
		g.set.log.Warn("metrics: describing the provider send queues", "err", err)
		g.set.sourceErrors.WithLabelValues(sourceFamily.values("provider_queues")...).Inc()
		return
	}
	for p, st := range stats {
		provider := queueFamily.values(p)
		ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(st.Backlog), provider...)
		ch <- prometheus.MustNewConstMetric(pollersDesc, prometheus.GaugeValue, float64(st.Pollers), provider...)
	}
}
