package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNextAllowed(t *testing.T) {
	us, fr := DefaultWindow("US"), DefaultWindow("FR")
	ny := []string{"America/New_York"}
	paris := []string{"Europe/Paris"}
	tests := []struct {
		name  string
		now   string
		zones []string
		w     Window
		want  string
	}{
		{"inside: now", "2026-06-10T15:00:00Z", ny, us, "2026-06-10T15:00:00Z"},                             // 11:00 EDT
		{"at opening: now", "2026-06-10T12:00:00Z", ny, us, "2026-06-10T12:00:00Z"},                         // 08:00 EDT
		{"last second", "2026-06-11T00:59:59Z", ny, us, "2026-06-11T00:59:59Z"},                             // 20:59:59 EDT
		{"before opening: later today", "2026-06-10T10:00:00Z", ny, us, "2026-06-10T12:00:00Z"},             // 06:00 EDT
		{"at closing: opens tomorrow", "2026-06-11T01:00:00Z", ny, us, "2026-06-11T12:00:00Z"},              // 21:00 EDT
		{"late evening: opens tomorrow", "2026-06-11T03:30:00Z", ny, us, "2026-06-11T12:00:00Z"},            // 23:30 EDT
		{"winter offset", "2026-01-15T12:00:00Z", ny, us, "2026-01-15T13:00:00Z"},                           // 07:00 EST
		{"US DST starts: 08:00 EDT", "2026-03-08T06:00:00Z", ny, us, "2026-03-08T12:00:00Z"},                // 01:00 EST
		{"US DST starts, asked the evening before", "2026-03-08T03:00:00Z", ny, us, "2026-03-08T12:00:00Z"}, // 22:00 EST
		{"US DST ends: 08:00 EST", "2026-11-01T04:30:00Z", ny, us, "2026-11-01T13:00:00Z"},                  // 00:30 EDT
		{"US DST ends, inside after the change", "2026-11-01T20:00:00Z", ny, us, "2026-11-01T20:00:00Z"},    // 15:00 EST
		{"Paris DST starts (default window)", "2026-03-29T00:30:00Z", paris, us, "2026-03-29T06:00:00Z"},    // 01:30 CET -> 08:00 CEST
		{"France: Paris DST day is a Sunday", "2026-03-28T21:00:00Z", paris, fr, "2026-03-30T06:00:00Z"},    // Sat 22:00 CET -> Mon 08:00 CEST
		{"France: Sunday", "2026-06-14T10:00:00Z", paris, fr, "2026-06-15T06:00:00Z"},                       // Sun 12:00 CEST
		{"France: Saturday inside", "2026-06-13T10:00:00Z", paris, fr, "2026-06-13T10:00:00Z"},
		{"France: 21:29 inside", "2026-06-10T19:29:00Z", paris, fr, "2026-06-10T19:29:00Z"},
		{"France: 21:30 closed", "2026-06-10T19:30:00Z", paris, fr, "2026-06-11T06:00:00Z"},
		{"France: 14 July", "2026-07-14T08:00:00Z", paris, fr, "2026-07-15T06:00:00Z"}, // Tue 10:00 CEST
		{"France: Friday night, holiday Saturday, Sunday", "2026-08-14T20:00:00Z", paris, fr, "2026-08-17T06:00:00Z"},
		{"France: New Year in winter time", "2025-12-31T21:00:00Z", paris, fr, "2026-01-02T07:00:00Z"},
		{"11 November in Paris with the US window: open", "2026-11-11T10:00:00Z", paris, us, "2026-11-11T10:00:00Z"},
		// Chicago opens an hour before Denver and closes an hour before it.
		{"multi-zone: waits for Denver to open", "2026-06-10T13:30:00Z", []string{"America/Chicago", "America/Denver"}, us, "2026-06-10T14:00:00Z"},
		{"multi-zone: Chicago closed", "2026-06-11T02:30:00Z", []string{"America/Chicago", "America/Denver"}, us, "2026-06-11T14:00:00Z"},
		{"multi-zone: both open", "2026-06-11T01:30:00Z", []string{"America/Chicago", "America/Denver"}, us, "2026-06-11T01:30:00Z"},
		{"multi-zone number", "2026-06-10T14:30:00Z", Zones("+12085550123"), us, "2026-06-10T15:00:00Z"},        // Boise 08:30, LA 07:30
		{"toll-free: all of the US", "2026-06-10T12:00:00Z", Zones("+18005550123"), us, "2026-06-10T18:00:00Z"}, // 08:00 HST
		{"no zones: UTC", "2026-06-10T05:00:00Z", nil, us, "2026-06-10T08:00:00Z"},
		{"unknown zone ignored", "2026-06-10T05:00:00Z", []string{"Nowhere/Land", "Europe/Paris"}, us, "2026-06-10T06:00:00Z"},
		// 09-12 in New York and in Honolulu never overlap: the earliest
		// opening inside the most zones (one) wins.
		{"no common window", "2026-06-10T00:00:00Z", []string{"America/New_York", "Pacific/Honolulu"},
			Window{Start: 9 * time.Hour, End: 12 * time.Hour}, "2026-06-10T13:00:00Z"},
		{"invalid window: 14 days later", "2026-06-10T00:00:00Z", ny,
			Window{Start: 12 * time.Hour, End: 9 * time.Hour}, "2026-06-24T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextAllowed(utc(tt.now), tt.zones, tt.w)
			if want := utc(tt.want); !got.Equal(want) {
				t.Errorf("NextAllowed(%s, %v) = %s; want %s", tt.now, tt.zones, got.UTC().Format(time.RFC3339), tt.want)
			}
		})
	}
}

func TestNextAllowedKeepsLocation(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	now := utc("2026-06-10T10:00:00Z").In(tokyo)
	got := NextAllowed(now, []string{"America/New_York"}, DefaultWindow("US"))
	if got.Location() != tokyo || !got.Equal(utc("2026-06-10T12:00:00Z")) {
		t.Errorf("NextAllowed = %s; want 2026-06-10T12:00:00Z in Asia/Tokyo", got)
	}
}

// TestNextAllowedBruteForce checks NextAllowed against a minute-by-minute
// search from many instants around the DST changes of 2026, so every hour of
// the change days is covered.
func TestNextAllowedBruteForce(t *testing.T) {
	cases := []struct {
		zones []string
		w     Window
		from  string
	}{
		{[]string{"America/New_York"}, DefaultWindow("US"), "2026-03-06T00:00:00Z"},
		{[]string{"America/New_York"}, DefaultWindow("US"), "2026-10-30T00:00:00Z"},
		{[]string{"Europe/Paris"}, DefaultWindow("FR"), "2026-03-27T00:00:00Z"},
		{[]string{"Europe/Paris"}, DefaultWindow("FR"), "2026-10-23T00:00:00Z"},
		{[]string{"America/Chicago", "America/Denver", "America/Phoenix"}, DefaultWindow("US"), "2026-03-06T00:00:00Z"},
		{[]string{"Europe/London", "America/New_York"}, DefaultWindow("US"), "2026-03-20T00:00:00Z"},
		// Midnight starts on DST days of a zone that changes at midnight.
		{[]string{"America/Santiago"}, Window{Start: 0, End: 2 * time.Hour}, "2026-04-02T00:00:00Z"},
	}
	allowed := func(t time.Time, zones []string, w Window) bool {
		for _, loc := range locations(zones) {
			if !inside(t.In(loc), w) {
				return false
			}
		}
		return true
	}
	for _, c := range cases {
		start := utc(c.from)
		for step := range 4 * 24 * 4 { // every 15 minutes over 4 days
			now := start.Add(time.Duration(step) * 15 * time.Minute)
			want := now
			for !allowed(want, c.zones, c.w) {
				want = want.Add(time.Minute)
			}
			if got := NextAllowed(now, c.zones, c.w); !got.Equal(want) {
				t.Fatalf("NextAllowed(%s, %v) = %s; brute force says %s", now.Format(time.RFC3339), c.zones,
					got.UTC().Format(time.RFC3339), want.UTC().Format(time.RFC3339))
			}
		}
	}
}

func TestDefaultWindow(t *testing.T) {
	tests := []struct {
		region string
		want   Window
	}{
		{"US", Window{Start: 8 * time.Hour, End: 21 * time.Hour}},
		{"fr", Window{Start: 8 * time.Hour, End: 21*time.Hour + 30*time.Minute, NoSundays: true,
			Holidays: []string{"01-01", "easter+1", "05-01", "05-08", "easter+39", "easter+50", "07-14", "08-15", "11-01", "11-11", "12-25"}}},
		{"DE", Window{Start: 8 * time.Hour, End: 21 * time.Hour}},
		{"", Window{Start: 8 * time.Hour, End: 21 * time.Hour}},
	}
	for _, tt := range tests {
		got := DefaultWindow(tt.region)
		if got.Start != tt.want.Start || got.End != tt.want.End || got.NoSundays != tt.want.NoSundays || !slices.Equal(got.Holidays, tt.want.Holidays) {
			t.Errorf("DefaultWindow(%q) = %+v; want %+v", tt.region, got, tt.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("DefaultWindow(%q).Validate() = %v", tt.region, err)
		}
	}
	// Callers may edit the holidays of their copy.
	DefaultWindow("FR").Holidays[0] = "changed"
	if DefaultWindow("FR").Holidays[0] != "01-01" {
		t.Error("DefaultWindow shares its Holidays slice between calls")
	}
}

func TestWindowValidate(t *testing.T) {
	tests := []struct {
		w    Window
		want string
	}{
		{Window{Start: 0, End: 24 * time.Hour}, ""},
		{Window{Start: 9 * time.Hour, End: 9 * time.Hour}, "end: 9h0m0s must be after start 9h0m0s and at most 24h"},
		{Window{Start: -time.Hour, End: 9 * time.Hour}, "start: -1h0m0s is not a time of day (want 00:00 to 23:59)"},
		{Window{Start: 8 * time.Hour, End: 25 * time.Hour}, "end: 25h0m0s must be after start 8h0m0s and at most 24h"},
		{Window{Start: 8 * time.Hour, End: 20 * time.Hour, Holidays: []string{"12-25", "25-12", "1-1", "easter+1", "05-Mon-L", "11-Thu-4", "easter", "05-Mon-6", "13-Mon-1", "07-04 observed", "07-04observed"}},
			"holidays[1]: \"25-12\" is not a holiday rule (\"12-25\", \"07-04 observed\", \"easter+1\", \"11-Thu-4\", \"05-Mon-L\")\n" +
				"holidays[2]: \"1-1\" is not a holiday rule (\"12-25\", \"07-04 observed\", \"easter+1\", \"11-Thu-4\", \"05-Mon-L\")\n" +
				"holidays[6]: \"easter\" is not a holiday rule (\"12-25\", \"07-04 observed\", \"easter+1\", \"11-Thu-4\", \"05-Mon-L\")\n" +
				"holidays[7]: \"05-Mon-6\" is not a holiday rule (\"12-25\", \"07-04 observed\", \"easter+1\", \"11-Thu-4\", \"05-Mon-L\")\n" +
				"holidays[8]: \"13-Mon-1\" is not a holiday rule (\"12-25\", \"07-04 observed\", \"easter+1\", \"11-Thu-4\", \"05-Mon-L\")\n" +
				"holidays[10]: \"07-04observed\" is not a holiday rule (\"12-25\", \"07-04 observed\", \"easter+1\", \"11-Thu-4\", \"05-Mon-L\")"},
		{Window{Start: 8 * time.Hour, End: 20 * time.Hour, Days: map[time.Weekday]Hours{time.Sunday: {12 * time.Hour, 25 * time.Hour}}},
			"days[Sunday]: 12h0m0s-25h0m0s is not within a day"},
	}
	for _, tt := range tests {
		got := ""
		if err := tt.w.Validate(); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%+v.Validate() = %q; want %q", tt.w, got, tt.want)
		}
	}
}

func TestZones(t *testing.T) {
	usAll := "America/Anchorage America/Chicago America/Denver America/Los_Angeles America/New_York America/Phoenix Pacific/Honolulu"
	tests := []struct {
		number string
		want   string
	}{
		{"+14155550123", "America/Los_Angeles"},
		{"+12125550123", "America/New_York"},
		{"+12085550123", "America/Boise America/Los_Angeles"},
		{"+16055550123", "America/Denver America/North_Dakota/Center"},
		{"+14165550123", "America/Toronto"},
		{"+18005550123", usAll}, // toll-free: anywhere in the US
		{"+15555550123", usAll}, // invalid area code: the country's default
		{"+33612345678", "Europe/Paris"},
		{"+4915112345678", "Europe/Berlin"},
		{"+262262123456", "Indian/Reunion"},
		{"+80012345678", "UTC"}, // international freephone: nowhere
		{"14155550123", "UTC"},  // not E.164
		{"", "UTC"},
		{"not a number", "UTC"},
	}
	for _, tt := range tests {
		if got := strings.Join(Zones(tt.number), " "); got != tt.want {
			t.Errorf("Zones(%q) = %s; want %s", tt.number, got, tt.want)
		}
	}
}

func TestWindowCloses(t *testing.T) {
	us := DefaultWindow("US")
	ny := []string{"America/New_York"}
	la := []string{"America/Los_Angeles"}
	allDay := Window{Start: 0, End: 24 * time.Hour}
	noSundays := Window{Start: 0, End: 24 * time.Hour, NoSundays: true}
	lateNight := Window{Start: 8 * time.Hour, End: 24 * time.Hour}
	tests := []struct {
		name  string
		now   string
		zones []string
		want  string  // "" for the zero time
		w     *Window // nil: the US default
	}{
		{"inside: today's 21:00", "2026-06-10T15:00:00Z", ny, "2026-06-11T01:00:00Z", nil},                                                         // 11:00 EDT
		{"last second", "2026-06-11T00:59:59Z", ny, "2026-06-11T01:00:00Z", nil},                                                                   // 20:59:59 EDT
		{"outside: zero", "2026-06-11T01:00:00Z", ny, "", nil},                                                                                     // 21:00 EDT
		{"winter", "2026-01-15T14:00:00Z", ny, "2026-01-16T02:00:00Z", nil},                                                                        // 09:00 EST
		{"two zones: the earlier close", "2026-06-10T18:00:00Z", []string{"America/New_York", "America/Los_Angeles"}, "2026-06-11T01:00:00Z", nil}, // 14:00 EDT, 11:00 PDT
		{"only the zones inside count", "2026-06-10T13:00:00Z", []string{"America/New_York", "America/Los_Angeles"}, "2026-06-11T01:00:00Z", nil},  // 09:00 EDT, 06:00 PDT
		{"all day: runs on for a week", "2026-06-11T06:59:59Z", la, "2026-06-18T07:00:00Z", &allDay},                                               // Wed 23:59:59 PDT
		{"all day: runs on to the closed Sunday", "2026-06-12T06:59:59Z", la, "2026-06-14T07:00:00Z", &noSundays},                                  // Thu 23:59:59 PDT
		{"all day: runs on to the change to PST", "2026-10-28T07:00:00Z", la, "2026-11-01T09:00:00Z", &allDay},                                     // Wed 00:00 PDT
		{"ends at midnight, opens at 08:00: closes at midnight", "2026-06-11T06:59:59Z", la, "2026-06-11T07:00:00Z", &lateNight},                   // Wed 23:59:59 PDT
	}
	for _, tt := range tests {
		w := us
		if tt.w != nil {
			w = *tt.w
		}
		got := WindowCloses(utc(tt.now), tt.zones, w)
		want := time.Time{}
		if tt.want != "" {
			want = utc(tt.want)
		}
		if !got.Equal(want) {
			t.Errorf("%s: WindowCloses(%s) = %v, want %v", tt.name, tt.now, got, want)
		}
	}
}
