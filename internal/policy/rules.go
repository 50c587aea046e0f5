package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// LegalRule is one of the rules that make up a recipient's legal window,
// named for people: "federal", "FL", "unknown US", "France".
type LegalRule struct {
	Name   string
	Window Window
	// FrequencyCap is the rule's cap per rolling StateCapPeriod; 0: none.
	FrequencyCap int
}

// LegalRules returns the rules whose intersection is LegalWindow(e164,
// residence), the region's first: the region's default, then the state
// rules of the number's area code and of the residence. A state without a
// row of its own adds nothing to the federal rule and is left out.
func LegalRules(e164, residence string) []LegalRule {
	num, region := parseRegion(e164)
	rules := []LegalRule{{Name: regionRuleName(region), Window: DefaultWindow(region)}}
	add := func(state string) {
		r := Rule(state)
		switch {
		case state == "":
			rules = append(rules, LegalRule{"unknown US", r.Window, r.FrequencyCap})
		case slices.ContainsFunc(StateRules, func(s StateRule) bool { return s.State == state }):
			rules = append(rules, LegalRule{state, r.Window, r.FrequencyCap})
		}
	}
	if region == "US" {
		if area := areaCodeState(num); area != "" || residence == "" {
			add(area)
		}
	}
	if residence != "" {
		add(residence)
	}
	return rules
}

// parseRegion parses an E.164 number and returns its region, "US" for a
// +1 number phonenumbers cannot place, since it may be in any state (Zones
// agrees), and "" if it does not parse.
func parseRegion(e164 string) (*phonenumbers.PhoneNumber, string) {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return nil, ""
	}
	region := phonenumbers.GetRegionCodeForNumber(num)
	if (region == "" || region == phonenumbers.UNKNOWN_REGION) && num.GetCountryCode() == 1 {
		region = "US"
	}
	return num, region
}

// IsUS reports whether state rules apply to a number's area code: a US
// number, or a +1 number phonenumbers cannot place.
func IsUS(e164 string) bool {
	_, region := parseRegion(e164)
	return region == "US"
}

func regionRuleName(region string) string {
	switch strings.ToUpper(region) {
	case "US":
		return "federal"
	case "FR":
		return "France"
	case "", phonenumbers.UNKNOWN_REGION:
		return "default"
	}
	return fmt.Sprintf("default (%s)", region)
}

// Combine is the window inside every rule: how LegalWindow applies them.
func Combine(rules []LegalRule) Window {
	w := rules[0].Window
	for _, r := range rules[1:] {
		w = Intersect(w, r.Window)
	}
	return w
}
