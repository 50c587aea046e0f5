package policy

import (
	"slices"
	"strconv"

	"github.com/nyaruka/phonenumbers"
)

// regionZones are the zones assumed for a number of a multi-zone country when
// its own zones are unknown: toll-free and other non-geographic numbers, or
// numbers phonenumbers has no zone for. They cover where such a recipient can
// be, so NextAllowed's most restrictive reading keeps every one of them in
// its window. (phonenumbers' own list for +1 has 42 zones from Guam to
// Newfoundland, whose windows barely overlap.)
var regionZones = map[string][]string{
	// The 50 states: Eastern, Central, Mountain, Arizona, Pacific, Alaska, Hawaii.
	"US": {"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
		"America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu"},
	"CA": {"America/St_Johns", "America/Halifax", "America/Toronto", "America/Winnipeg",
		"America/Regina", "America/Edmonton", "America/Vancouver"},
	"FR": {"Europe/Paris"},
}

// Zones returns the IANA time zones a phone number may be in, from
// phonenumbers' prefix data: one for most numbers ("+33612345678" ->
// Europe/Paris), several where an area code spans zones ("+12085550123" ->
// America/Boise, America/Los_Angeles). The list is sorted and never empty:
//
//   - a number whose zones are those of its whole country code
//     (non-geographic, such as +1 800) gets its region's zones from
//     regionZones when stopline has them, else the country's list;
//   - a number with no known zone gets its region's zones, else UTC;
//   - a string that is not a phone number in E.164 form gets UTC.
//
// phonenumbers locates numbers by the prefix they were issued under, so a
// mobile number that moved with its owner is placed where it was issued.
func Zones(e164 string) []string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return []string{"UTC"}
	}
	tzs, _ := phonenumbers.GetTimezonesForNumber(num)
	tzs = loadable(tzs)
	if len(tzs) == 0 || len(tzs) > 1 && slices.Equal(tzs, countryZones(num.GetCountryCode())) {
		// An invalid number has no region of its own: use the country
		// code's main one (+1: US).
		for _, region := range []string{
			phonenumbers.GetRegionCodeForNumber(num),
			phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode())),
		} {
			if z, ok := regionZones[region]; ok {
				return slices.Sorted(slices.Values(z))
			}
		}
	}
	if len(tzs) == 0 {
		return []string{"UTC"}
	}
	slices.Sort(tzs)
	return tzs
}

// countryZones returns phonenumbers' zones for a whole country code.
func countryZones(cc int32) []string {
	tzs, _ := phonenumbers.GetTimezonesForPrefix(strconv.Itoa(int(cc)))
	return loadable(tzs)
}

// loadable returns the names that load as locations, in a new slice:
// phonenumbers answers "Etc/Unknown" for numbers it cannot place.
func loadable(names []string) []string {
	var out []string
	for _, n := range names {
		if _, ok := loadLocation(n); ok {
			out = append(out, n)
		}
	}
	return out
}
