package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Independent readings of each state's rule, hour by hour, written from
// the statutes rather than from StateRules, so a wrong row fails.
var (
	// July 4, 2026 is a Saturday: observed on Friday July 3.
	federal2026 = []string{"2026-01-01", "2026-01-19", "2026-02-16", "2026-05-25", "2026-06-19", "2026-07-03", "2026-07-04",
		"2026-09-07", "2026-10-12", "2026-11-11", "2026-11-26", "2026-12-25"}
	alabama2026   = append([]string{"2026-04-27", "2026-06-01"}, federal2026...)
	louisiana2026 = append([]string{"2026-01-08", "2026-02-17", "2026-04-03", "2026-08-30", "2026-11-01"}, federal2026...)
)

func hours(from, to int) func(time.Time) bool {
	return func(lt time.Time) bool { return lt.Hour() >= from && lt.Hour() < to }
}

func restDays(dates []string, open func(time.Time) bool) func(time.Time) bool {
	return func(lt time.Time) bool {
		for _, d := range dates {
			if lt.Format(time.DateOnly) == d {
				return false
			}
		}
		return lt.Weekday() != time.Sunday && open(lt)
	}
}

var stateCases = []struct {
	name, phone, residence string
	open                   func(lt time.Time) bool // in each of the number's zones
}{
	{"FL (Miami)", "+13055550123", "", hours(8, 20)},
	{"OK (Oklahoma City)", "+14055550123", "", hours(8, 20)},
	{"MD (Baltimore)", "+14105550123", "", hours(8, 20)},
	{"CT (New Haven)", "+12035550123", "", hours(9, 20)},
	{"TX (Dallas)", "+12145550123", "", func(lt time.Time) bool {
		if lt.Weekday() == time.Sunday {
			return lt.Hour() >= 12 && lt.Hour() < 21
		}
		return lt.Hour() >= 9 && lt.Hour() < 21
	}},
	{"AL (Birmingham)", "+12055550123", "", restDays(alabama2026, hours(8, 20))},
	{"LA (New Orleans)", "+15045550123", "", restDays(louisiana2026, hours(8, 20))},
	{"NY: TCPA only", "+12125550123", "", hours(8, 21)},
	{"NY number living in FL", "+12125550123", "FL", hours(8, 20)},
	{"NY number living in CT", "+12125550123", "CT", hours(9, 20)},
	{"toll-free living in TX", "+18005550123", "TX", func(lt time.Time) bool {
		return hours(9, 21)(lt) && (lt.Weekday() != time.Sunday || lt.Hour() >= 12)
	}},
	{"unknown US (toll-free)", "+18005550123", "",
		restDays(append(append([]string{}, alabama2026...), louisiana2026...), hours(9, 20))},
	{"unknown US (invalid +1 number)", "+15550001111", "",
		restDays(append(append([]string{}, alabama2026...), louisiana2026...), hours(9, 20))},
	{"unknown US (5XX)", "+15005550123", "",
		restDays(append(append([]string{}, alabama2026...), louisiana2026...), hours(9, 20))},
}

// Weeks around the 2026 US DST changes and some holidays.
var stateWeeks = []string{"2026-03-05T00:00:00Z", "2026-10-29T00:00:00Z", "2026-05-21T00:00:00Z",
	"2026-03-31T00:00:00Z", "2026-11-22T00:00:00Z", "2026-06-30T00:00:00Z", "2026-01-05T00:00:00Z"}

// TestStateRules checks, minute by minute across each week, that the legal
// window of a number is open exactly when the statute's reading is in every
// zone of the number, and that NextAllowed finds the next such minute.
func TestStateRules(t *testing.T) {
	for _, c := range stateCases {
		t.Run(c.name, func(t *testing.T) {
			w, zones := LegalWindow(c.phone, c.residence), Zones(c.phone)
			locs := locations(zones)
			want := func(u time.Time) bool {
				for _, loc := range locs {
					if !c.open(u.In(loc)) {
						return false
					}
				}
				return true
			}
			for _, week := range stateWeeks {
				checkWeek(t, utc(week), zones, w, want)
			}
		})
	}
}

// checkWeek is the shared runner: a week of minutes, with four days more to
// find the next open minute of the week's last ones.
func checkWeek(t *testing.T, from time.Time, zones []string, w Window, want func(time.Time) bool) {
	t.Helper()
	const week, span = 7 * 24 * 60, 11 * 24 * 60
	open := make([]bool, span)
	for m := range span {
		open[m] = want(from.Add(time.Duration(m) * time.Minute))
	}
	next := make([]int, span+1)
	next[span] = -1
	for m := span - 1; m >= 0; m-- {
		if open[m] {
			next[m] = m
		} else {
			next[m] = next[m+1]
		}
	}
	errs := 0
	for m := 0; m < week && errs < 5; m++ {
		now := from.Add(time.Duration(m) * time.Minute)
		got := NextAllowed(now, zones, w)
		if next[m] < 0 {
			t.Fatalf("%s: the reading is closed for 4 days", now)
		}
		if exp := from.Add(time.Duration(next[m]) * time.Minute); !got.Equal(exp) {
			t.Errorf("NextAllowed(%s) = %s; want %s", now.Format(time.RFC3339), got.UTC().Format(time.RFC3339), exp.Format(time.RFC3339))
			errs++
		}
		if closes := WindowCloses(now, zones, w); open[m] != !closes.IsZero() && len(zones) == 1 {
			t.Errorf("WindowCloses(%s) = %s; open %v", now.Format(time.RFC3339), closes, open[m])
			errs++
		}
	}
}

// Holidays that fall on a weekend close their observed weekday too (the
// Friday before a Saturday, the Monday after a Sunday; 5 U.S.C. § 6103(b),
// Ala. Code § 1-3-8(a)), across years and a year's end; the date itself
// stays closed. Dates read from a calendar, not computed.
func TestObservedHolidays(t *testing.T) {
	tests := []struct {
		state, date string
		closed      bool
		why         string
	}{
		{"AL", "2026-07-03", true, "July 4, 2026 is a Saturday"},
		{"AL", "2026-07-04", true, "the date itself"},
		{"AL", "2026-07-06", false, "a Saturday holiday moves to Friday, not Monday"},
		{"LA", "2026-07-03", true, "July 4, 2026 is a Saturday"},
		{"", "2026-07-03", true, "unknown US keeps every state's holidays"},
		{"TX", "2026-07-03", false, "Texas bans no holidays"},
		{"AL", "2026-12-28", false, "Christmas 2026 is a Friday"},
		{"AL", "2027-06-18", true, "Juneteenth 2027 is a Saturday"},
		{"AL", "2027-07-05", true, "July 4, 2027 is a Sunday"},
		{"AL", "2027-12-24", true, "Christmas 2027 is a Saturday"},
		{"AL", "2027-12-27", false, "a Saturday holiday moves to Friday"},
		{"AL", "2027-12-31", true, "January 1, 2028 is a Saturday: observed the year before"},
		{"AL", "2028-01-03", false, "nor the Monday after"},
		{"LA", "2027-11-01", true, "All Saints' Day, a Monday in 2027"},
		{"LA", "2027-01-08", true, "Battle of New Orleans, a Friday in 2027"},
		{"AL", "2022-12-26", true, "Christmas 2022 is a Sunday"},
		{"AL", "2023-01-02", true, "January 1, 2023 is a Sunday"},
		{"AL", "2023-11-10", true, "Veterans Day 2023 is a Saturday"},
		{"AL", "2021-06-18", true, "Juneteenth 2021 is a Saturday"},
		{"AL", "2022-06-20", true, "Juneteenth 2022 is a Sunday"},
		{"AL", "2026-11-11", true, "Veterans Day 2026, a Wednesday"},
		{"AL", "2026-11-12", false, "the day after a weekday holiday"},
	}
	for _, tt := range tests {
		d, err := time.Parse(time.DateOnly, tt.date)
		if err != nil {
			t.Fatal(err)
		}
		noon := d.Add(12 * time.Hour)
		if got := closedDay(noon, Rule(tt.state).Window); got != tt.closed {
			t.Errorf("%s %s (%s): closed %v; want %v", tt.state, tt.date, tt.why, got, tt.closed)
		}
	}
}

func TestFranceMovingHolidays(t *testing.T) {
	fr, paris := DefaultWindow("FR"), []string{"Europe/Paris"}
	closed := map[string]bool{
		"2026-04-06": true, "2026-05-14": true, "2026-05-25": true, // Easter Monday, Ascension, Whit Monday 2026
		"2027-03-29": true, "2027-05-06": true, "2027-05-17": true, // and 2027
		"2026-01-01": true, "2026-05-01": true, "2026-05-08": true, "2026-07-14": true, "2026-08-15": true,
		"2026-11-01": true, "2026-11-11": true, "2026-12-25": true, "2027-05-01": true, "2027-05-08": true,
	}
	want := func(u time.Time) bool {
		lt := u.In(locations(paris)[0])
		tod := clock(lt)
		return lt.Weekday() != time.Sunday && !closed[lt.Format(time.DateOnly)] && tod >= 8*time.Hour && tod < 21*time.Hour+30*time.Minute
	}
	for _, week := range []string{"2026-04-01T00:00:00Z", "2026-05-12T00:00:00Z", "2026-05-21T00:00:00Z",
		"2027-03-25T00:00:00Z", "2027-05-04T00:00:00Z", "2027-05-14T00:00:00Z"} {
		checkWeek(t, utc(week), paris, fr, want)
	}
}

func TestEaster(t *testing.T) {
	for y, want := range map[int]string{2024: "2024-03-31", 2025: "2025-04-20", 2026: "2026-04-05",
		2027: "2027-03-28", 2038: "2038-04-25", 2285: "2285-03-22", 1818: "1818-03-22"} {
		if got := Easter(y).Format(time.DateOnly); got != want {
			t.Errorf("Easter(%d) = %s; want %s", y, got, want)
		}
	}
}

func TestAreaCodeState(t *testing.T) {
	for phone, want := range map[string]string{
		"+13055550123": "FL", "+18505550123": "FL", "+12125550123": "NY", "+16465550123": "NY",
		"+12145550123": "TX", "+12025550123": "DC", "+18005550123": "", "+18885550123": "",
		"+15005550123": "", "+15215550123": "", "+17875550123": "", "+33612345678": "", "junk": "",
	} {
		if got := AreaCodeState(phone); got != want {
			t.Errorf("AreaCodeState(%s) = %q; want %q", phone, got, want)
		}
	}
}

func TestParseState(t *testing.T) {
	checkStateReader(t, "ParseState", ParseState, map[string]string{"FL": "FL", "fl": "FL", " Florida ": "FL",
		"new york": "NY", "Washington D.C.": "DC", "Washington State": "WA", "": "", "District": "!", "XX": "!", "Floridaa": "!"})
}

// checkStateReader is the runner of the audience-column readers' tables:
// input -> USPS code, "" for none, "!" for an error.
func checkStateReader(t *testing.T, name string, read func(string) (string, error), cases map[string]string) {
	t.Helper()
	for in, want := range cases {
		got, err := read(in)
		if want == "!" {
			if err == nil {
				t.Errorf("%s(%q) = %q; want an error", name, in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%s(%q) = %q, %v; want %q", name, in, got, err, want)
		}
	}
}

func TestIntersect(t *testing.T) {
	tx, fl := Rule("TX").Window, Rule("FL").Window
	w := Intersect(tx, fl)
	if h := w.hours(time.Sunday); h != (Hours{12 * time.Hour, 20 * time.Hour}) {
		t.Errorf("TX∩FL Sunday = %v; want 12:00-20:00", h)
	}
	if h := w.hours(time.Monday); h != (Hours{9 * time.Hour, 20 * time.Hour}) {
		t.Errorf("TX∩FL Monday = %v; want 09:00-20:00", h)
	}
	if h := Intersect(Window{Start: 9 * time.Hour, End: 10 * time.Hour}, Window{Start: 11 * time.Hour, End: 12 * time.Hour}).hours(time.Monday); h != (Hours{}) {
		t.Errorf("disjoint = %v; want closed", h)
	}
}

func TestStateRulesValid(t *testing.T) {
	for _, r := range append(StateRules, UnknownUS) {
		if err := r.Window.Validate(); err != nil {
			t.Errorf("%s: %v", r.State, err)
		}
		if r.Source == "" || r.Checked == "" {
			t.Errorf("%s: needs a source and the date it was checked", r.State)
		}
	}
	if u := UnknownUS.Window; u.hours(time.Monday) != (Hours{9 * time.Hour, 20 * time.Hour}) || !u.NoSundays || UnknownUS.FrequencyCap != 3 {
		t.Errorf("UnknownUS = %+v; want 09:00-20:00, no Sundays, cap 3", UnknownUS)
	}
}

// The generated area-code table must agree with phonenumbers' geocoding
// data: regenerate it after upgrading phonenumbers.
func TestAreaCodeTableMatchesGeocoding(t *testing.T) {
	for npa := 200; npa <= 999; npa++ {
		num, err := phonenumbers.Parse(fmt.Sprintf("+1%03d5550123", npa), "")
		if err != nil || !phonenumbers.IsValidNumberForRegion(num, "US") {
			continue
		}
		desc, _ := phonenumbers.GetGeocodingForNumber(num, "en")
		if i := strings.LastIndex(desc, ","); i >= 0 {
			desc = desc[i+1:] // "Windsor North, Orem, UT"
		}
		want, _ := ParseState(desc)
		if got := areaCodeState(num); got != want {
			t.Errorf("area code %d: table %q, geocoding %q (%q)", npa, got, want, desc)
		}
	}
}

// Every state has zones, and they load.
func TestStateZones(t *testing.T) {
	for code := range stateNames {
		if len(stateZones[code]) == 0 {
			t.Errorf("%s has no zones", code)
		}
		for _, z := range stateZones[code] {
			if _, err := time.LoadLocation(z); err != nil {
				t.Errorf("%s: %v", code, err)
			}
		}
	}
}

// A residence state's hours are checked in that state's zones as well as
// the number's, and the window must be open in all of them: a California
// number living in Florida gets no text after 20:00 Miami time (nor before
// 08:00 Los Angeles time), a New York number living in Texas none before
// 09:00 El Paso time.
func TestResidenceStateZones(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	chi, _ := time.LoadLocation("America/Chicago")
	tests := []struct {
		name, e164, state string
		now, want         time.Time
	}{
		{"CA number in FL at 20:30 Miami", "+13105550123", "FL",
			time.Date(2026, 12, 2, 20, 30, 0, 0, ny), time.Date(2026, 12, 3, 11, 0, 0, 0, ny)},
		{"NY number in TX at 08:00 Houston", "+12125550123", "TX",
			time.Date(2026, 12, 2, 8, 0, 0, 0, chi), time.Date(2026, 12, 2, 10, 0, 0, 0, chi)},
		{"NY number in NY at 10:00", "+12125550123", "NY",
			time.Date(2026, 12, 2, 10, 0, 0, 0, ny), time.Date(2026, 12, 2, 10, 0, 0, 0, ny)},
	}
	for _, tt := range tests {
		got := NextAllowed(tt.now, RecipientZones(tt.e164, tt.state), LegalWindow(tt.e164, tt.state))
		if !got.Equal(tt.want) {
			t.Errorf("%s: next allowed %v, want %v", tt.name, got.In(tt.now.Location()), tt.want.In(tt.now.Location()))
		}
	}
}
