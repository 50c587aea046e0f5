package policy

import (
	"fmt"
	"sort"
	"strings"
)

// zip3Range is a run of 3-digit ZIP Code prefixes in one state.
type zip3Range struct {
	from, to int    // first and last prefix, inclusive
	state    string // USPS code; "" for a territory or a military post office
}

// zip3Ranges are the USPS 3-digit ZIP Code prefix assignments, by state,
// as runs of prefixes (USPS's ZIP Code prefix list, public data, as
// transcribed in public listings; the USPS file itself was not read;
// checked 2026-12-01). A few prefixes lie outside their state's main run:
// 005 (Holtsville, NY), 055 (Andover, MA), 201 (Dulles, VA), 569 (DC),
// 733 (Austin, TX), 885 (El Paso, TX). Prefixes inside a run that the USPS
// leaves unused read as that state. Territories (PR, VI, GU, ...) and
// military post offices (AA, AE, AP) name no state: they add no rule, and
// the number's own rule applies. Sorted by from; TestZIP3RangesSorted
// keeps them so.
var zip3Ranges = []zip3Range{
	{5, 5, "NY"}, {6, 7, ""}, {8, 8, ""}, {9, 9, ""}, // 006-009: PR, VI
	{10, 27, "MA"}, {28, 29, "RI"}, {30, 38, "NH"}, {39, 49, "ME"}, {50, 54, "VT"}, {55, 55, "MA"},
	{56, 59, "VT"}, {60, 69, "CT"}, {70, 89, "NJ"}, {90, 98, ""}, // 090-098: military (AE)
	{100, 149, "NY"}, {150, 196, "PA"}, {197, 199, "DE"}, {200, 200, "DC"}, {201, 201, "VA"},
	{202, 205, "DC"}, {206, 219, "MD"}, {220, 246, "VA"}, {247, 268, "WV"}, {270, 289, "NC"},
	{290, 299, "SC"}, {300, 319, "GA"}, {320, 339, "FL"}, {340, 340, ""}, // 340: military (AA)
	{341, 349, "FL"}, {350, 369, "AL"}, {370, 385, "TN"}, {386, 397, "MS"}, {398, 399, "GA"},
	{400, 427, "KY"}, {430, 459, "OH"}, {460, 479, "IN"}, {480, 499, "MI"}, {500, 528, "IA"},
	{530, 549, "WI"}, {550, 567, "MN"}, {569, 569, "DC"}, {570, 577, "SD"}, {580, 588, "ND"},
	{590, 599, "MT"}, {600, 629, "IL"}, {630, 658, "MO"}, {660, 679, "KS"}, {680, 693, "NE"},
	{700, 714, "LA"}, {716, 729, "AR"}, {730, 731, "OK"}, {733, 733, "TX"}, {734, 749, "OK"},
	{750, 799, "TX"}, {800, 816, "CO"}, {820, 831, "WY"}, {832, 838, "ID"}, {840, 847, "UT"},
	{850, 865, "AZ"}, {870, 884, "NM"}, {885, 885, "TX"}, {889, 898, "NV"}, {900, 961, "CA"},
	{962, 966, ""},                   // military (AP)
	{967, 968, "HI"}, {969, 969, ""}, // 969: Guam, Northern Marianas, ...
	{970, 979, "OR"}, {980, 994, "WA"}, {995, 999, "AK"},
}

// ZIPState returns the USPS code of the state a US ZIP Code ("33101",
// "33101-1234", "331011234") is in by its first three digits, "" for a
// territory or military post office, or an error for a value that is not a
// ZIP Code or whose prefix the USPS has not assigned. "" is no ZIP Code.
func ZIPState(zip string) (string, error) {
	s := strings.TrimSpace(zip)
	if s == "" {
		return "", nil
	}
	digits := s
	if len(s) == 10 && s[5] == '-' {
		digits = s[:5] + s[6:] // ZIP+4
	}
	if (len(digits) != 5 && len(digits) != 9) || !allDigits(digits) {
		if r := []rune(s); len(r) > 32 {
			s = string(r[:32]) + "..." // a row report, not an echo of the file
		}
		hint := ""
		if len(s) == 4 && allDigits(s) {
			hint = "; a spreadsheet may have dropped its leading zero"
		}
		return "", fmt.Errorf("%q is not a US ZIP Code (want 5 digits, or ZIP+4 like 33101-1234)%s", s, hint)
	}
	prefix := int(digits[0]-'0')*100 + int(digits[1]-'0')*10 + int(digits[2]-'0')
	i := sort.Search(len(zip3Ranges), func(i int) bool { return zip3Ranges[i].to >= prefix })
	if i == len(zip3Ranges) || zip3Ranges[i].from > prefix {
		return "", fmt.Errorf("ZIP Code %s: the prefix %03d is not assigned to any state", s, prefix)
	}
	return zip3Ranges[i].state, nil
}

func allDigits(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
}
