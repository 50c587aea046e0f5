package policy

import "testing"

func TestZIPState(t *testing.T) {
	checkStateReader(t, "ZIPState", ZIPState, map[string]string{
		"10001": "NY", "00501": "NY", "33101": "FL", "32801": "FL", "34102": "FL", "90210": "CA",
		"60601": "IL", "73301": "TX", "75001": "TX", "79901": "TX", "88510": "TX", "73102": "OK",
		"74103": "OK", "20500": "DC", "56901": "DC", "20166": "VA", "21201": "MD", "06103": "CT",
		"02134": "MA", "05501": "MA", "05401": "VT", "35203": "AL", "70112": "LA", "71601": "AR",
		"89101": "NV", "96813": "HI", "99501": "AK", "83702": "ID", "59601": "MT",
		" 33101-1234 ": "FL", "331011234": "FL", "": "",
		"00601": "", "00802": "", "09001": "", "34002": "", "96201": "", "96910": "", // territories, military
		"3310": "!", "ABCDE": "!", "33101-12": "!", "3310-11234": "!", "M5V 3L9": "!", "331012": "!",
		"00001": "!", "69401": "!", "71501": "!", "73201": "!", "89901": "!",
	})
	if _, err := ZIPState("2134"); err == nil || err.Error() != `"2134" is not a US ZIP Code (want 5 digits, or ZIP+4 like 33101-1234); a spreadsheet may have dropped its leading zero` {
		t.Errorf("ZIPState(2134) error = %v", err)
	}
}

// The prefix table is sorted, without overlaps, names only known states,
// and places every state and DC somewhere.
func TestZIP3RangesSorted(t *testing.T) {
	seen := map[string]bool{}
	for i, r := range zip3Ranges {
		if r.from > r.to || r.from < 0 || r.to > 999 {
			t.Errorf("range %d: %03d-%03d", i, r.from, r.to)
		}
		if i > 0 && r.from <= zip3Ranges[i-1].to {
			t.Errorf("range %d (%03d-%03d) overlaps or precedes the one before", i, r.from, r.to)
		}
		if _, ok := stateNames[r.state]; r.state != "" && !ok {
			t.Errorf("range %d: unknown state %q", i, r.state)
		}
		seen[r.state] = true
	}
	for code := range stateNames {
		if !seen[code] {
			t.Errorf("%s has no ZIP prefix", code)
		}
	}
}
