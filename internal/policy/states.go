package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// StateRule is one US state's law on marketing texts, as data: the hours
// per weekday, the rest days and holidays in Window, and the frequency cap.
type StateRule struct {
	State  string // USPS code
	Window Window
	// FrequencyCap is the most marketing messages a recipient may get in a
	// rolling 24 hours on the same subject; 0: no state cap. Recorded here
	// for the cap enforcement of issue 17 item 2; nothing enforces it yet.
	FrequencyCap int
	// Source cites the statute or rule, and says how far it was checked.
	Source string
	// Checked is the date the source was last read.
	Checked string
}

// usFederalHolidays are the legal public holidays of 5 U.S.C. § 6103(a), on
// their dates rather than the Friday or Monday they are observed on. States
// that ban "holidays" observe at least these.
var usFederalHolidays = []string{"01-01", "01-Mon-3", "02-Mon-3", "05-Mon-L", "06-19", "07-04",
	"09-Mon-1", "10-Mon-2", "11-11", "11-Thu-4", "12-25"}

func hm(h, m int) time.Duration { return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute }

// StateRules are the states whose law is stricter than the TCPA's
// 08:00-21:00 (47 CFR § 64.1200(c)(1)), which applies to every other state.
// The README's compliance table lists the same rows; keep them together.
// A row's Source says whether its text was read in a primary source or only
// in secondary ones; rows are not legal advice.
var StateRules = []StateRule{
	{State: "FL", Window: Window{Start: hm(8, 0), End: hm(20, 0)}, FrequencyCap: 3, Checked: "2026-12-01",
		Source: "Fla. Stat. § 501.616(6) as amended by ch. 2021-185 (SB 1120): no commercial telephone solicitation " +
			"before 8 a.m. or after 8 p.m. local time of the called person, nor more than 3 in 24 hours on the same subject. " +
			"Checked against the enrolled bill's title (flsenate.gov) and Nolo's summary; the section's current text was not read."},
	{State: "OK", Window: Window{Start: hm(8, 0), End: hm(20, 0)}, FrequencyCap: 3, Checked: "2026-12-01",
		Source: "Okla. Stat. tit. 15, § 775C.1 et seq. (Telephone Solicitation Act of 2022, HB 3168): 8 a.m.-8 p.m., " +
			"3 per 24 hours. Definitions (§ 775C.2) read; hours and cap from secondary sources only (DNC.com, Nolo): not verified."},
	{State: "MD", Window: Window{Start: hm(8, 0), End: hm(20, 0)}, FrequencyCap: 3, Checked: "2026-12-01",
		Source: "Md. Code, Com. Law § 14-4502 (Stop the Spam Calls Act of 2023, SB 90, in force 2024-01-01): 8 a.m.-8 p.m. " +
			"in the called party's time zone, 3 calls or texts per 24 hours on the same subject. § 14-4502(a) read in part; " +
			"hours and cap from secondary sources (WMAR, DNC.com, Kelley Drye): not verified in the text."},
	{State: "CT", Window: Window{Start: hm(9, 0), End: hm(20, 0)}, Checked: "2026-12-01",
		Source: "Conn. Gen. Stat. § 42-288a as amended by P.A. 23-98 (SB 1058, in force 2023-10-01), text messages included: " +
			"\"between the hours of nine o'clock a.m. and eight o'clock p.m. local time\", as quoted by Klein Moynihan Turco; " +
			"the section's current text (cga.ct.gov) was not read that far: partly verified."},
	{State: "TX", Window: Window{Start: hm(9, 0), End: hm(21, 0), Days: map[time.Weekday]Hours{time.Sunday: {hm(12, 0), hm(21, 0)}}},
		Checked: "2026-12-01",
		Source: "Tex. Bus. & Com. Code § 301.051: 9 a.m.-9 p.m. Monday to Saturday, noon-9 p.m. Sunday. " +
			"Not verified: the statute's text was not found; one secondary source agrees on Sundays from noon."},
	{State: "AL", Window: Window{Start: hm(8, 0), End: hm(20, 0), NoSundays: true,
		Holidays: append(slices.Clone(usFederalHolidays), "04-Mon-4", "06-Mon-1")}, Checked: "2026-12-01",
		Source: "Ala. Admin. Code r. 770-X-5-.17(1)(b) (Public Service Commission, automated solicitation calls): " +
			"\"No solicitation calls are allowed on Sundays or holidays ... none will be placed prior to 8 a.m. or after 8 p.m.\" " +
			"Verified in the rule's text. Holidays: federal ones plus Confederate Memorial Day and Jefferson Davis' birthday " +
			"(Ala. Code § 1-3-8, from secondary sources, not verified); Mardi Gras (Mobile and Baldwin counties only) is not included."},
	{State: "LA", Window: Window{Start: hm(8, 0), End: hm(20, 0), NoSundays: true,
		Holidays: append(slices.Clone(usFederalHolidays), "easter-47", "easter-2")}, Checked: "2026-12-01",
		Source: "La. R.S. 45:811 (automatic dialing and announcing equipment): only 8:00 a.m.-8:00 p.m. Monday to Saturday, " +
			"never on Sundays or state holidays. Verified in the section's text. Holidays: federal ones plus Mardi Gras and " +
			"Good Friday (La. R.S. 1:55, not verified; the governor may declare more, which this table cannot know)."},
}

// UnknownUS is the rule for a US number whose area code names no state
// (5XX, toll-free 8XX) and whose recipient's state is not known: the
// strictest reading of every row of StateRules together, since the
// recipient may live in any of them. It comes to 09:00-20:00, no Sundays,
// every state's holidays, 3 per 24 hours.
var UnknownUS = func() StateRule {
	r := StateRule{Window: DefaultWindow("US"), Checked: "2026-12-01",
		Source: "derived: the intersection of every state row and the TCPA"}
	for _, s := range StateRules {
		r.Window = Intersect(r.Window, s.Window)
		if s.FrequencyCap > 0 && (r.FrequencyCap == 0 || s.FrequencyCap < r.FrequencyCap) {
			r.FrequencyCap = s.FrequencyCap
		}
	}
	return r
}()

// Rule returns the rule of a US state (USPS code): its row of StateRules,
// UnknownUS for "", and the TCPA's window for a state with no row.
func Rule(state string) StateRule {
	if state == "" {
		return UnknownUS
	}
	for _, r := range StateRules {
		if r.State == state {
			return r
		}
	}
	return StateRule{State: state, Window: DefaultWindow("US"), Source: "47 CFR § 64.1200(c)(1) (TCPA)"}
}

// LegalWindow is the marketing window the law sets for a recipient: the
// region's default and, for a US number, the rule of the state its area
// code belongs to. residence, a USPS state code from the audience file or
// "", adds the rule of the state the recipient lives in; the stricter of
// the two applies, since the law follows the recipient and a number does
// not prove where they are. For a non-geographic US number with a known
// residence, the residence alone decides.
func LegalWindow(e164, residence string) Window {
	return Combine(LegalRules(e164, residence))
}

//go:generate go run ./internal/genareacodes

// AreaCodeState returns the USPS code of the state a US number's area code
// belongs to, or "" when it names no state (toll-free, 5XX) or the number
// is not a valid US number. The table is phonenumbers' geocoding data
// ("Florida", "New York, NY") reduced to area codes, since loading that
// data takes about half a second: too long inside workflow code, whose
// deadlock detector allows one second.
func AreaCodeState(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	return areaCodeState(num)
}

func areaCodeState(num *phonenumbers.PhoneNumber) string {
	if !phonenumbers.IsValidNumberForRegion(num, "US") {
		return ""
	}
	return areaCodeStates[int(num.GetNationalNumber()/10_000_000)]
}

// ParseState reads a US state as an audience file or phonenumbers gives
// it: a USPS code ("FL", "fl") or a name ("Florida", "Washington D.C.",
// "Washington State").
// "" is no state.
func ParseState(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) == 2 {
		code := strings.ToUpper(s)
		if _, ok := stateNames[code]; ok {
			return code, nil
		}
	}
	key := strings.ToLower(strings.NewReplacer(".", "", "  ", " ").Replace(s))
	key = strings.TrimSuffix(key, " state") // "Washington State"
	for code, name := range stateNames {
		if strings.ToLower(name) == key {
			return code, nil
		}
	}
	if r := []rune(s); len(r) > 32 {
		s = string(r[:32]) + "..." // a row report, not an echo of the file
	}
	return "", fmt.Errorf("%q is not a US state (want a code like FL or a name like Florida)", s)
}

// stateNames are the 50 states and DC by USPS code.
var stateNames = map[string]string{
	"AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
	"CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "Washington DC", "FL": "Florida",
	"GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa",
	"KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
	"MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri",
	"MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
	"NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio",
	"OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
	"SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
	"VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
}

// stateZones are the time zones of each state, by USPS code, every zone
// where some of its people live: a window is checked in all of them.
var stateZones = map[string][]string{
	"AL": {"America/Chicago"}, "AK": {"America/Anchorage", "America/Adak"}, "AZ": {"America/Phoenix"},
	"AR": {"America/Chicago"}, "CA": {"America/Los_Angeles"}, "CO": {"America/Denver"},
	"CT": {"America/New_York"}, "DE": {"America/New_York"}, "DC": {"America/New_York"},
	"FL": {"America/New_York", "America/Chicago"}, "GA": {"America/New_York"}, "HI": {"Pacific/Honolulu"},
	"ID": {"America/Boise", "America/Los_Angeles"}, "IL": {"America/Chicago"},
	"IN": {"America/Indiana/Indianapolis", "America/Chicago"}, "IA": {"America/Chicago"},
	"KS": {"America/Chicago", "America/Denver"}, "KY": {"America/New_York", "America/Chicago"},
	"LA": {"America/Chicago"}, "ME": {"America/New_York"}, "MD": {"America/New_York"},
	"MA": {"America/New_York"}, "MI": {"America/Detroit", "America/Menominee"}, "MN": {"America/Chicago"},
	"MS": {"America/Chicago"}, "MO": {"America/Chicago"}, "MT": {"America/Denver"},
	"NE": {"America/Chicago", "America/Denver"}, "NV": {"America/Los_Angeles", "America/Denver"},
	"NH": {"America/New_York"}, "NJ": {"America/New_York"}, "NM": {"America/Denver"},
	"NY": {"America/New_York"}, "NC": {"America/New_York"}, "ND": {"America/Chicago", "America/Denver"},
	"OH": {"America/New_York"}, "OK": {"America/Chicago"}, "OR": {"America/Los_Angeles", "America/Boise"},
	"PA": {"America/New_York"}, "RI": {"America/New_York"}, "SC": {"America/New_York"},
	"SD": {"America/Chicago", "America/Denver"}, "TN": {"America/Chicago", "America/New_York"},
	"TX": {"America/Chicago", "America/Denver"}, "UT": {"America/Denver"}, "VT": {"America/New_York"},
	"VA": {"America/New_York"}, "WA": {"America/Los_Angeles"}, "WV": {"America/New_York"},
	"WI": {"America/Chicago"}, "WY": {"America/Denver"},
}

// RecipientZones are the zones a recipient's window is checked in: the
// number's, and those of the state they live in, since a number moves with
// its owner and the law follows where they are.
func RecipientZones(e164, residence string) []string {
	zones := slices.Clone(Zones(e164))
	for _, z := range stateZones[residence] {
		if !slices.Contains(zones, z) {
			zones = append(zones, z)
		}
	}
	slices.Sort(zones)
	return zones
}
