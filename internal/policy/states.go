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
	// rolling StateCapPeriod on the same subject; 0: no state cap. stopline
	// reads "same subject" as the sender's program (see StateCap).
	FrequencyCap int
	// Source cites the statute or rule, and says how far it was checked.
	Source string
	// Checked is the date the source was last read.
	Checked string
}

// usFederalHolidays are the legal public holidays of 5 U.S.C. § 6103(a).
// The fixed-date ones are closed on their date and on the day they are
// observed when they fall on a weekend (§ 6103(b): Saturday -> the Friday
// before, Sunday -> the Monday after), since "holidays" in a state statute
// may be read either way. States that ban "holidays" observe at least these.
var usFederalHolidays = []string{"01-01 observed", "01-Mon-3", "02-Mon-3", "05-Mon-L", "06-19 observed",
	"07-04 observed", "09-Mon-1", "10-Mon-2", "11-11 observed", "11-Thu-4", "12-25 observed"}

func hm(h, m int) time.Duration { return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute }

// checked is the date every row below was last checked against its
// sources.
const checked = "2026-12-01"

// StateRules are the states whose law is stricter than the TCPA's
// 08:00-21:00 (47 CFR § 64.1200(c)(1)), which applies to every other state.
// The README's compliance table lists the same rows; keep them together.
// Each Source names the section, says whether the rule was read in the
// statute's text ("primary") or only in secondary sources (news, law-firm
// and compliance guides), and which parts. Where only secondary sources
// were found the row keeps their reading, which is the stricter one.
// Rows are not legal advice.
var StateRules = []StateRule{
	{State: "FL", Window: Window{Start: hm(8, 0), End: hm(20, 0)}, FrequencyCap: 3, Checked: checked,
		Source: "Fla. Stat. § 501.616(6)(a)-(b) (Florida Telemarketing Act, as amended by ch. 2021-185, CS/SB 1120). " +
			"Primary: (a) \"before 8 a.m. or after 8 p.m. local time in the called person's time zone\" read in the codified " +
			"section (lawserver.com copy); (b) \"More than three commercial telephone solicitation phone calls from any number " +
			"to a person over a 24-hour period on the same subject matter or issue, regardless of the phone number used\" read " +
			"in the bill's text (flsenate.gov, SB 1120 as filed; the enrolled CS's title keeps both). § 501.059 (FTSA; its 2023 " +
			"amendment was not read) governs consent for automated calls, not hours or counts."},
	{State: "OK", Window: Window{Start: hm(8, 0), End: hm(20, 0)}, FrequencyCap: 3, Checked: checked,
		Source: "Okla. Stat. tit. 15, § 775C.1 et seq. (Telephone Solicitation Act of 2022, HB 3168, in force 2022-11-01). " +
			"Secondary for the numbers: the enrolled bill's title (legiplex.com) was read and provides \"the time frame\" and " +
			"\"a specified number of ... calls to a person over a specified time frame\", but the text of the sections with them was not found; " +
			"8 a.m.-8 p.m. and three per 24 hours on the same matter come from the Oklahoma Senate's release (KFOR, " +
			"Bartlesville Radio) and DNC.com's note. § 775C.2 (definitions) read: its consent definition names text messages."},
	{State: "MD", Window: Window{Start: hm(8, 0), End: hm(20, 0)}, FrequencyCap: 3, Checked: checked,
		Source: "Md. Code, Com. Law § 14-4502 (Stop the Spam Calls Act of 2023, SB 90, ch. 413, in force 2024-01-01). " +
			"Secondary for the hours and the cap: § 14-4501 (definitions; text messages included) and § 14-4502(a)(1)-(3) " +
			"(exemptions, written consent) were read (self-law.org, lexace.ai copies) and the General Assembly's bill page says " +
			"the Act restricts \"methods, times\", but the paragraphs with the hours and the count were not found; 8 a.m.-8 p.m. " +
			"in the called party's time zone and three per 24 hours on the same subject come from WMAR and WBAL news reports."},
	{State: "CT", Window: Window{Start: hm(9, 0), End: hm(20, 0)}, Checked: checked,
		Source: "Conn. Gen. Stat. § 42-288a as amended by P.A. 23-98 (SB 1058, in force 2023-10-01). Secondary for the hours: " +
			"the section's definitions were read (lawserver.com copy: \"marketing or sales solicitation\" includes a text or " +
			"media message), and § 42-288(c) (rebuttable presumption for Connecticut area codes, self-law.org copy), but the " +
			"hours paragraph was not found; \"nine o'clock a.m. and eight o'clock p.m.\" is as quoted by Klein Moynihan Turco."},
	{State: "TX", Window: Window{Start: hm(9, 0), End: hm(21, 0), Days: map[time.Weekday]Hours{time.Sunday: {hm(12, 0), hm(21, 0)}}},
		Checked: checked,
		Source: "Tex. Bus. & Com. Code § 301.051 (telephone solicitation requirements). Secondary: the section exists (instalawyer.io " +
			"chapter index) but its text was not found; 9 a.m.-9 p.m. Monday to Saturday and noon-9 p.m. Sunday come from " +
			"a compliance guide (tcpaguide.org). §§ 304 and 305 (no-call list, fax hours) read; they set no text hours. " +
			"SB 140 (2025) applies chapter 302 (registration) to text messages from 2025-09-01, per a provider's note; not read."},
	{State: "AL", Window: Window{Start: hm(8, 0), End: hm(20, 0), NoSundays: true,
		Holidays: append(slices.Clone(usFederalHolidays), "04-Mon-4", "06-Mon-1")}, Checked: checked,
		Source: "Ala. Admin. Code r. 770-X-5-.17(1)(b) (Public Service Commission, automated solicitation calls). Primary: \"No " +
			"solicitation calls are allowed on Sundays or holidays ... none will be placed prior to 8 a.m. or after 8 p.m.\" " +
			"Holidays: Ala. Code § 1-3-8(a), primary (uslawyerdatabase.com copy; the same text in HB 155 of 2025, legiplex.com): " +
			"the federal ones plus Confederate Memorial Day (4th Monday of April) and Jefferson Davis' birthday (1st Monday of " +
			"June); \"If any holiday falls on Sunday, the following day is the holiday. If any holiday falls on Saturday, the " +
			"preceding day is the holiday.\" Mardi Gras (Mobile and Baldwin counties only) is not included. Ala. Code § 8-19A " +
			"(Telemarketing Act) was not read."},
	{State: "LA", Window: Window{Start: hm(8, 0), End: hm(20, 0), NoSundays: true,
		Holidays: append(slices.Clone(usFederalHolidays), "01-08", "easter-47", "easter-2", "08-30", "11-01")}, Checked: checked,
		Source: "La. R.S. 45:811 (automatic dialing and announcing equipment): only 8:00 a.m.-8:00 p.m. Monday to Saturday, " +
			"never on Sundays or state holidays; primary (the section's text). Holidays: La. R.S. 1:55(A)(1), primary " +
			"(legis.la.gov): the federal ones plus January 8 (Battle of New Orleans), Mardi Gras, Good Friday, August 30 " +
			"(Huey P. Long Day) and November 1 (All Saints' Day). Not encoded: the governor's proclaimed holidays, Inauguration " +
			"Day in Baton Rouge, and the Saturdays that § 1:55 makes legal holidays in Orleans and some other parishes. " +
			"La. R.S. 45:844.1 ff. (Telephone Solicitation Relief Act) was not read."},
}

// UnknownUS is the rule for a US number whose area code names no state
// (5XX, toll-free 8XX) and whose recipient's state is not known: the
// strictest reading of every row of StateRules together, since the
// recipient may live in any of them. It comes to 09:00-20:00, no Sundays,
// every state's holidays, 3 per 24 hours.
var UnknownUS = func() StateRule {
	r := StateRule{Window: DefaultWindow("US"), Checked: checked,
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
