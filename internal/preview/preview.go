// Package preview is a dry run of a journey over an audience file: what the
// first recipients would get, which rows a start would skip and why, who is
// already opted out or unconfirmed, what the run costs in segments, and
// when the sending window lets the first messages go. It starts nothing
// and sends nothing.
//
// It reads the file as a start does (launch.Audience), streaming: memory
// holds one batch of consent lookups and the first lines of each skip
// reason, whatever the size of the file.
package preview

import (
	"context"
	"errors"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/policy"
	"github.com/stopline/stopline/internal/senders"
	"github.com/stopline/stopline/workflows/contract"
)

// ConsentReader reads recipients' consent in batches (store.Store).
type ConsentReader interface {
	CheckMany(ctx context.Context, keys []string, scope string, rule contract.ConsentRule) ([]contract.Decision, error)
}

// Options describe one preview.
type Options struct {
	Journey *journey.Definition
	Region  string // default region for national-format numbers
	Keyer   phone.Keyer
	// Senders is the worker's senders file (programs, double opt-in);
	// nil gives every sender the defaults, as a worker without one does.
	Senders *senders.Registry
	Consent ConsentReader
	// At is when the run would start; the first sends are placed from it.
	At time.Time
	// Samples is how many recipients' messages to show.
	Samples int
	// Batch is how many recipients one consent query reads; default 1000.
	Batch int
}

// MaxLines bounds the line numbers kept per skip reason.
const MaxLines = 20

// Report is what a preview found.
type Report struct {
	Journey string    `json:"journey"`
	Scope   string    `json:"scope"` // the consent scope the journey checks
	At      time.Time `json:"at"`
	Samples []Sample  `json:"samples"`

	Rows       int     `json:"rows"`       // data rows read
	Valid      int     `json:"valid"`      // distinct recipients: the journeys a start would start
	Skipped    []Group `json:"skipped"`    // invalid rows, by reason
	Duplicates Group   `json:"duplicates"` // valid rows repeating an earlier row's recipient

	Consent  ConsentCounts `json:"consent"`
	Steps    []StepCost    `json:"steps"`    // per message step, for the recipients that would get it
	Segments int           `json:"segments"` // all steps
	// Deferred are the first sends outside the sending window at their
	// time, by the rule that closes it.
	Deferred []Deferral `json:"deferred"`
}

// ConsentCounts counts the valid recipients by their consent in the journey's
// scope, as the first message step's consent check would read it.
type ConsentCounts struct {
	OptedOut int `json:"opted_out"`
	Pending  int `json:"pending"`
	// Unconfirmed are recipients of a double opt-in program's marketing
	// that have neither confirmed nor been asked (pending).
	Unconfirmed int `json:"unconfirmed"`
	Confirmed   int `json:"confirmed"`
	// Blocked would be refused at the first message step (opted_out,
	// not_confirmed); WouldSend would get it.
	Blocked   int `json:"blocked"`
	WouldSend int `json:"would_send"`
}

// Group is a reason with its count and first MaxLines line numbers.
type Group struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
	Lines  []int  `json:"lines"`
}

// StepCost is one message step's cost over the recipients that pass the
// first consent check, if every step goes out.
type StepCost struct {
	Step     int    `json:"step"`
	Kind     string `json:"kind"` // sms or opt_in
	Messages int    `json:"messages"`
	Segments int    `json:"segments"`
	UCS2     int    `json:"ucs2"` // messages sent as UCS-2 (the rest as GSM-7)
}

// Deferral counts first sends that a rule holds back, and when they would
// go instead.
type Deferral struct {
	Rule     string    `json:"rule"`
	Count    int       `json:"count"`
	Earliest time.Time `json:"earliest"`
	Latest   time.Time `json:"latest"`
}

// Sample is one recipient's messages.
type Sample struct {
	Line  int    `json:"line"`
	Phone string `json:"phone"` // masked
	// Consent is the recipient's state in the scope ("" when none is
	// recorded); Blocked why the first message would be refused.
	Consent   string    `json:"consent"`
	Blocked   string    `json:"blocked,omitempty"`
	FirstSend time.Time `json:"first_send"` // when the first message would go
	Messages  []Message `json:"messages"`
}

// Message is one rendered step, footer applied.
type Message struct {
	Step     int    `json:"step"`
	Body     string `json:"body"`
	Encoding string `json:"encoding"` // GSM-7 or UCS-2
	Segments int    `json:"segments"`
}

// Run previews opts.Journey over the audience CSV in r. A header without a
// needed column, or a broken quote, is an error as for a start; the report
// then holds what was read before it.
func Run(ctx context.Context, r io.Reader, opts Options) (*Report, error) {
	if opts.Batch <= 0 {
		opts.Batch = 1000
	}
	aud, err := launch.ReadAudience(r, launch.Options{Journey: opts.Journey, Region: opts.Region, Keyer: opts.Keyer})
	if err != nil {
		return nil, err
	}
	p := newPreviewer(opts)
	for {
		row, err := aud.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			err = ctx.Err()
		}
		if err == nil {
			err = p.add(ctx, row)
		}
		if err != nil {
			return p.report(), err
		}
	}
	if err := p.flush(ctx); err != nil {
		return p.report(), err
	}
	return p.report(), nil
}

// previewer accumulates a report.
type previewer struct {
	opts     Options
	rep      Report
	rule     contract.ConsentRule
	first    int           // index of the first message step
	delay    time.Duration // waits before it
	skipped  map[string]*Group
	deferred map[string]*Deferral
	windows  map[string]window // by zones and rules
	batch    []pending
}

// pending is a valid recipient waiting for its consent lookup.
type pending struct {
	key, e164, state string
	segs             []int // per step; 0 for waits
	ucs2             []bool
	sample           int // index into rep.Samples, or -1
}

func newPreviewer(opts Options) *previewer {
	def := opts.Journey
	scope := opts.Senders.ConsentScope(def.Sender.Scope())
	p := &previewer{opts: opts, skipped: map[string]*Group{}, deferred: map[string]*Deferral{}, windows: map[string]window{}, first: -1}
	p.rep = Report{Journey: def.Name, Scope: scope, At: opts.At, Samples: []Sample{}, Skipped: []Group{},
		Duplicates: Group{Reason: "same recipient as an earlier line", Lines: []int{}}, Deferred: []Deferral{}}
	for i, st := range def.Steps {
		switch {
		case st.IsWait() && p.first < 0:
			p.delay += st.WaitDuration()
		case !st.IsWait():
			if p.first < 0 {
				p.first = i
			}
			kind := "sms"
			if st.IsOptIn() {
				kind = "opt_in"
			}
			p.rep.Steps = append(p.rep.Steps, StepCost{Step: i, Kind: kind})
		}
	}
	p.rule = FirstRule(def, opts.Senders.ScopeSender(scope))
	return p
}

// FirstRule is what the journey's first message step needs from consent,
// as the worker's consent check decides it for a sender of program: an
// opt_in request only that the recipient has not opted out; marketing a
// confirmation in a double opt-in program; transactional messages pass an
// opt-out of a program whose STOP blocks marketing only.
func FirstRule(def *journey.Definition, program senders.Sender) contract.ConsentRule {
	for _, st := range def.Steps {
		switch {
		case st.IsWait():
			continue
		case st.IsOptIn():
			return program.ConsentRule(contract.CategoryOptInRequest)
		}
		return program.ConsentRule(def.Category)
	}
	return contract.ConsentRule{}
}

func (p *previewer) add(ctx context.Context, row launch.Row) error {
	p.rep.Rows++
	switch {
	case row.Skip != "":
		reason := reasonKind(row.Skip)
		g := p.skipped[reason]
		if g == nil {
			g = &Group{Reason: reason}
			p.skipped[reason] = g
		}
		addLine(g, row.Line)
		return nil
	case row.DuplicateOf > 0:
		addLine(&p.rep.Duplicates, row.Line)
		return nil
	}
	p.rep.Valid++
	in := row.Input
	bodies := row.Bodies
	pr := pending{key: in.RecipientKey, e164: in.Phone, state: in.State, sample: -1,
		segs: make([]int, len(bodies)), ucs2: make([]bool, len(bodies))}
	var msgs []Message
	for i, b := range bodies {
		if p.opts.Journey.Steps[i].IsWait() {
			continue
		}
		enc, n := policy.Segments(b)
		pr.segs[i], pr.ucs2[i] = n, enc == policy.UCS2
		msgs = append(msgs, Message{Step: i, Body: b, Encoding: enc, Segments: n})
	}
	if len(p.rep.Samples) < p.opts.Samples {
		pr.sample = len(p.rep.Samples)
		p.rep.Samples = append(p.rep.Samples, Sample{Line: row.Line, Phone: phone.Mask(in.Phone), Messages: msgs})
	}
	p.batch = append(p.batch, pr)
	if len(p.batch) >= p.opts.Batch {
		return p.flush(ctx)
	}
	return nil
}

func addLine(g *Group, line int) {
	g.Count++
	if len(g.Lines) < MaxLines {
		g.Lines = append(g.Lines, line)
	}
}

// quoted matches a Go-quoted value in a skip reason.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// reasonKind groups skip reasons: a row's own number or state is left out
// of the reason ("phone: invalid phone number "…""), so rows with the same
// problem count together; attribute names stay.
func reasonKind(reason string) string {
	for _, field := range []string{"phone: ", "state: "} {
		if strings.HasPrefix(reason, field) {
			return quoted.ReplaceAllString(reason, `"…"`)
		}
	}
	if fieldCount.MatchString(reason) {
		return "wrong number of fields"
	}
	return reason
}

var fieldCount = regexp.MustCompile(`^has \d+ fields, header has \d+$`)

// flush looks up the batch's consent and counts it.
func (p *previewer) flush(ctx context.Context) error {
	if len(p.batch) == 0 {
		return nil
	}
	keys := make([]string, len(p.batch))
	for i, b := range p.batch {
		keys[i] = b.key
	}
	decisions, err := p.opts.Consent.CheckMany(ctx, keys, p.rep.Scope, p.rule)
	if err != nil {
		return err
	}
	for i, b := range p.batch {
		p.count(b, decisions[i])
	}
	p.batch = p.batch[:0]
	return nil
}

func (p *previewer) count(b pending, d contract.Decision) {
	c := &p.rep.Consent
	switch d.State {
	case contract.OptedOut:
		c.OptedOut++
	case contract.OptInPending:
		c.Pending++
	case contract.OptInConfirmed:
		c.Confirmed++
	default:
		if p.rule.NeedConfirmed {
			c.Unconfirmed++
		}
	}
	var sample *Sample
	if b.sample >= 0 {
		sample = &p.rep.Samples[b.sample]
		sample.Consent, sample.Blocked = string(d.State), d.Reason
	}
	if !d.Allowed {
		c.Blocked++
		return
	}
	c.WouldSend++
	for i := range p.rep.Steps {
		st := &p.rep.Steps[i]
		st.Messages++
		st.Segments += b.segs[st.Step]
		p.rep.Segments += b.segs[st.Step]
		if b.ucs2[st.Step] {
			st.UCS2++
		}
	}
	first := p.firstSend(b)
	if sample != nil {
		sample.FirstSend = first
	}
}

// firstSend returns when the recipient's first message would go, and
// counts it as deferred when the sending window holds it back.
func (p *previewer) firstSend(b pending) time.Time {
	t := p.opts.At.Add(p.delay)
	def := p.opts.Journey
	if def.Category != contract.CategoryMarketing || p.first < 0 {
		return t // transactional messages have no quiet hours
	}
	zones := policy.RecipientZones(b.e164, b.state)
	rules := policy.LegalRules(b.e164, b.state)
	// The answer depends on the zones and the rules alone: t is the same
	// for every recipient.
	key := strings.Join(zones, ",")
	for _, r := range rules {
		key += "|" + r.Name
	}
	w, ok := p.windows[key]
	if !ok {
		w.next = policy.NextAllowed(t, zones, journey.SendingWindow(policy.Combine(rules), def.Sender.QuietHours))
		if w.next.After(t) {
			w.rule = decidingRule(t, w.next, zones, rules, def.Sender.QuietHours)
		}
		p.windows[key] = w
	}
	if w.rule == "" {
		return t
	}
	d := p.deferred[w.rule]
	if d == nil {
		d = &Deferral{Rule: w.rule, Earliest: w.next, Latest: w.next}
		p.deferred[w.rule] = d
	}
	d.Count++
	if w.next.Before(d.Earliest) {
		d.Earliest = w.next
	}
	if w.next.After(d.Latest) {
		d.Latest = w.next
	}
	return w.next
}

// window is when a first send goes, and the rule that holds it back
// ("" when it goes at once).
type window struct {
	next time.Time
	rule string
}

// decidingRule names the rule that holds a send at t back until next: of
// the legal rules (region, then states) the one that opens last, the
// region's on a tie; the sender's quiet hours when they open later still.
func decidingRule(t, next time.Time, zones []string, rules []policy.LegalRule, q *journey.QuietHours) string {
	if q != nil && q.LegalOverride != "" {
		return "sender quiet_hours (legal_override)"
	}
	name, opens := "", t
	for _, r := range rules {
		if o := policy.NextAllowed(t, zones, r.Window); o.After(opens) {
			name, opens = r.Name, o
		}
	}
	if name == "" || next.After(opens) {
		return "sender quiet_hours"
	}
	return name
}

func (p *previewer) report() *Report {
	rep := p.rep
	rep.Skipped = rep.Skipped[:0:0]
	for _, g := range p.skipped {
		rep.Skipped = append(rep.Skipped, *g)
	}
	sort.Slice(rep.Skipped, func(i, j int) bool { return rep.Skipped[i].Lines[0] < rep.Skipped[j].Lines[0] })
	rep.Deferred = rep.Deferred[:0:0]
	for _, d := range p.deferred {
		rep.Deferred = append(rep.Deferred, *d)
	}
	slices.SortFunc(rep.Deferred, func(a, b Deferral) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Rule, b.Rule)
	})
	return &rep
}
