package preview_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/preview"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/internal/store"
	"github.com/stopline/stopline/workflows/contract"
)

const (
	sender = "+15550001111"
	// Numbers by the rule that holds them at 08:30 New York time.
	ny     = "+12125550100" // New York: federal 08:00-21:00, open
	ct     = "+12035550100" // Connecticut: opens at 09:00
	ca     = "+14155550101" // California: 05:30 there, federal closed
	tollUS = "+18005550100" // no state: unknown US, 09:00-20:00 in every US zone
)

// at is a Tuesday, 08:30 in New York.
var at = time.Date(2026, 12, 1, 13, 30, 0, 0, time.UTC)

func keyer(t testing.TB) phone.Keyer {
	k, err := phone.NewKeyer([]byte("preview-test-secret-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func parse(t testing.TB, js string) *journey.Definition {
	d, err := journey.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const welcome = `{"name": "welcome", "category": "marketing",
	"sender": {"provider": "twilio", "from": "+15550001111", "type": "long_code"},
	"steps": [{"sms": "Hi {{.first_name}}"}, {"wait": "24h"}, {"sms": "Code {{.code}} ✓"}]}`

// record puts the recipient of e164 in state in scope.
func record(t testing.TB, s *store.Store, k phone.Keyer, e164, scope string, state contract.ConsentState) {
	if _, err := s.Record(context.Background(), contract.ConsentChange{RecipientKey: k.Key(e164), Scope: scope, To: state, Source: contract.SourceAdmin}); err != nil {
		t.Fatal(err)
	}
}

type consentRow struct {
	phone, scope string
	state        contract.ConsentState
}

// check is one expectation on a report.
type check func(t *testing.T, r *preview.Report)

func TestPreview(t *testing.T) {
	store := pgtest.NewStore(t)
	k := keyer(t)
	club, err := senders.Parse([]byte(`{"senders": [{"provider": "twilio", "from": "+15550001111", "type": "long_code", "program": "club", "double_opt_in": true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		journey string
		csv     string
		senders *senders.Registry
		consent []consentRow
		at      time.Time
		checks  []check
	}{
		{
			name:    "rows, duplicates and skip reasons with their lines",
			journey: welcome,
			csv: "phone,first_name,code\n" +
				ny + ",Ada,A1\n" + // 2
				"12,Bob,B1\n" + // 3 invalid number
				ct + ",Cy,\n" + // 4 empty attribute
				"+1 212 555 0100,Ada,A1\n" + // 5 same as line 2
				"99,Dee,D1\n" + // 6 invalid number
				ca + ",Eve\n" + // 7 wrong field count
				ca + ",Eve,E1\n", // 8
			at: at,
			checks: []check{
				counts(7, 2, 1, 4),
				skipped(`phone: "…" is not a valid number`, 2, 3, 6),
				skipped(`steps[2].sms: missing attribute "code"`, 1, 4),
				skipped("wrong number of fields", 1, 7),
				duplicates(5),
			},
		},
		{
			name:    "opted-out recipients in the scope or everywhere are refused; another scope does not count",
			journey: welcome,
			csv:     "phone,first_name,code\n" + ny + ",Ada,A1\n" + ct + ",Bo,B1\n" + ca + ",Cy,C1\n" + tollUS + ",Di,D1\n",
			consent: []consentRow{{ny, sender, contract.OptedOut}, {ct, "*", contract.OptedOut}, {ca, "+15559999999", contract.OptedOut}},
			at:      at,
			checks: []check{
				consentCounts(preview.ConsentCounts{OptedOut: 2, Blocked: 2, WouldSend: 2}),
				steps(2, 2, 0, 2, 2, 2), // steps[0]: 2 messages, 2 segments, GSM-7; steps[2] has ✓: UCS-2
				totalSegments(4),
				sample(0, "opted_out", "opted_out", time.Time{}),
			},
		},
		{
			name:    "first sends outside the window, by rule, and when they go",
			journey: welcome,
			csv:     "phone,first_name,code\n" + ny + ",Ada,A1\n" + ct + ",Bo,B1\n" + ca + ",Cy,C1\n" + tollUS + ",Di,D1\n" + ny + "1,X,Y\n",
			at:      at,
			checks: []check{
				deferred("CT", 1, time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)),
				// California opens at 16:00Z. The toll-free number needs every
				// US zone inside unknown US's 09:00-20:00: Honolulu's 09:00 is
				// 19:00Z, an hour after the federal rule would let it go.
				deferred("federal", 1, time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC)),
				deferred("unknown US", 1, time.Date(2026, 12, 1, 19, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 19, 0, 0, 0, time.UTC)),
				sample(0, "", "", at),
				sample(1, "", "", time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)),
			},
		},
		{
			name:    "a postal_code is read as a start reads it: a New York number living in Hartford waits for Connecticut's 09:00",
			journey: welcome,
			csv:     "phone,first_name,code,postal_code\n" + ny + ",Ada,A1,06103\n" + ct + ",Bo,B1,ABCDE\n",
			at:      at,
			checks: []check{
				counts(2, 1, 0, 1),
				skipped(`postal_code: "ABCDE" is not a US ZIP Code (want 5 digits, or ZIP+4 like 33101-1234)`, 1, 3),
				deferred("CT", 1, time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)),
			},
		},
		{
			name:    "the sender's quiet hours, when they open after the law",
			journey: strings.Replace(welcome, `"type": "long_code"}`, `"type": "long_code", "quiet_hours": {"start": "10:00", "end": "20:00"}}`, 1),
			csv:     "phone,first_name,code\n" + ny + ",Ada,A1\n" + ct + ",Bo,B1\n",
			at:      at,
			checks:  []check{deferred("sender quiet_hours", 2, time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC))},
		},
		{
			name:    "a legal_override replaces the legal window",
			journey: strings.Replace(welcome, `"type": "long_code"}`, `"type": "long_code", "quiet_hours": {"start": "10:00", "end": "12:00", "legal_override": "staff"}}`, 1),
			csv:     "phone,first_name,code\n" + ny + ",Ada,A1\n",
			at:      at,
			checks:  []check{deferred("sender quiet_hours (legal_override)", 1, time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC))},
		},
		{
			name:    "transactional messages have no window",
			journey: strings.Replace(welcome, "marketing", "transactional", 1),
			csv:     "phone,first_name,code\n" + ca + ",Ada,A1\n",
			at:      at,
			checks:  []check{deferredNone(), sample(0, "", "", at)},
		},
		{
			name:    "double opt-in: marketing needs a confirmation, in the program's scope",
			journey: welcome,
			senders: club,
			csv:     "phone,first_name,code\n" + ny + ",Ada,A1\n" + ct + ",Bo,B1\n" + ca + ",Cy,C1\n" + tollUS + ",Di,D1\n",
			consent: []consentRow{{ny, "program:club", contract.OptInConfirmed}, {ct, "program:club", contract.OptInPending}, {ca, "program:club", contract.OptedOut}},
			at:      at,
			checks: []check{
				scope("program:club"),
				consentCounts(preview.ConsentCounts{OptedOut: 1, Pending: 1, Unconfirmed: 1, Confirmed: 1, Blocked: 3, WouldSend: 1}),
			},
		},
		{
			name:    "footer applied, counted in segments and encoding",
			journey: `{"name": "long", "category": "marketing", "sender": {"provider": "twilio", "from": "+15550001111", "type": "long_code"}, "steps": [{"sms": "` + strings.Repeat("a", 150) + `"}]}`,
			csv:     "phone\n" + ny + "\n",
			at:      at,
			checks: []check{func(t *testing.T, r *preview.Report) {
				m := r.Samples[0].Messages[0]
				if !strings.HasSuffix(m.Body, "\nReply STOP to opt out.") || m.Segments != 2 || m.Encoding != "GSM-7" {
					t.Errorf("message = %q, %d segments, %s; want the footer, 2 segments, GSM-7", m.Body, m.Segments, m.Encoding)
				}
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := store.Pool().Exec(context.Background(), `TRUNCATE consent`); err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.consent {
				record(t, store, k, c.phone, c.scope, c.state)
			}
			rep, err := preview.Run(t.Context(), strings.NewReader(tt.csv), preview.Options{
				Journey: parse(t, tt.journey), Region: "US", Keyer: k, Senders: tt.senders, Consent: store, At: tt.at, Samples: 2, Batch: 2})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.checks {
				c(t, rep)
			}
		})
	}
}

func counts(rows, valid, dups, skipped int) check {
	return func(t *testing.T, r *preview.Report) {
		n := 0
		for _, g := range r.Skipped {
			n += g.Count
		}
		if r.Rows != rows || r.Valid != valid || r.Duplicates.Count != dups || n != skipped {
			t.Errorf("rows %d valid %d duplicates %d skipped %d; want %d %d %d %d", r.Rows, r.Valid, r.Duplicates.Count, n, rows, valid, dups, skipped)
		}
	}
}

func skipped(reason string, count int, lines ...int) check {
	return func(t *testing.T, r *preview.Report) {
		for _, g := range r.Skipped {
			if g.Reason == reason {
				if g.Count != count || !slices.Equal(g.Lines, lines) {
					t.Errorf("skipped %q: %d at lines %v, want %d at %v", reason, g.Count, g.Lines, count, lines)
				}
				return
			}
		}
		t.Errorf("no skip reason %q in %+v", reason, r.Skipped)
	}
}

func duplicates(lines ...int) check {
	return func(t *testing.T, r *preview.Report) {
		if r.Duplicates.Count != len(lines) || !slices.Equal(r.Duplicates.Lines, lines) {
			t.Errorf("duplicates %d at %v, want %v", r.Duplicates.Count, r.Duplicates.Lines, lines)
		}
	}
}

func consentCounts(want preview.ConsentCounts) check {
	return func(t *testing.T, r *preview.Report) {
		if r.Consent != want {
			t.Errorf("consent = %+v, want %+v", r.Consent, want)
		}
	}
}

func scope(want string) check {
	return func(t *testing.T, r *preview.Report) {
		if r.Scope != want {
			t.Errorf("scope = %q, want %q", r.Scope, want)
		}
	}
}

// steps checks the two SMS steps of welcome: messages, segments and UCS-2
// messages of each.
func steps(m0, s0, u0, m2, s2, u2 int) check {
	return func(t *testing.T, r *preview.Report) {
		want := []preview.StepCost{{Step: 0, Kind: "sms", Messages: m0, Segments: s0, UCS2: u0}, {Step: 2, Kind: "sms", Messages: m2, Segments: s2, UCS2: u2}}
		if len(r.Steps) != 2 || r.Steps[0] != want[0] || r.Steps[1] != want[1] {
			t.Errorf("steps = %+v, want %+v", r.Steps, want)
		}
	}
}

func totalSegments(n int) check {
	return func(t *testing.T, r *preview.Report) {
		if r.Segments != n {
			t.Errorf("segments = %d, want %d", r.Segments, n)
		}
	}
}

func deferred(rule string, count int, earliest, latest time.Time) check {
	return func(t *testing.T, r *preview.Report) {
		for _, d := range r.Deferred {
			if d.Rule == rule {
				if d.Count != count || !d.Earliest.Equal(earliest) || !d.Latest.Equal(latest) {
					t.Errorf("deferred by %s: %d, %v to %v; want %d, %v to %v", rule, d.Count, d.Earliest, d.Latest, count, earliest, latest)
				}
				return
			}
		}
		t.Errorf("nothing deferred by %q: %+v", rule, r.Deferred)
	}
}

func deferredNone() check {
	return func(t *testing.T, r *preview.Report) {
		if len(r.Deferred) != 0 {
			t.Errorf("deferred = %+v, want none", r.Deferred)
		}
	}
}

func sample(i int, state, blocked string, first time.Time) check {
	return func(t *testing.T, r *preview.Report) {
		if i >= len(r.Samples) {
			t.Fatalf("%d samples, want sample %d", len(r.Samples), i)
		}
		s := r.Samples[i]
		if s.Consent != state || s.Blocked != blocked || !s.FirstSend.Equal(first) {
			t.Errorf("sample %d: consent %q blocked %q first %v; want %q %q %v", i, s.Consent, s.Blocked, s.FirstSend, state, blocked, first)
		}
	}
}
