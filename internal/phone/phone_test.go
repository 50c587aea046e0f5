package phone

import (
	"fmt"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, raw, region string
		want, wantErr     string
	}{
		{name: "US national with region", raw: "(415) 555-0123", region: "US", want: "+14155550123"},
		{name: "US dashes", raw: "415-555-0102", region: "US", want: "+14155550102"},
		{name: "US with trunk 1", raw: "1 415 555 0103", region: "US", want: "+14155550103"},
		{name: "region is case-insensitive", raw: "(415) 555-0123", region: "us", want: "+14155550123"},
		{name: "E.164 stays", raw: "+14155550123", region: "US", want: "+14155550123"},
		{name: "international with spaces", raw: "+1 415 555 0101", region: "", want: "+14155550101"},
		{name: "international GB", raw: "+44 20 7946 0958", region: "US", want: "+442079460958"},
		{name: "GB national", raw: "020 7946 0958", region: "GB", want: "+442079460958"},
		{name: "00 prefix where 00 is the IDD", raw: "0033 1 23 45 67 89", region: "FR", want: "+33123456789"},
		{name: "00 prefix from GB", raw: "0033 1 23 45 67 89", region: "GB", want: "+33123456789"},
		{name: "011 prefix from US", raw: "011 33 1 23 45 67 89", region: "US", want: "+33123456789"},
		{name: "surrounding space", raw: "  +14155550123\t", region: "", want: "+14155550123"},
		{name: "00 prefix is not the US IDD", raw: "0033 1 23 45 67 89", region: "US", wantErr: `"0033 1 23 45 67 89" is not a valid number`},
		{name: "letters", raw: "abc", region: "US", wantErr: `invalid phone number "abc"`},
		{name: "vanity letters", raw: "1-800-FLOWERS", region: "US", wantErr: `invalid phone number "1-800-FLOWERS"`},
		{name: "empty", raw: "", region: "US", wantErr: "empty phone number"},
		{name: "blank", raw: "   ", region: "US", wantErr: "empty phone number"},
		{name: "too short", raw: "+1555", region: "US", wantErr: `"+1555" is not a valid number`},
		{name: "555 area code is fictional", raw: "+15550001111", region: "US", wantErr: `"+15550001111" is not a valid number`},
		{name: "national without region", raw: "4155550123", region: "", wantErr: `invalid phone number "4155550123": no country code (start with "+" or set a default region)`},
		{name: "unknown country code", raw: "+999 1234 5678", region: "US", wantErr: `invalid phone number "+999 1234 5678"`},
		{name: "extension", raw: "+1 415 555 0101 #5", region: "US", wantErr: `invalid phone number "+1 415 555 0101 #5": has an extension, which SMS cannot reach`},
		{name: "punctuation only", raw: "---", region: "US", wantErr: `invalid phone number "---"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.raw, tt.region)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Normalize(%q, %q) = %q, %v; want error %q", tt.raw, tt.region, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Normalize(%q, %q) = %q, %v; want %q", tt.raw, tt.region, got, err, tt.want)
			}
		})
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+14155550123", "+*******0123"},
		{"+442079460958", "+********0958"},
		{"14155550123", "*******0123"},
		{"+12345678", "+****5678"}, // 8 digits: the shortest that keeps 4
		{"+1234567", "+*******"},   // short: fully masked
		{"12345", "*****"},
		{"+", "+"},
		{"", ""},
		{"(415) 555-0123", "**********0123"}, // not normalised: still masked
	}
	for _, tt := range tests {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNewKeyer(t *testing.T) {
	if _, err := NewKeyer([]byte("fifteen-bytes!!")); err == nil || err.Error() != "recipient key secret is 15 bytes, want at least 16" {
		t.Errorf("NewKeyer(15 bytes) error = %v", err)
	}
	if _, err := NewKeyer(nil); err == nil || err.Error() != "recipient key secret is 0 bytes, want at least 16" {
		t.Errorf("NewKeyer(nil) error = %v", err)
	}
	if _, err := NewKeyer([]byte("sixteen-bytes!!!")); err != nil {
		t.Errorf("NewKeyer(16 bytes) error = %v", err)
	}
}

func TestKey(t *testing.T) {
	k, err := NewKeyer([]byte(DevSecret))
	if err != nil {
		t.Fatal(err)
	}
	const num = "+14155550123"
	got := k.Key(num)
	// Pinned: the key is stored in workflow IDs, so changing the derivation
	// would orphan every running journey. Equal to
	// printf %s +14155550123 | openssl dgst -sha256 -hmac "$DevSecret" | cut -c1-32
	const want = "r53aa9c8e8de0cd54aff210240df240ca"
	if got != want {
		t.Errorf("Key(%q) = %q, want %q", num, got, want)
	}
	if len(got) != 33 || !strings.HasPrefix(got, "r") {
		t.Errorf("Key(%q) = %q, want r + 32 hex characters", num, got)
	}
	if again := k.Key(num); again != got {
		t.Errorf("Key is not stable: %q then %q", got, again)
	}
	if other := k.Key("+14155550124"); other == got {
		t.Errorf("different numbers share key %q", got)
	}

	k2, err := NewKeyer([]byte(DevSecret + "x"))
	if err != nil {
		t.Fatal(err)
	}
	if k2.Key(num) == got {
		t.Errorf("different secrets give the same key %q", got)
	}
}

func TestKeyerCopiesSecret(t *testing.T) {
	secret := []byte(DevSecret)
	k, err := NewKeyer(secret)
	if err != nil {
		t.Fatal(err)
	}
	before := k.Key("+14155550123")
	secret[0] ^= 0xff
	if after := k.Key("+14155550123"); after != before {
		t.Errorf("changing the caller's buffer changed the key: %q -> %q", before, after)
	}
}

func TestKeyerHidesSecret(t *testing.T) {
	k, err := NewKeyer([]byte(DevSecret))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(format, k); out != "phone.Keyer{secret: redacted}" {
			t.Errorf("Sprintf(%q, keyer) = %q, want the secret redacted", format, out)
		}
	}
}

func TestZeroKeyerPanics(t *testing.T) {
	defer func() {
		if r := recover(); r != "phone: Key called on a zero Keyer; use NewKeyer" {
			t.Errorf("recover() = %v", r)
		}
	}()
	Keyer{}.Key("+14155550123")
}

func TestRegion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+14155550123", "US"},
		{"+442079460958", "GB"},
		{"+33123456789", "FR"},
		{"+16135550123", "CA"},
		{"+15550001111", ""}, // possible but not valid: no region
		{"+80012345678", ""}, // non-geographic
		{"14155550123", ""},  // not E.164
		{"", ""},
		{"abc", ""},
	}
	for _, tt := range tests {
		if got := Region(tt.in); got != tt.want {
			t.Errorf("Region(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"(415) 555-0123", "+44 20 7946 0958", "0033 1 23 45 67 89", "+1555", "abc", "", "+1 415 555 0101 #5", "011 33 1 23 45 67 89"} {
		f.Add(s, "US")
	}
	f.Add("020 7946 0958", "GB")
	f.Add("4155550123", "")
	f.Fuzz(func(t *testing.T, raw, region string) {
		got, err := Normalize(raw, region)
		if err != nil {
			return
		}
		// A normalised number is a fixed point: E.164 needs no region.
		again, err := Normalize(got, "")
		if err != nil || again != got {
			t.Fatalf("Normalize(%q, %q) = %q, but re-normalising gives %q, %v", raw, region, got, again, err)
		}
		if m := Mask(got); len(m) != len(got) || !strings.HasSuffix(got, m[len(m)-4:]) {
			t.Fatalf("Mask(%q) = %q", got, m)
		}
	})
}
