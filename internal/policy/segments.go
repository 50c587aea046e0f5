package policy

import (
	"fmt"
	"unicode/utf16"
)

// Encodings Segments reports.
const (
	GSM7 = "GSM-7"
	UCS2 = "UCS-2"
)

// MaxSegments is the most segments a body may take. Carriers deliver longer
// concatenated messages unreliably, and Twilio refuses bodies over 1,600
// characters anyway (10 UCS-2 segments are 670 characters, 10 GSM-7 ones
// 1,530).
const MaxSegments = 10

// Segment capacities (3GPP TS 23.040): a single SMS carries 140 octets, 160
// septets or 70 UCS-2 code units. Concatenated parts lose 6 octets to the
// user data header, leaving 153 septets or 67 code units each.
const (
	gsmSingle = 160
	gsmPart   = 153
	ucsSingle = 70
	ucsPart   = 67
)

// gsmBasic and gsmExtension are the GSM 03.38 (3GPP TS 23.038) default
// alphabet and its extension table; an extension character is sent as
// ESC + character, two septets. ESC itself is not text. 0x09 is Ç (capital),
// as the standard defines it.
var (
	gsmBasic = runeSet("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
	gsmExtension = runeSet("\f^{}\\[~]|€")
)

// Segments returns the encoding a body is sent in and how many SMS segments
// it takes. A body entirely in the GSM 03.38 alphabet goes as GSM-7, where
// extension characters ({, }, [, ], ~, \, |, ^, €, form feed) take two
// septets; anything else forces UCS-2 for the whole body, counted in UTF-16
// code units, so an emoji outside the BMP takes two. An empty body takes 0
// segments.
//
// Multipart bodies are packed as senders split them: a character never
// straddles two segments, so an extension character or a surrogate pair
// that would not fit at the end of a part starts the next one. This is why
// a body can take one segment more than its length divided by 153 (or 67).
func Segments(body string) (encoding string, segments int) {
	if body == "" {
		return GSM7, 0
	}
	encoding = GSM7
	for _, r := range body {
		if !gsmBasic[r] && !gsmExtension[r] {
			encoding = UCS2
			break
		}
	}
	single, part := gsmSingle, gsmPart
	if encoding == UCS2 {
		single, part = ucsSingle, ucsPart
	}
	total := 0
	for _, r := range body {
		total += units(r, encoding)
	}
	if total <= single {
		return encoding, 1
	}
	segments, used := 1, 0
	for _, r := range body {
		u := units(r, encoding)
		if used+u > part {
			segments++
			used = 0
		}
		used += u
	}
	return encoding, segments
}

// units is how many septets (GSM-7) or UTF-16 code units (UCS-2) r takes.
// Invalid UTF-8 reaches here as U+FFFD, one unit, as it is sent.
func units(r rune, encoding string) int {
	if encoding == GSM7 {
		if gsmExtension[r] {
			return 2
		}
		return 1
	}
	return utf16.RuneLen(r) // 2 above U+FFFF (a surrogate pair), else 1
}

// CheckSegments returns an error when body takes more than MaxSegments
// segments, e.g. "body is 11 segments (UCS-2), more than 10". The caller adds
// the step path.
func CheckSegments(body string) error {
	enc, n := Segments(body)
	if n > MaxSegments {
		return fmt.Errorf("body is %d segments (%s), more than %d", n, enc, MaxSegments)
	}
	return nil
}

func runeSet(s string) map[rune]bool {
	m := make(map[rune]bool, len(s))
	for _, r := range s {
		m[r] = true
	}
	return m
}
