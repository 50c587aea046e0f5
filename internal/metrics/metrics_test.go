package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stopline/stopline/internal/sms"
)

func newSet(t *testing.T) *Set {
	t.Helper()
	s := New(slog.New(slog.DiscardHandler))
	t.Cleanup(s.Close)
	return s
}

// scrape returns what GET /metrics serves.
func scrape(t *testing.T, s *Set) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// Label values outside the vocabularies, PII among them, become "other".
func TestLabelsAreBounded(t *testing.T) {
	const pii = "+14155550123"
	cases := []struct {
		name   string
		record func(s *Set)
		want   string // a line of the scrape
	}{
		{"inbound known", func(s *Set) { s.Inbound("twilio", "opt_out", "courtesy", true) },
			`stopline_inbound_total{intent="opt_out",outcome="committed",provider="twilio",rule="courtesy"} 1`},
		{"inbound redelivered, signature stripped", func(s *Set) { s.Inbound("sinch", "help", "exact+signature_stripped", false) },
			`stopline_inbound_total{intent="help",outcome="duplicate",provider="sinch",rule="exact"} 1`},
		{"inbound PII everywhere", func(s *Set) { s.Inbound(pii, pii, pii, true) },
			`stopline_inbound_total{intent="other",outcome="committed",provider="other",rule="other"} 1`},
		{"no rule", func(s *Set) { s.Inbound("http", "none", "", true) },
			`stopline_inbound_total{intent="none",outcome="committed",provider="http",rule="none"} 1`},
		{"refused 403", func(s *Set) { s.WebhookRefused("twilio", 403) },
			`stopline_inbound_total{intent="unknown",outcome="rejected_signature",provider="twilio",rule="none"} 1`},
		{"refused 413", func(s *Set) { s.WebhookRefused("twilio", 413) },
			`stopline_inbound_total{intent="unknown",outcome="malformed",provider="twilio",rule="none"} 1`},
		{"refused 503", func(s *Set) { s.WebhookRefused("sinch", 503) },
			`stopline_inbound_total{intent="unknown",outcome="unavailable",provider="sinch",rule="none"} 1`},
		{"consent error", func(s *Set) { s.ConsentChecked(time.Millisecond, false, errors.New("down")) },
			`stopline_consent_check_seconds_count{outcome="error"} 1`},
		{"consent refused", func(s *Set) { s.ConsentChecked(time.Millisecond, false, nil) },
			`stopline_consent_check_seconds_count{outcome="refused"} 1`},
		{"provider error code", func(s *Set) { s.providerCalled(pii, time.Second, &sms.Error{Code: 20429, HTTPStatus: 429}) },
			`stopline_provider_errors_total{code="20429",provider="other"} 1`},
		{"send timed", func(s *Set) { s.providerCalled("twilio", 2*time.Second, nil) },
			`stopline_send_seconds_bucket{provider="twilio",le="2.5"} 1`},
		{"STOP cancelled", func(s *Set) { s.OptOutCancelled(time.Now().Add(-300 * time.Millisecond)) },
			`stopline_optout_cancel_seconds_bucket{le="0.5"} 1`},
		{"not a STOP", func(s *Set) { s.OptOutCancelled(time.Time{}) },
			`stopline_optout_cancel_seconds_count 0`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSet(t)
			c.record(s)
			out := scrape(t, s)
			if !strings.Contains(out, c.want+"\n") {
				t.Errorf("scrape lacks %q:\n%s", c.want, grep(out, "stopline_"))
			}
			if strings.Contains(out, pii) {
				t.Errorf("PII in a label:\n%s", grep(out, pii))
			}
		})
	}
}

func grep(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestErrorCode(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&sms.Error{Code: 21610, HTTPStatus: 400}, "21610"},
		{&sms.Error{HTTPStatus: 503}, "http_503"},
		{&sms.Error{NotSent: true}, "not_sent"},
		{&sms.Error{}, "no_answer"},
		{&sms.Error{Code: -1, HTTPStatus: 99999}, "no_answer"}, // out of range: no free-form label
		{context.DeadlineExceeded, "no_answer"},
	}
	for _, c := range cases {
		if got := errorCode(c.err); got != c.want {
			t.Errorf("errorCode(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestOutcomes(t *testing.T) {
	sends := []struct{ status, reason, want string }{
		{"sent", "", SMSSent},
		{"unknown", "earlier_attempt_unresolved", SMSUnknown},
		{"skipped", "opted_out", SMSSkippedOptedOut},
		{"skipped", "opted_out_at_provider", SMSSkippedOptedOut},
		{"skipped", "", SMSSkippedOptedOut}, // decisions from before reasons were opt-outs
		{"skipped", "not_confirmed", SMSSkippedNotConfirmed},
		{"skipped", "invalid_number", SMSSkippedInvalidNumber},
		{"skipped", "run_stopped", SMSRunStopped},
		{"skipped", "something new", Other},
	}
	for _, c := range sends {
		if got := SendOutcome(c.status, c.reason); got != c.want {
			t.Errorf("SendOutcome(%q, %q) = %q, want %q", c.status, c.reason, got, c.want)
		}
	}
	replies := []struct{ intent, reply, kind, outcome string }{
		{"opt_out", "sent", "confirmation", "sent"},
		{"opt_out_all", "provider replied", "confirmation", "provider_replied"},
		{"help", "failed", "help", "failed"},
		{"opt_in_pending", "skipped: opted_out", "opt_in", "skipped_opted_out"},
		{"confirm", "skipped: confirmation_window_passed", "opt_in", "skipped_window_passed"},
		{"suggest_opt_out", "skipped: reply_disabled", "clarification", "skipped_disabled"},
		{"help", "skipped: recipient_erased", "help", "skipped_erased"},
		{"help", "skipped: earlier_attempt_unresolved", "help", "unknown"},
		{"none", "skipped: ???", Other, Other},
	}
	for _, c := range replies {
		if k, o := replyKind(c.intent), replyOutcome(c.reply); k != c.kind || o != c.outcome {
			t.Errorf("reply to %q %q = %q %q, want %q %q", c.intent, c.reply, k, o, c.kind, c.outcome)
		}
	}
}

// The SDK's metrics come out with Prometheus names (counters *_total, timers
// histograms in seconds); the domain counters workflow code records through
// the SDK land in their own families with their own labels only.
func TestSDKHandler(t *testing.T) {
	s := newSet(t)
	h, err := s.SDKHandler()
	if err != nil {
		t.Fatal(err)
	}
	// As the SDK tags a workflow's handler.
	wf := h.WithTags(map[string]string{"namespace": "default", "task_queue": "q", "workflow_type": "Journey"})
	wf.Counter("temporal_workflow_completed").Inc(1)
	wf.Timer("temporal_workflow_task_schedule_to_start_latency").Record(30 * time.Millisecond)
	wf.Gauge("temporal_num_pollers").Update(8)
	wf.WithTags(map[string]string{"provider": "twilio", "category": "marketing", "outcome": SMSSent}).Counter(NameSMS).Inc(1)
	wf.WithTags(map[string]string{"provider": "+14155550123", "outcome": SMSSent}).Counter(NameSMS).Inc(2)
	wf.WithTags(map[string]string{"kind": "help", "outcome": "sent"}).Counter(NameReplies).Inc(1)

	out := scrape(t, s)
	for _, want := range []string{
		`temporal_workflow_completed_total{namespace="default",task_queue="q",workflow_type="Journey"} 1`,
		`temporal_workflow_task_schedule_to_start_latency_seconds_bucket{namespace="default",task_queue="q",workflow_type="Journey",le="0.05"} 1`,
		`temporal_num_pollers{namespace="default",task_queue="q",workflow_type="Journey"} 8`,
		`stopline_sms_total{category="marketing",outcome="sent",provider="twilio"} 1`,
		`stopline_sms_total{category="other",outcome="sent",provider="other"} 2`,
		`stopline_replies_total{kind="help",outcome="sent"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %q:\n%s", want, grep(out, "_"))
		}
	}
}

type fakeSource struct {
	pending int
	oldest  time.Duration
	counts  map[string]int
	err     error
}

func (f fakeSource) RedriverBacklog(context.Context) (int, time.Duration, error) {
	return f.pending, f.oldest, f.err
}

func (f fakeSource) ActiveJourneyCounts(context.Context) (map[string]int, error) {
	return f.counts, f.err
}

func TestGauges(t *testing.T) {
	s := newSet(t)
	s.Watch(fakeSource{pending: 3, oldest: 90 * time.Second, counts: map[string]int{"marketing": 1500, "weird": 2}})
	out := scrape(t, s)
	for _, want := range []string{
		"stopline_redriver_pending 3", "stopline_redriver_oldest_seconds 90",
		`stopline_journeys_active{category="marketing"} 1500`, `stopline_journeys_active{category="transactional"} 0`,
		`stopline_journeys_active{category="other"} 2`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %q:\n%s", want, grep(out, "stopline_"))
		}
	}

	// Postgres down: the gauges are missing (not 0, which would look
	// healthy), the rest is served, and the failure is counted.
	down := newSet(t)
	down.Watch(fakeSource{err: errors.New("connection refused")})
	down.Inbound("twilio", "opt_out", "exact", true)
	scrape(t, down)
	out = scrape(t, down) // the error counter is collected alongside the gauges: it shows next time
	if strings.Contains(out, "stopline_redriver_pending ") || strings.Contains(out, "stopline_journeys_active{") {
		t.Errorf("gauges served without a source:\n%s", grep(out, "stopline_"))
	}
	for _, want := range []string{`stopline_metrics_source_errors_total{source="redriver"} `, `stopline_inbound_total{`} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q:\n%s", want, grep(out, "stopline_"))
		}
	}
}

type plainSender struct{}

func (plainSender) Send(context.Context, sms.Message) (sms.Result, error) {
	return sms.Result{}, &sms.Error{Kind: sms.RateLimited, Code: 20429, HTTPStatus: 429}
}

type findingSender struct{ plainSender }

func (findingSender) Find(context.Context, sms.Message, time.Time, func(string) (bool, error)) (sms.Result, bool, error) {
	return sms.Result{}, false, nil
}

// The timed sender keeps the sms.Finder the send activity asks for, and
// counts every provider answer, retries included.
func TestSender(t *testing.T) {
	s := newSet(t)
	if _, ok := s.Sender("twilio", findingSender{}).(sms.Finder); !ok {
		t.Error("a Finder lost its Find")
	}
	plain := s.Sender("sinch", plainSender{})
	if _, ok := plain.(sms.Finder); ok {
		t.Error("a plain sender gained a Find")
	}
	for range 2 {
		_, _ = plain.Send(context.Background(), sms.Message{})
	}
	if got := testutil.ToFloat64(s.providerErrors.WithLabelValues("sinch", "20429")); got != 2 {
		t.Errorf("provider errors = %v, want 2", got)
	}
	var nilSet *Set
	if got := nilSet.Sender("twilio", plainSender{}); got != (plainSender{}) {
		t.Errorf("a nil Set wrapped the sender: %T", got)
	}
}
