// Package metrics is stopline's Prometheus instrumentation: the domain
// metrics (stopline_*), the Temporal SDK's own metrics (temporal_*, through
// the SDK's OpenTelemetry handler) and the /metrics handler serving both
// from one registry.
//
// Every label value passes through a fixed vocabulary, and anything outside
// it is reported as "other": no phone number, recipient key, message body or
// workflow ID can become a label. Counters count facts once: activities
// count after the provider's answer or the commit, and workflow code counts
// through workflow.GetMetricsHandler (see workflow.go), which records
// nothing while a workflow replays.
//
// All methods of a nil *Set do nothing, so code without metrics (unit
// tests, tools) needs no wiring.
package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stopline/stopline/internal/sms"
	"github.com/stopline/stopline/workflows/contract"
)

// Domain metric names.
const (
	NameInbound           = "stopline_inbound_total"
	NameOptOutCancel      = "stopline_optout_cancel_seconds"
	NameOptOutClosed      = "stopline_optout_closed_seconds"
	NameSMS               = "stopline_sms_total"
	NameProviderErrors    = "stopline_provider_errors_total"
	NameConsentCheck      = "stopline_consent_check_seconds"
	NameSend              = "stopline_send_seconds"
	NameRedriverPending   = "stopline_redriver_pending"
	NameRedriverOldest    = "stopline_redriver_oldest_seconds"
	NameJourneysActive    = "stopline_journeys_active"
	NameReplies           = "stopline_replies_total"
	NameMetricsSourceFail = "stopline_metrics_source_errors_total"
	NameSealFailures      = "stopline_seal_failures_total"
)

// Other is the label value of anything outside a label's vocabulary.
const Other = "other"

// Label vocabularies.
var (
	providers  = vocab(contract.Providers...)
	categories = vocab("marketing", "transactional", "opt_in_request")
	intents    = vocab("none", "opt_out", "opt_in", "help", "suggest_opt_out", "opt_in_pending", "confirm", IntentUnknown)
	rules      = vocab("none", "exact", "courtesy", "object", "typo", "phrase", "question", "unclear")

	inboundOutcomes = vocab(InboundCommitted, InboundDuplicate, InboundRejectedSignature, InboundMalformed, InboundUnavailable)
	smsOutcomes     = vocab(SMSSent, SMSSkippedOptedOut, SMSSkippedNotConfirmed, SMSSkippedInvalidNumber,
		SMSDeferredQuietHours, SMSDeferredCap, SMSWaitingProvider, SMSRunStopped, SMSUnknown, SMSFailed)
	replyKinds    = vocab("confirmation", "help", "opt_in", "clarification")
	replyOutcomes = vocab("sent", "provider_replied", "skipped_opted_out", "skipped_window_passed", "skipped_disabled", "skipped_erased", "unknown", "failed")
	checkOutcomes = vocab("allowed", "refused", "error")
	sourceNames   = vocab("redriver", "journeys", "provider_queues")
	sealTables    = []string{"inbound_messages", "consent_events"}
)

// Outcomes of an inbound webhook call.
const (
	InboundCommitted         = "committed"
	InboundDuplicate         = "duplicate"
	InboundRejectedSignature = "rejected_signature"
	InboundMalformed         = "malformed"
	InboundUnavailable       = "unavailable"
	// IntentUnknown is the intent of a refused call: it was never read.
	IntentUnknown = "unknown"
)

// Outcomes of a journey's SMS step. A step held back by quiet hours counts
// once as deferred_quiet_hours and again with its final outcome.
const (
	SMSSent                 = "sent"
	SMSSkippedOptedOut      = "skipped_opted_out"
	SMSSkippedNotConfirmed  = "skipped_not_confirmed"
	SMSSkippedInvalidNumber = "skipped_invalid_number"
	SMSDeferredQuietHours   = "deferred_quiet_hours"
	SMSDeferredCap          = "deferred_cap"     // frequency caps (issue 14)
	SMSWaitingProvider      = "waiting_provider" // no worker has the journey's provider (yet)
	SMSRunStopped           = "run_stopped"      // a stopped journey run (issue 15)
	SMSUnknown              = "unknown"          // the provider may or may not have it
	SMSFailed               = "failed"           // the send failed for good
)

// family is one labelled metric and the vocabulary of each label.
type family struct {
	labels []string
	vocabs []map[string]bool
}

// values maps raw label values to bounded ones, in label order.
func (f family) values(raw ...string) []string {
	out := make([]string, len(f.labels))
	for i := range f.labels {
		v := ""
		if i < len(raw) {
			v = raw[i]
		}
		out[i] = bounded(f.vocabs[i], v)
	}
	return out
}

func vocab[T ~string](words ...T) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[string(w)] = true
	}
	return m
}

func bounded(v map[string]bool, s string) string {
	if v[s] {
		return s
	}
	return Other
}

var (
	inboundFamily  = family{[]string{"provider", "intent", "rule", "outcome"}, []map[string]bool{providers, intents, rules, inboundOutcomes}}
	smsFamily      = family{[]string{"provider", "category", "outcome"}, []map[string]bool{providers, categories, smsOutcomes}}
	repliesFamily  = family{[]string{"kind", "outcome"}, []map[string]bool{replyKinds, replyOutcomes}}
	checkFamily    = family{[]string{"outcome"}, []map[string]bool{checkOutcomes}}
	sendFamily     = family{[]string{"provider"}, []map[string]bool{providers}}
	journeysFamily = family{[]string{"category"}, []map[string]bool{categories}}
	sourceFamily   = family{[]string{"source"}, []map[string]bool{sourceNames}}
	sealFamily     = family{[]string{"table"}, []map[string]bool{vocab(sealTables...)}}
)

// Latency buckets in seconds, from a fast commit to a slow provider.
var secondsBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Set is one process's metrics and the registry that serves them.
type Set struct {
	reg            *prometheus.Registry
	log            *slog.Logger
	inbound        *prometheus.CounterVec
	optOutCancel   prometheus.Histogram
	optOutClosed   prometheus.Histogram
	sms            *prometheus.CounterVec
	providerErrors *prometheus.CounterVec
	consentCheck   *prometheus.HistogramVec
	send           *prometheus.HistogramVec
	replies        *prometheus.CounterVec
	sourceErrors   *prometheus.CounterVec
	sealFailures   *prometheus.CounterVec

	stopSDK func() // shuts the SDK's meter provider down, if started
}

// New returns a Set registered in a registry of its own, with the Go
// runtime and process collectors.
func New(log *slog.Logger) *Set {
	if log == nil {
		log = slog.Default()
	}
	s := &Set{reg: prometheus.NewRegistry(), log: log}
	s.inbound = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameInbound,
		Help: "Inbound webhook calls: messages committed or redelivered (by intent and keyword rule), and calls refused."}, inboundFamily.labels)
	s.optOutCancel = prometheus.NewHistogram(prometheus.HistogramOpts{Name: NameOptOutCancel, Buckets: secondsBuckets,
		Help: "Seconds from a STOP's commit to the moment every running journey of the recipient in scope has been signalled."})
	s.optOutClosed = prometheus.NewHistogram(prometheus.HistogramOpts{Name: NameOptOutClosed, Buckets: secondsBuckets,
		Help: "Seconds from a STOP's commit to the moment the last running journey it signalled has closed (recorded its end in Postgres)."})
	s.sms = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameSMS,
		Help: "Journey SMS steps by outcome, counted once when the outcome is known."}, smsFamily.labels)
	s.providerErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameProviderErrors,
		Help: "Provider calls that failed, by provider error code (or http_<status>, no_answer, not_sent)."}, []string{"provider", "code"})
	s.consentCheck = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: NameConsentCheck, Buckets: secondsBuckets,
		Help: "Seconds a journey's consent check took, by outcome (allowed, refused, error)."}, checkFamily.labels)
	s.send = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: NameSend, Buckets: secondsBuckets,
		Help: "Seconds one provider call took, whatever its outcome."}, sendFamily.labels)
	s.replies = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameReplies,
		Help: "Replies to inbound keywords (confirmation, help, opt_in, clarification) by outcome."}, repliesFamily.labels)
	s.sourceErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameMetricsSourceFail,
		Help: "Scrapes whose gauges could not be read (from Postgres, or Temporal for provider_queues), by source."}, sourceFamily.labels)
	s.sealFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameSealFailures,
		Help: "Inbound messages and consent events committed without their texts, because the recipient's data key cannot be unwrapped (a PAYLOAD_KEYS entry is missing)."}, sealFamily.labels)
	for _, t := range sealTables { // served as 0 until it happens, for the alert
		s.sealFailures.WithLabelValues(t)
	}
	s.reg.MustRegister(s.inbound, s.optOutCancel, s.optOutClosed, s.sms, s.providerErrors, s.consentCheck, s.send, s.replies, s.sourceErrors, s.sealFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return s
}

// Registry is the registry /metrics serves.
func (s *Set) Registry() *prometheus.Registry { return s.reg }

// Handler serves the registry in the Prometheus text format. A collector
// that fails (Postgres down) drops its own metrics, not the others.
func (s *Set) Handler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, ErrorLog: promLog{s.log}})
}

// Close releases the SDK metrics pipeline.
func (s *Set) Close() {
	if s != nil && s.stopSDK != nil {
		s.stopSDK()
	}
}

type promLog struct{ log *slog.Logger }

func (l promLog) Println(v ...any) { l.log.Warn("metrics: " + fmt.Sprint(v...)) }

// Inbound counts a message the intake committed (or found already there).
func (s *Set) Inbound(provider, intent, rule string, inserted bool) {
	if s == nil {
		return
	}
	outcome := InboundCommitted
	if !inserted {
		outcome = InboundDuplicate
	}
	rule = strings.TrimSuffix(rule, "+signature_stripped") // still an exact (or typo, ...) match
	if rule == "" {
		rule = "none"
	}
	s.inbound.WithLabelValues(inboundFamily.values(provider, intent, rule, outcome)...).Inc()
}

// SealFailure counts a row of table committed without its texts, its
// recipient's data key being unreadable (store.Store.OnSealFailure).
func (s *Set) SealFailure(table string) {
	if s == nil {
		return
	}
	s.sealFailures.WithLabelValues(sealFamily.values(table)...).Inc()
}

// WebhookRefused counts a webhook call answered with an error status.
func (s *Set) WebhookRefused(provider string, status int) {
	if s == nil {
		return
	}
	s.inbound.WithLabelValues(inboundFamily.values(provider, IntentUnknown, "none", refusal(status))...).Inc()
}

func refusal(status int) string {
	switch {
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return InboundRejectedSignature
	case status >= 400 && status < 500:
		return InboundMalformed
	default:
		return InboundUnavailable
	}
}

// OptOutCancelled observes a STOP's cancellation once every running
// journey was signalled; a zero committed time (not a STOP) is ignored.
func (s *Set) OptOutCancelled(committed time.Time) {
	if s == nil || committed.IsZero() {
		return
	}
	s.optOutCancel.Observe(max(time.Since(committed).Seconds(), 0))
}

// OptOutClosed observes a STOP once the last journey it signalled closed.
func (s *Set) OptOutClosed(committed time.Time) {
	if s == nil || committed.IsZero() {
		return
	}
	s.optOutClosed.Observe(max(time.Since(committed).Seconds(), 0))
}

// ConsentChecked observes one consent check.
func (s *Set) ConsentChecked(took time.Duration, allowed bool, err error) {
	if s == nil {
		return
	}
	outcome := "refused"
	switch {
	case err != nil:
		outcome = "error"
	case allowed:
		outcome = "allowed"
	}
	s.consentCheck.WithLabelValues(checkFamily.values(outcome)...).Observe(took.Seconds())
}

// providerCalled observes one provider call and counts its error, if any.
func (s *Set) providerCalled(provider string, took time.Duration, err error) {
	if s == nil {
		return
	}
	s.send.WithLabelValues(sendFamily.values(provider)...).Observe(took.Seconds())
	if err != nil {
		s.providerErrors.WithLabelValues(bounded(providers, provider), errorCode(err)).Inc() // errorCode is bounded
	}
}

// errorCode is a bounded label for a provider error: the provider's
// numeric code, else the HTTP status, else whether a request left at all.
func errorCode(err error) string {
	var se *sms.Error
	switch {
	case !errors.As(err, &se):
		return "no_answer"
	case se.Code > 0 && se.Code < 1_000_000:
		return strconv.Itoa(se.Code)
	case se.HTTPStatus >= 100 && se.HTTPStatus < 600:
		return "http_" + strconv.Itoa(se.HTTPStatus)
	case se.NotSent:
		return "not_sent"
	}
	return "no_answer"
}
