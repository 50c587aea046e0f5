package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// holiday is a parsed Window.Holidays rule.
type holiday struct {
	month   time.Month
	day     int          // fixed date; 0 if not
	easter  bool         // day offset from Easter Sunday
	offset  int          // for easter
	weekday time.Weekday // Nth weekday of month
	nth     int          // 1-5, or -1 for the last
	// observed also closes the weekday the holiday is observed on when it
	// falls on a weekend: the Friday before a Saturday, the Monday after a
	// Sunday (5 U.S.C. § 6103(b)). The date itself stays closed too.
	observed bool
}

// observedSuffix marks a holiday rule that is also kept on its observed day.
const observedSuffix = " observed"

var weekdays = map[string]time.Weekday{"Sun": time.Sunday, "Mon": time.Monday, "Tue": time.Tuesday,
	"Wed": time.Wednesday, "Thu": time.Thursday, "Fri": time.Friday, "Sat": time.Saturday}

var holidayCache sync.Map // rule string -> holiday; closedDay runs in tight loops

// parseHoliday parses "MM-DD", "easter+N" / "easter-N", "MM-Www-N" or
// "MM-Www-L", each optionally followed by " observed".
func parseHoliday(s string) (holiday, error) {
	if h, ok := holidayCache.Load(s); ok {
		return h.(holiday), nil
	}
	h, err := parseHolidayUncached(s)
	if err == nil {
		holidayCache.Store(s, h)
	}
	return h, err
}

func parseHolidayUncached(s string) (holiday, error) {
	rule, observed := strings.CutSuffix(s, observedSuffix)
	h, err := parseDateRule(rule)
	if err != nil {
		return holiday{}, fmt.Errorf(`%q is not a holiday rule ("12-25", "07-04 observed", "easter+1", "11-Thu-4", "05-Mon-L")`, s)
	}
	h.observed = observed
	return h, nil
}

func parseDateRule(s string) (holiday, error) {
	bad := errors.New("bad rule")
	if rest, ok := strings.CutPrefix(s, "easter"); ok {
		n, err := strconv.Atoi(rest)
		if err != nil || rest == "" || (rest[0] != '+' && rest[0] != '-') || n < -60 || n > 60 {
			return holiday{}, bad
		}
		return holiday{easter: true, offset: n}, nil
	}
	parts := strings.Split(s, "-")
	if len(parts[0]) != 2 {
		return holiday{}, bad
	}
	m, err := strconv.Atoi(parts[0])
	if err != nil || m < 1 || m > 12 {
		return holiday{}, bad
	}
	switch len(parts) {
	case 2:
		if _, err := time.Parse("01-02", s); err != nil || len(parts[1]) != 2 {
			return holiday{}, bad
		}
		d, _ := strconv.Atoi(parts[1])
		return holiday{month: time.Month(m), day: d}, nil
	case 3:
		wd, ok := weekdays[parts[1]]
		if !ok {
			return holiday{}, bad
		}
		if parts[2] == "L" {
			return holiday{month: time.Month(m), weekday: wd, nth: -1}, nil
		}
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 1 || n > 5 || len(parts[2]) != 1 {
			return holiday{}, bad
		}
		return holiday{month: time.Month(m), weekday: wd, nth: n}, nil
	}
	return holiday{}, bad
}

// on reports whether the local date of lt is the holiday or, for an
// observed rule, the weekday it is observed on.
func (h holiday) on(lt time.Time) bool {
	y, m, d := lt.Date()
	if h.onDate(y, m, d) {
		return true
	}
	if !h.observed {
		return false
	}
	switch lt.Weekday() {
	case time.Friday: // a Saturday holiday
		return h.onDate(y, m, d+1)
	case time.Monday: // a Sunday holiday
		return h.onDate(y, m, d-1)
	}
	return false
}

// onDate reports whether the calendar date y-m-d (normalised, so day 0 or
// 32 rolls into the next month or year) is the holiday.
func (h holiday) onDate(y int, m time.Month, d int) bool {
	date := time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
	y, m, d = date.Date()
	switch {
	case h.easter:
		ey, em, ed := Easter(y).AddDate(0, 0, h.offset).Date()
		return ey == y && em == m && ed == d
	case m != h.month:
		return false
	case h.day != 0:
		return d == h.day
	case date.Weekday() != h.weekday:
		return false
	case h.nth == -1:
		return d+7 > time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
	default:
		return (d-1)/7+1 == h.nth
	}
}

// Easter returns Western (Gregorian) Easter Sunday of year y, at 00:00 UTC,
// by the anonymous Gregorian computus (Meeus/Jones/Butcher).
func Easter(y int) time.Time {
	a, b, c := y%19, y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Date(y, time.Month(month), day, 0, 0, 0, 0, time.UTC)
}
