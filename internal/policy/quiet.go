package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	// Embedded zone data, used when the system has none (scratch or
	// distroless containers), so quiet hours never silently become UTC.
	_ "time/tzdata"
)

// Window is when marketing SMS may reach a recipient, in the recipient's
// local time.
type Window struct {
	// Start and End are wall-clock times of day as durations since 00:00:
	// 8*time.Hour is 08:00. Sending is allowed from Start up to, not
	// including, End. They are clock readings, so on a DST change day 08:00
	// is still 08:00 on the recipient's clock. 0 <= Start < End <= 24h.
	Start, End time.Duration
	// Days gives some weekdays their own hours in place of Start and End
	// (Texas: Sundays from noon). A day whose Start is not before its End
	// is closed.
	Days map[time.Weekday]Hours
	// NoSundays forbids Sundays entirely.
	NoSundays bool
	// Holidays are days forbidden entirely, as rules (see parseHoliday):
	// "MM-DD" a fixed date, "easter+N" N days after Western Easter Sunday,
	// "MM-Www-N" the Nth weekday Www of month MM ("11-Thu-4") and
	// "MM-Www-L" the last one ("05-Mon-L"). A rule ending in " observed"
	// ("07-04 observed") closes, besides its date, the Friday before it
	// when it falls on a Saturday and the Monday after when on a Sunday.
	Holidays []string
}

// Hours are one day's opening hours, durations since 00:00.
type Hours struct{ Start, End time.Duration }

// hours returns the window's hours on weekday wd.
func (w Window) hours(wd time.Weekday) Hours {
	if h, ok := w.Days[wd]; ok {
		return h
	}
	return Hours{w.Start, w.End}
}

// Intersect returns the window inside both a and b: the later opening and
// the earlier closing of each weekday, and the rest days of both. It is how
// the stricter of two rules applies (residence and area-code state; a
// sender's hours within the legal window).
func Intersect(a, b Window) Window {
	w := Window{Start: max(a.Start, b.Start), End: min(a.End, b.End), NoSundays: a.NoSundays || b.NoSundays,
		Days: map[time.Weekday]Hours{}}
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		ha, hb := a.hours(wd), b.hours(wd)
		h := Hours{max(ha.Start, hb.Start), min(ha.End, hb.End)}
		if h.Start >= h.End {
			h = Hours{} // closed
		}
		w.Days[wd] = h
	}
	for _, h := range append(slices.Clone(a.Holidays), b.Holidays...) {
		if !slices.Contains(w.Holidays, h) {
			w.Holidays = append(w.Holidays, h)
		}
	}
	return w
}

// DefaultWindow returns the quiet-hours window for recipients in region (ISO
// 3166 code, e.g. "US", "FR"):
//
//   - US: 08:00-21:00 every day. TCPA rule 47 CFR § 64.1200(c)(1) forbids
//     telephone solicitations before 8 a.m. and after 9 p.m. at the called
//     party's location, and the FCC applies it to text messages. This is
//     the federal floor; LegalWindow adds the state rules (states.go).
//   - FR: 08:00-21:30, no Sundays nor public holidays, after the French
//     operators' and AF2M's recommendations for commercial SMS as stopline's
//     issue 6 states them. Many French sources quote 20:00 as the evening
//     limit (and the 2022 decree on telephone canvassing, which is about
//     calls, allows weekdays 10-13 and 14-20 only): a sender that wants the
//     conservative reading sets End to 20h. Holidays are the eleven public
//     holidays of the Code du travail, art. L3133-1: 01-01, Easter Monday,
//     05-01, 05-08, Ascension Day (Easter + 39), Whit Monday (Easter + 50),
//     07-14, 08-15, 11-01, 11-11, 12-25. Not included: Alsace-Moselle's
//     Good Friday and 12-26 (a +33 number does not say where in France its
//     owner lives), nor the overseas departments' own holidays, such as the
//     abolition of slavery days (their numbers have their own region codes:
//     GP, MQ, GF, RE, YT).
//   - anywhere else: 08:00-21:00, the common industry default.
//
// Every default is configurable per sender; the caller picks the window.
func DefaultWindow(region string) Window {
	switch strings.ToUpper(strings.TrimSpace(region)) {
	case "FR":
		return Window{
			Start: 8 * time.Hour, End: 21*time.Hour + 30*time.Minute, NoSundays: true,
			Holidays: []string{"01-01", "easter+1", "05-01", "05-08", "easter+39", "easter+50",
				"07-14", "08-15", "11-01", "11-11", "12-25"},
		}
	default: // US and others
		return Window{Start: 8 * time.Hour, End: 21 * time.Hour}
	}
}

// Validate checks a configured window; errors name the field.
func (w Window) Validate() error {
	var errs []error
	if w.Start < 0 || w.Start >= 24*time.Hour {
		errs = append(errs, fmt.Errorf("start: %v is not a time of day (want 00:00 to 23:59)", w.Start))
	}
	if w.End <= w.Start || w.End > 24*time.Hour {
		errs = append(errs, fmt.Errorf("end: %v must be after start %v and at most 24h", w.End, w.Start))
	}
	for wd, h := range w.Days {
		if h.Start < 0 || h.End > 24*time.Hour {
			errs = append(errs, fmt.Errorf("days[%s]: %v-%v is not within a day", wd, h.Start, h.End))
		}
	}
	for i, h := range w.Holidays {
		if _, err := parseHoliday(h); err != nil {
			errs = append(errs, fmt.Errorf("holidays[%d]: %v", i, err))
		}
	}
	return errors.Join(errs...)
}

// searchHorizon bounds NextAllowed's search. Two weeks covers any real
// window (the longest closure, a French Saturday-evening-to-Monday with a
// holiday, is under 3 days) with room for DST changes.
const searchHorizon = 14 * 24 * time.Hour

// NextAllowed returns the earliest instant, at or after now, at which the
// recipient may get a marketing SMS: inside w in every one of zones (IANA
// names such as "America/Chicago"). A number with several possible zones gets
// the most restrictive reading. It returns now itself when now is allowed,
// and its result is in now's location.
//
// The search steps from window boundary to window boundary per zone and
// across DST transitions, so it needs a few dozen steps, not one per minute.
//
// Corner cases, all deterministic:
//   - zone names that do not load are ignored; with none left, UTC is used
//     (Zones never returns such names);
//   - when no instant within 14 days is inside the window in every zone
//     (zones too far apart for a narrow window), it returns the earliest
//     instant inside the window in the largest number of zones;
//   - when none is inside in any zone (an invalid window), it returns now +
//     14 days: nothing is sent, and the caller asks again then.
//
// Time zone rules come from the system's zone database, or Go's embedded one.
// Two workers with different databases could disagree about a zone whose
// rules changed, so workflow code should record the result (in a side effect
// or local activity) rather than recompute it on replay.
func NextAllowed(now time.Time, zones []string, w Window) time.Time {
	locs := locations(zones)
	horizon := now.Add(searchHorizon)
	t := now
	// Each round either returns or moves t to a later window opening of
	// some zone, of which there are a few per zone per day.
	for range 64 * len(locs) * int(searchHorizon/(24*time.Hour)) {
		latest, all := t, true
		for _, loc := range locs {
			open, ok := nextOpen(t, loc, w, horizon)
			if !ok {
				return mostZones(now, locs, w, horizon).In(now.Location())
			}
			if open.After(t) {
				all = false
				if open.After(latest) {
					latest = open
				}
			}
		}
		if all {
			return t.In(now.Location())
		}
		// No instant in [t, latest) is inside every zone's window: each
		// zone that opens later than t is closed before it opens.
		t = latest
	}
	return mostZones(now, locs, w, horizon).In(now.Location())
}

// WindowCloses returns when the window that now is inside closes: the
// earliest end of today's window among the zones in which now is inside w
// (earlier still if a zone changes its offset first, which only makes the
// caller look again sooner). A window that ends at midnight while the next
// day's opens then runs on (see runsOn). It returns the zero time when now
// is inside in no zone.
func WindowCloses(now time.Time, zones []string, w Window) time.Time {
	var closes time.Time
	for _, loc := range locations(zones) {
		lt := now.In(loc)
		if !inside(lt, w) {
			continue
		}
		end := runsOn(now.Add(w.hours(lt.Weekday()).End-clock(lt)), loc, w)
		if _, change := lt.ZoneBounds(); !change.IsZero() && change.Before(end) {
			end = change
		}
		if closes.IsZero() || end.Before(closes) {
			closes = end
		}
	}
	if closes.IsZero() {
		return closes
	}
	return closes.In(now.Location())
}

// runsOn carries a window that closes at local midnight into the next day
// while that day's window is open at 00:00 (all-day hours), for at most a
// week: the window does not close at such a midnight, and a send just
// before it must not be deferred to an instant later.
func runsOn(end time.Time, loc *time.Location, w Window) time.Time {
	for range 7 {
		lt := end.In(loc)
		if clock(lt) != 0 || !inside(lt, w) {
			break
		}
		end = end.Add(w.hours(lt.Weekday()).End)
	}
	return end
}

// nextOpen returns the earliest instant in [t, horizon] at which loc is
// inside w. Between two DST transitions a zone's offset is constant, so the
// next window opening is plain arithmetic on the wall clock; at a transition
// the search restarts from the transition instant.
func nextOpen(t time.Time, loc *time.Location, w Window, horizon time.Time) (time.Time, bool) {
	for !t.After(horizon) {
		lt := t.In(loc)
		if inside(lt, w) {
			return t, true
		}
		tod := clock(lt)
		today, tomorrow := w.hours(lt.Weekday()), w.hours((lt.Weekday()+1)%7)
		var cand time.Time
		switch {
		case tod < today.Start && today.Start < today.End && !closedDay(lt, w):
			cand = t.Add(today.Start - tod) // opens later today
		case tomorrow.Start < tomorrow.End:
			cand = t.Add(24*time.Hour - tod + tomorrow.Start) // tomorrow's opening, at today's offset
		default:
			cand = t.Add(24*time.Hour - tod) // tomorrow is closed: look from its midnight
		}
		if _, end := lt.ZoneBounds(); !end.IsZero() && !cand.Before(end) {
			cand = end // the offset changes first: look again from there
		}
		if !cand.After(t) {
			return time.Time{}, false // an invalid window would loop here
		}
		t = cand
	}
	return time.Time{}, false
}

// mostZones returns the earliest window opening within the horizon that is
// inside the window in the largest number of zones; now + horizon when there
// is none.
func mostZones(now time.Time, locs []*time.Location, w Window, horizon time.Time) time.Time {
	best, bestCount := horizon, 0
	for _, loc := range locs {
		for t := now; ; {
			open, ok := nextOpen(t, loc, w, horizon)
			if !ok {
				break
			}
			n := 0
			for _, other := range locs {
				if inside(open.In(other), w) {
					n++
				}
			}
			if n > bestCount || n == bestCount && open.Before(best) {
				best, bestCount = open, n
			}
			// Skip to the end of this opening's day to find the next one.
			lt := open.In(loc)
			t = open.Add(24*time.Hour - clock(lt))
		}
	}
	return best
}

// inside reports whether the local time lt is inside w.
func inside(lt time.Time, w Window) bool {
	if closedDay(lt, w) {
		return false
	}
	tod, h := clock(lt), w.hours(lt.Weekday())
	return tod >= h.Start && tod < h.End
}

// closedDay reports whether lt's date is closed all day.
func closedDay(lt time.Time, w Window) bool {
	if w.NoSundays && lt.Weekday() == time.Sunday {
		return true
	}
	for _, h := range w.Holidays {
		if rule, err := parseHoliday(h); err == nil && rule.on(lt) {
			return true
		}
	}
	return false
}

// clock returns the wall-clock time of day of lt as a duration since 00:00.
func clock(lt time.Time) time.Duration {
	h, m, s := lt.Clock()
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(s)*time.Second + time.Duration(lt.Nanosecond())
}

var (
	locMu    sync.Mutex
	locCache = map[string]*time.Location{} // nil value: the name does not load
)

// locations loads zone names. Unknown names are dropped; none left gives
// UTC.
func locations(zones []string) []*time.Location {
	var locs []*time.Location
	for _, name := range zones {
		if loc, ok := loadLocation(name); ok {
			locs = append(locs, loc)
		}
	}
	if len(locs) == 0 {
		locs = []*time.Location{time.UTC}
	}
	return locs
}

// loadLocation loads a zone through a cache: LoadLocation reads and parses a
// file each time. "" and "Local" are refused: they would load UTC and the
// machine's zone, and neither says where a recipient is. So is phonenumbers'
// "Etc/Unknown", which some systems' databases do not have.
func loadLocation(name string) (*time.Location, bool) {
	locMu.Lock()
	defer locMu.Unlock()
	loc, cached := locCache[name]
	if !cached {
		var err error
		loc, err = time.LoadLocation(name)
		if err != nil || name == "" || name == "Local" || name == "Etc/Unknown" {
			loc = nil
		}
		locCache[name] = loc
	}
	return loc, loc != nil
}
