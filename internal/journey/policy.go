package journey

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stopline/stopline/internal/policy"
	"github.com/stopline/stopline/workflows/contract"
)

// Window parses the quiet-hours override into a policy window.
func (q QuietHours) Window() (policy.Window, error) {
	return q.replace(policy.Window{})
}

// Apply returns the sending window of a recipient whose legal window is
// legal: the part of legal inside q's hours or, when q has a
// LegalOverride, q's hours themselves, without legal's Sunday and holiday
// ban if q allows rest days.
func (q QuietHours) Apply(legal policy.Window) (policy.Window, error) {
	if strings.TrimSpace(q.LegalOverride) != "" {
		return q.replace(legal)
	}
	own, err := q.Window()
	if err != nil {
		return policy.Window{}, err
	}
	return policy.Intersect(legal, own), nil
}

// maxOverride bounds legal_override: a reason, not a document.
const maxOverride = 200

// validate checks q; errors are relative to sender.quiet_hours.
func (q QuietHours) validate() []error {
	var errs []error
	if _, err := q.Window(); err != nil {
		errs = append(errs, err)
	}
	switch o := q.LegalOverride; {
	case o == "":
	case strings.TrimSpace(o) == "":
		errs = append(errs, errors.New("legal_override: must say why the legal window does not apply"))
	case len(o) > maxOverride:
		errs = append(errs, fmt.Errorf("legal_override: at most %d bytes, got %d", maxOverride, len(o)))
	}
	return errs
}

// replace returns w with q's hours, and without its Sunday and holiday ban
// if q allows rest days.
func (q QuietHours) replace(w policy.Window) (policy.Window, error) {
	w.Days = nil // q's hours hold every day
	start, err := clock(q.Start)
	if err != nil {
		return policy.Window{}, fmt.Errorf("start: %w", err)
	}
	end, err := clock(q.End)
	if err != nil {
		return policy.Window{}, fmt.Errorf("end: %w", err)
	}
	w.Start, w.End = start, end
	if q.AllowRestDays {
		w.NoSundays, w.Holidays = false, nil
	}
	return w, w.Validate()
}

// clock parses "HH:MM" (00:00 to 24:00) as a duration since midnight.
func clock(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh*60+mm > 24*60 {
		return 0, fmt.Errorf("invalid time %q (want HH:MM)", s)
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

// finish applies the compliance rules to a rendered body: a marketing
// message without opt-out instructions gets the sender's footer (or its
// alternative instruction), and no body may exceed policy.MaxSegments.
func (d *Definition) finish(body string) (string, error) {
	if d.Category == contract.CategoryMarketing || d.Sender.Footer != "" {
		body, _ = policy.EnsureOptOutInstructions(body, policy.FooterSettings{
			Language: d.Sender.Language, Footer: d.Sender.Footer, AltInstruction: d.Sender.AltInstruction,
		})
	}
	return body, policy.CheckSegments(body)
}

// FooterAddsSegment reports whether, for these attributes, the opt-out
// footer makes any SMS step one segment longer (the starter warns: it costs
// money on every message). attrs must render (see Render).
func (d *Definition) FooterAddsSegment(attrs map[string]string) bool {
	for _, st := range d.Steps {
		if st.IsWait() {
			continue
		}
		raw, err := renderBody(st.Body(), attrs)
		if err != nil {
			return false
		}
		finished, err := d.finish(raw)
		if err != nil {
			return false
		}
		_, before := policy.Segments(raw)
		_, after := policy.Segments(finished)
		if after > before {
			return true
		}
	}
	return false
}

// SendingWindow is a recipient's marketing window: their legal window
// (policy.LegalWindow), narrowed by the sender's quiet hours q, or replaced
// by them with a legal_override. q must have passed Validate.
func SendingWindow(legal policy.Window, q *QuietHours) policy.Window {
	if q != nil {
		legal, _ = q.Apply(legal)
	}
	return legal
}
