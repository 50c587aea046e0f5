package metrics

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
)

// SDKHandler returns the metrics handler to give the Temporal client. The
// SDK's own metrics (temporal_*) go through its OpenTelemetry handler and
// an OpenTelemetry Prometheus exporter into this Set's registry; timers
// become histograms in seconds. The domain counters that workflow code
// records through workflow.GetMetricsHandler (stopline_sms_total,
// stopline_replies_total) go to this Set's own counters, with their
// bounded labels only.
func (s *Set) SDKHandler() (client.MetricsHandler, error) {
	exporter, err := otelprom.New(otelprom.WithRegisterer(s.reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("metrics: temporal sdk exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter), sdkmetric.WithView(sdkmetric.NewView(
		sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram, Unit: "s"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: secondsBuckets}})))
	s.stopSDK = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = provider.Shutdown(ctx)
	}
	sdk := opentelemetry.NewMetricsHandler(opentelemetry.MetricsHandlerOptions{
		Meter:                provider.Meter("temporal-sdk-go"),
		UseMonotonicCounters: true, // counters, not up-down counters: Prometheus gets *_total
		OnError:              func(err error) { s.log.Warn("metrics: temporal sdk", "err", err) },
	})
	return router{next: sdk, domain: map[string]domainCounter{
		NameSMS:     {s.sms, smsFamily},
		NameReplies: {s.replies, repliesFamily},
	}}, nil
}

// domainCounter is a counter family workflow code records through the SDK.
type domainCounter struct {
	vec *prometheus.CounterVec
	family
}

// router sends the domain counters to their families and everything else
// to the SDK's handler. The SDK adds tags of its own (namespace, task
// queue, workflow type); a family takes only its own labels.
type router struct {
	next   client.MetricsHandler
	tags   map[string]string
	domain map[string]domainCounter
}

func (r router) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(r.tags)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, tags)
	return router{next: r.next.WithTags(tags), tags: merged, domain: r.domain}
}

func (r router) Counter(name string) client.MetricsCounter {
	d, ok := r.domain[name]
	if !ok {
		return r.next.Counter(name)
	}
	raw := make([]string, len(d.labels))
	for i, l := range d.labels {
		raw[i] = r.tags[l]
	}
	c := d.vec.WithLabelValues(d.values(raw...)...)
	return counterFunc(func(n int64) { c.Add(float64(n)) })
}

func (r router) Gauge(name string) client.MetricsGauge { return r.next.Gauge(name) }
func (r router) Timer(name string) client.MetricsTimer { return r.next.Timer(name) }

// Unwrap lets opentelemetry.ExtractMetricsHandler find the SDK's handler.
func (r router) Unwrap() client.MetricsHandler { return r.next }

type counterFunc func(int64)

func (f counterFunc) Inc(n int64) { f(n) }
