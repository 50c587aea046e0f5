package journey

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/policy"
	"github.com/stopline/stopline/workflows/contract"
)

// doc builds a journey document from valid defaults. over replaces a
// top-level member's raw JSON; the value "-" leaves the member out.
func doc(over map[string]string) string {
	members := []struct{ key, value string }{
		{"name", `"welcome"`},
		{"category", `"marketing"`},
		{"sender", `{"provider": "twilio", "from": "+15550001111", "type": "long_code"}`},
		{"steps", `[{"sms": "Hi {{.first_name}}"}, {"wait": "24h"}, {"sms": "Code: {{.code}}"}]`},
	}
	var parts []string
	for _, m := range members {
		v := m.value
		if o, ok := over[m.key]; ok {
			v = o
		}
		if v != "-" {
			parts = append(parts, `"`+m.key+`": `+v)
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func sender(s string) string { return doc(map[string]string{"sender": s}) }
func steps(s string) string  { return doc(map[string]string{"steps": s}) }

func TestParseValid(t *testing.T) {
	tests := []struct {
		name, json string
	}{
		{"defaults", doc(nil)},
		{"transactional", doc(map[string]string{"category": `"transactional"`})},
		{"name charset", doc(map[string]string{"name": `"Spring_sale-2026"`})},
		{"name 64 chars", doc(map[string]string{"name": `"` + strings.Repeat("a", 64) + `"`})},
		{"real number", sender(`{"provider": "sinch", "from": "+14155550123", "type": "long_code"}`)},
		{"toll free", sender(`{"provider": "http", "from": "+18005550199", "type": "toll_free"}`)},
		{"short code with keywords", sender(`{"provider": "twilio", "from": "12345", "type": "short_code", "short_code_keywords": true}`)},
		{"short code with alt instruction", sender(`{"provider": "twilio", "from": "12345", "type": "short_code", "alt_instruction": "Call 0800 123 456 to opt out"}`)},
		{"quiet hours and language", sender(`{"provider": "twilio", "from": "+15550001111", "type": "long_code", "language": "fr", "quiet_hours": {"start": "09:00", "end": "20:30"}}`)},
		{"quiet hours on rest days", sender(`{"provider": "twilio", "from": "+33612345678", "type": "long_code", "quiet_hours": {"start": "09:00", "end": "20:00", "allow_rest_days": true, "legal_override": "staff phones"}}`)}, // documented in the README
		{"alphanumeric with alt instruction", sender(`{"provider": "sinch", "from": "Acme 2026", "type": "alphanumeric", "alt_instruction": "Call 0800 123 456 to opt out"}`)},
		{"messaging service", sender(`{"provider": "twilio", "messaging_service_sid": "MG0123456789abcdef0123456789abcdef", "type": "long_code"}`)},
		{"sandbox", sender(`{"provider": "sandbox", "from": "+15550001111", "type": "long_code"}`)},
		{"single sms", steps(`[{"sms": "Hello"}]`)},
		{"waits", steps(`[{"wait": "90s"}, {"wait": "30m"}, {"wait": "1h30m"}, {"wait": "7d"}, {"wait": "365d"}, {"wait": "8760h"}, {"sms": "Hi"}]`)},
		{"template language", steps(`[{"sms": "{{if .nick}}Hey {{.nick}}{{else}}Hello{{end}} {{$.code | html}} {{index . \"first name\"}}"}]`)},
		{"null is absent", doc(map[string]string{"sender": `{"provider": "twilio", "from": "+15550001111", "messaging_service_sid": null, "type": "long_code"}`})},
		{"whitespace around", "\n\t " + doc(nil) + "\n\n"},
		{"double opt-in request", steps(`[{"opt_in": "Reply YES for Acme deals, {{.first_name}}"}, {"wait": "1h"}, {"sms": "Welcome"}]`)},
		{"only a double opt-in request", steps(`[{"opt_in": "Reply YES for Acme deals"}]`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.json)); err != nil {
				t.Fatalf("Parse(%s) = %v", tt.json, err)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		// JSON
		{"empty", "", "empty journey definition"},
		{"blank", " \n ", "empty journey definition"},
		{"syntax", "{\n  \"name\": \"x\",\n  \"category\" \"marketing\"\n}", `line 3, column 14: invalid character '"' after object key`},
		{"truncated", `{"name": "x"`, "line 1, column 12: unexpected end of JSON input"},
		{"trailing data", doc(nil) + "\n{}", "line 2, column 1: invalid character '{' after top-level value"},
		{"not an object", `["welcome"]`, "must be an object, got an array"},
		{"unknown field", doc(map[string]string{"name": `"x", "foo": 1`}), `unknown field "foo"`},
		{"unknown sender field", sender(`{"provider": "twilio", "form": "+15550001111", "type": "long_code"}`), `sender: unknown field "form"`},
		{"unknown step field", steps(`[{"sms": "Hi"}, {"delay": "1h"}]`), `steps[1]: unknown field "delay"`},
		{"wrong case", doc(map[string]string{"name": "-", "category": `"marketing", "Name": "x"`}), `unknown field "Name" (did you mean "name"?)`},
		{"duplicate", doc(map[string]string{"name": `"a", "name": "b"`}), `duplicate field "name"`},
		{"wrong type", steps(`[{"sms": "Hi"}, {"wait": 3600}]`), "steps[1].wait: must be a string, got a number"},
		{"steps not array", steps(`{"sms": "Hi"}`), "steps: must be an array, got an object"},
		{"sender not object", sender(`"+15550001111"`), "sender: must be an object, got a string"},

		// name and category
		{"no name", doc(map[string]string{"name": "-"}), "name: required"},
		{"name with space", doc(map[string]string{"name": `"spring sale"`}), "name: must be 1-64 characters of letters, digits, '-', '_'"},
		{"name too long", doc(map[string]string{"name": `"` + strings.Repeat("a", 65) + `"`}), "name: must be 1-64 characters of letters, digits, '-', '_'"},
		{"bad category", doc(map[string]string{"category": `"promo"`}), `category: must be "marketing" or "transactional", got "promo"`},
		{"no category", doc(map[string]string{"category": "-"}), `category: must be "marketing" or "transactional", got ""`},

		// sender
		{"bad provider", sender(`{"provider": "x", "from": "+15550001111", "type": "long_code"}`), `sender.provider: must be one of twilio, sinch, http, sandbox, got "x"`},
		{"neither from nor sid", sender(`{"provider": "twilio", "type": "long_code"}`), `sender: set exactly one of "from" or "messaging_service_sid"`},
		{"both from and sid", sender(`{"provider": "twilio", "from": "+15550001111", "messaging_service_sid": "MG0123456789abcdef0123456789abcdef", "type": "long_code"}`), `sender: set exactly one of "from" or "messaging_service_sid"`},
		{"sid with sinch", sender(`{"provider": "sinch", "messaging_service_sid": "MG0123456789abcdef0123456789abcdef", "type": "long_code"}`), "sender.messaging_service_sid: only valid with provider twilio"},
		{"bad sid", sender(`{"provider": "twilio", "messaging_service_sid": "XX12", "type": "long_code"}`), `sender.messaging_service_sid: invalid "XX12" (want MG followed by 32 lowercase hex characters)`},
		{"upper-case sid", sender(`{"provider": "twilio", "messaging_service_sid": "MG0123456789ABCDEF0123456789ABCDEF", "type": "long_code"}`), `sender.messaging_service_sid: invalid "MG0123456789ABCDEF0123456789ABCDEF" (want MG followed by 32 lowercase hex characters)`},
		{"bad type", sender(`{"provider": "twilio", "from": "+15550001111", "type": "x"}`), `sender.type: must be one of long_code, toll_free, short_code, alphanumeric, got "x"`},
		{"short number", sender(`{"provider": "twilio", "from": "+1555", "type": "long_code"}`), `sender.from: invalid phone number "+1555"`},
		{"number without plus", sender(`{"provider": "twilio", "from": "15550001111", "type": "toll_free"}`), `sender.from: invalid phone number "15550001111"`},
		{"number not canonical", sender(`{"provider": "twilio", "from": "+1 555 000 1111", "type": "long_code"}`), `sender.from: "+1 555 000 1111" is not in E.164 form, want "+15550001111"`},
		{"short code too short", sender(`{"provider": "twilio", "from": "12", "type": "short_code"}`), `sender.from: invalid short code "12" (want 3-8 digits)`},
		{"short code with plus", sender(`{"provider": "twilio", "from": "+12345", "type": "short_code"}`), `sender.from: invalid short code "+12345" (want 3-8 digits)`},
		{"alphanumeric too long", sender(`{"provider": "sinch", "from": "AcmeWidgetsCo", "type": "alphanumeric"}`), `sender.from: invalid alphanumeric sender ID "AcmeWidgetsCo" (want 1-11 letters, digits or spaces, with at least one letter)`},
		{"alphanumeric digits only", sender(`{"provider": "sinch", "from": "12345", "type": "alphanumeric"}`), `sender.from: invalid alphanumeric sender ID "12345" (want 1-11 letters, digits or spaces, with at least one letter)`},
		{"alphanumeric punctuation", sender(`{"provider": "sinch", "from": "Acme!", "type": "alphanumeric"}`), `sender.from: invalid alphanumeric sender ID "Acme!" (want 1-11 letters, digits or spaces, with at least one letter)`},

		// steps
		{"no steps", steps("[]"), "steps: at least one sms step required"},
		{"steps missing", doc(map[string]string{"steps": "-"}), "steps: at least one sms step required"},
		{"only waits", steps(`[{"wait": "1h"}]`), "steps: at least one sms step required"},
		{"both sms and wait", steps(`[{"sms": "Hi"}, {"sms": "Hi", "wait": "1h"}]`), `steps[1]: set exactly one of "sms", "wait" or "opt_in"`},
		{"empty step", steps(`[{"sms": "Hi"}, {}]`), `steps[1]: set exactly one of "sms", "wait" or "opt_in"`},
		{"blank body", steps(`[{"sms": " \n "}]`), "steps[0].sms: empty body"},
		{"sms and opt_in", steps(`[{"sms": "Hi"}, {"sms": "Hi", "opt_in": "Reply YES"}]`), `steps[1]: set exactly one of "sms", "wait" or "opt_in"`},
		{"blank opt_in", steps(`[{"opt_in": "  "}]`), "steps[0].opt_in: empty body"},
		{"opt_in template", steps(`[{"opt_in": "Hi {{.first_name"}]`), "steps[0].opt_in: template: sms:1: unclosed action"},
		{"two opt_in steps", steps(`[{"opt_in": "Reply YES"}, {"opt_in": "Reply YES again"}]`), "steps[1].opt_in: a journey asks for a double opt-in at most once"},
		{"transactional opt_in", doc(map[string]string{"category": `"transactional"`, "steps": `[{"opt_in": "Reply YES"}]`}), "steps[0].opt_in: only marketing journeys ask for a double opt-in"},
		{"day words", steps(`[{"sms": "Hi"}, {"wait": "1h"}, {"wait": "1 day"}]`), `steps[2].wait: invalid duration "1 day"`},
		{"zero wait", steps(`[{"sms": "Hi"}, {"wait": "0s"}]`), `steps[1].wait: duration "0s" out of range (want more than 0 and at most 365d)`},
		{"negative wait", steps(`[{"sms": "Hi"}, {"wait": "-5m"}]`), `steps[1].wait: duration "-5m" out of range (want more than 0 and at most 365d)`},
		{"too many days", steps(`[{"sms": "Hi"}, {"wait": "366d"}]`), `steps[1].wait: duration "366d" out of range (want more than 0 and at most 365d)`},
		{"too many hours", steps(`[{"sms": "Hi"}, {"wait": "8761h"}]`), `steps[1].wait: duration "8761h" out of range (want more than 0 and at most 365d)`},
		{"huge days", steps(`[{"sms": "Hi"}, {"wait": "99999999999999999999d"}]`), `steps[1].wait: duration "99999999999999999999d" out of range (want more than 0 and at most 365d)`},
		{"mixed days", steps(`[{"sms": "Hi"}, {"wait": "1d12h"}]`), `steps[1].wait: invalid duration "1d12h"`},
		{"template syntax", steps(`[{"sms": "Hi {{.first_name"}]`), "steps[0].sms: template: sms:1: unclosed action"},
		{"template function", steps(`[{"sms": "Hi {{upper .first_name}}"}]`), `steps[0].sms: template: sms:1: function "upper" not defined`},
		{"range", steps(`[{"sms": "{{range .}}x{{end}}"}]`), "steps[0].sms: template: {{range}} is not supported in SMS bodies"},
		{"define", steps(`[{"sms": "{{define \"x\"}}a{{end}}Hi"}]`), "steps[0].sms: template: {{define}} is not supported in SMS bodies"},
		{"block", steps(`[{"sms": "{{block \"x\" .}}a{{end}}"}]`), "steps[0].sms: template: {{define}} is not supported in SMS bodies"},
		{"printf", steps(`[{"sms": "{{printf \"%99999999d\" 1}}"}]`), "steps[0].sms: template: printf is not supported in SMS bodies"},
		{"dynamic index", steps(`[{"sms": "{{index . .key}}"}]`), `steps[0].sms: template: index other than {{index . "name"}} is not supported in SMS bodies`},

		// several problems are all reported, in document order
		{"many", `{"name": "", "category": "promo", "sender": {"provider": "x", "from": "+15550001111", "type": "long_code"}, "steps": [{"wait": "1 day"}]}`,
			"name: required\n" +
				`category: must be "marketing" or "transactional", got "promo"` + "\n" +
				`sender.provider: must be one of twilio, sinch, http, sandbox, got "x"` + "\n" +
				`steps[0].wait: invalid duration "1 day"` + "\n" +
				"steps: at least one sms step required"},
	}
	if len(tests) < 25 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse([]byte(tt.json))
			if err == nil {
				t.Fatalf("Parse(%s) = %+v, want error %q", tt.json, d, tt.want)
			}
			if err.Error() != tt.want {
				t.Fatalf("Parse(%s) error:\n got %q\nwant %q", tt.json, err, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"name": "", "category": "promo", "sender": {"provider": "twilio", "from": "+15550001111", "type": "long_code"}, "steps": [{"sms": "Hi"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(bad)
	want := bad + ": name: required\n" + bad + `: category: must be "marketing" or "transactional", got "promo"`
	if err == nil || err.Error() != want {
		t.Errorf("Load(bad) error:\n got %v\nwant %s", err, want)
	}

	syntax := filepath.Join(dir, "syntax.json")
	if err := os.WriteFile(syntax, []byte("{\n,"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(syntax)
	want = syntax + ": line 2, column 1: invalid character ',' looking for beginning of object key string"
	if err == nil || err.Error() != want {
		t.Errorf("Load(syntax) error:\n got %v\nwant %s", err, want)
	}

	missing := filepath.Join(dir, "missing.json")
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(missing) error = %v, want it to name the path", err)
	}
}

func TestExamples(t *testing.T) {
	for _, tt := range []struct {
		file, wait string
	}{
		{"welcome.json", "24h0m0s"},
		{"quick.json", "30s"},
	} {
		d, err := Load(filepath.Join("..", "..", "examples", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Steps[1].WaitDuration().String(); got != tt.wait {
			t.Errorf("%s: wait = %s, want %s", tt.file, got, tt.wait)
		}
		if got, want := d.Attributes(), []string{"code", "first_name"}; !slices.Equal(got, want) {
			t.Errorf("%s: Attributes() = %q, want %q", tt.file, got, want)
		}
	}
}

// TestAudience checks that the example audience fits the example journeys:
// every number normalises with region US and the header has every attribute.
func TestAudience(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "examples", "audience.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"phone", "first_name", "code"}; !slices.Equal(rows[0], want) {
		t.Fatalf("header = %q, want %q", rows[0], want)
	}
	if len(rows) < 6 {
		t.Errorf("%d recipients, want at least 5", len(rows)-1)
	}
	seen := make(map[string]bool)
	for i, row := range rows[1:] {
		num, err := phone.Normalize(row[0], "US")
		if err != nil {
			t.Errorf("line %d: %v", i+2, err)
		}
		if seen[num] {
			t.Errorf("line %d: duplicate number %s", i+2, num)
		}
		seen[num] = true
	}
	d, err := Load(filepath.Join("..", "..", "examples", "welcome.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range d.Attributes() {
		if !slices.Contains(rows[0], name) {
			t.Errorf("welcome.json uses %q, which audience.csv lacks", name)
		}
	}
}

func TestRender(t *testing.T) {
	d, err := Parse([]byte(doc(nil)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Render(map[string]string{"first_name": "Ada", "code": "ADA10", "unused": "x"})
	if err != nil {
		t.Fatal(err)
	}
	// Marketing: each body gets the opt-out footer.
	if want := []string{"Hi Ada\nReply STOP to opt out.", "", "Code: ADA10\nReply STOP to opt out."}; !slices.Equal(got, want) {
		t.Errorf("Render = %q, want %q", got, want)
	}

	tests := []struct {
		name  string
		steps string
		attrs map[string]string
		want  []string
		err   string
	}{
		{name: "missing attribute", steps: `[{"sms": "Hi {{.first_name}}"}, {"wait": "1h"}, {"sms": "{{.code}}"}]`,
			attrs: map[string]string{"first_name": "Ada"}, err: `steps[2].sms: missing attribute "code"`},
		{name: "nil attributes", steps: `[{"sms": "Hi {{.first_name}}"}]`,
			err: `steps[0].sms: missing attribute "first_name"`},
		{name: "first missing in template order", steps: `[{"sms": "{{.b}} {{.a}}"}]`,
			attrs: map[string]string{}, err: `steps[0].sms: missing attribute "b"`},
		{name: "missing inside if", steps: `[{"sms": "Hi{{if .nick}} {{.nick}}{{end}}"}]`,
			attrs: map[string]string{}, err: `steps[0].sms: missing attribute "nick"`},
		{name: "missing via index", steps: `[{"sms": "Hi {{index . \"first name\"}}"}]`,
			attrs: map[string]string{"first_name": "Ada"}, err: `steps[0].sms: missing attribute "first name"`},
		{name: "missing via hidden variable", steps: `[{"sms": "{{with $v := .}}{{$v.code}}{{end}}"}]`,
			attrs: map[string]string{"x": "1"}, err: `steps[0].sms: template: sms:1:20: executing "sms" at <$v.code>: map has no entry for key "code"`},
		{name: "empty value in if", steps: `[{"sms": "Hi{{if .nick}} {{.nick}}{{end}}!"}]`,
			attrs: map[string]string{"nick": ""}, want: []string{"Hi!"}},
		{name: "index and root variable", steps: `[{"sms": "{{index . \"first name\"}} {{$.code}}"}]`,
			attrs: map[string]string{"first name": "Ada", "code": "X"}, want: []string{"Ada X"}},
		{name: "no html escaping", steps: `[{"sms": "{{.q}}"}]`,
			attrs: map[string]string{"q": `<b>"Tom & Jerry"</b>`}, want: []string{`<b>"Tom & Jerry"</b>`}},
		{name: "attribute values are not templates", steps: `[{"sms": "{{.q}}"}]`,
			attrs: map[string]string{"q": "{{.secret}}"}, want: []string{"{{.secret}}"}},
		{name: "renders empty", steps: `[{"sms": "{{.nick}}"}]`,
			attrs: map[string]string{"nick": " "}, err: "steps[0].sms: rendered body is empty"},
		{name: "too long", steps: `[{"sms": "{{.q}}"}]`,
			attrs: map[string]string{"q": strings.Repeat("é", MaxBodyChars+1)}, err: "steps[0].sms: rendered body is 1601 characters, more than 1600"},
		{name: "exactly 10 segments", steps: `[{"sms": "{{.q}}"}]`,
			attrs: map[string]string{"q": strings.Repeat("é", 1530)}, want: []string{strings.Repeat("é", 1530)}},
		{name: "11 segments", steps: `[{"sms": "{{.q}}"}]`,
			attrs: map[string]string{"q": strings.Repeat("é", 1531)}, err: "steps[0].sms: body is 11 segments (GSM-7), more than 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Transactional, so bodies come back without the footer.
			d, err := Parse([]byte(doc(map[string]string{"steps": tt.steps, "category": `"transactional"`})))
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.Render(tt.attrs)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("Render = %q, %v; want error %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("Render = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestAttributes(t *testing.T) {
	tests := []struct {
		steps string
		want  []string
	}{
		{`[{"sms": "Hello"}]`, nil},
		{`[{"sms": "Hi {{.first_name}}"}, {"wait": "1h"}, {"sms": "{{.code}} {{.first_name}}"}]`, []string{"code", "first_name"}},
		{`[{"sms": "{{if .nick}}{{.nick}}{{else}}{{$.name}}{{end}} {{index . \"zip code\"}} {{.code | html}}"}]`, []string{"code", "name", "nick", "zip code"}},
	}
	for _, tt := range tests {
		d, err := Parse([]byte(steps(tt.steps)))
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Attributes(); !slices.Equal(got, tt.want) {
			t.Errorf("Attributes(%s) = %q, want %q", tt.steps, got, tt.want)
		}
	}

	// Unvalidated definitions: broken templates are skipped, not fatal.
	d := &Definition{Steps: []Step{{SMS: "{{.a"}, {SMS: "{{.b}}"}}}
	if got, want := d.Attributes(), []string{"b"}; !slices.Equal(got, want) {
		t.Errorf("Attributes() = %q, want %q", got, want)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, in := range []string{
		doc(nil),
		sender(`{"provider": "twilio", "messaging_service_sid": "MG0123456789abcdef0123456789abcdef", "type": "toll_free"}`),
		steps(`[{"sms": "<b>\"{{.x}}\" & é 🎉\u2028</b>"}, {"wait": "7d"}]`),
	} {
		d, err := Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal(%s)) = %v", in, err)
		}
		if !reflect.DeepEqual(d, back) {
			t.Errorf("round trip changed the definition:\n in %+v\nout %+v", d, back)
		}
	}

	// Optional members stay out of the encoding.
	d, err := Parse([]byte(doc(nil)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"welcome","category":"marketing","sender":{"provider":"twilio","from":"+15550001111","type":"long_code"},"steps":[{"sms":"Hi {{.first_name}}"},{"wait":"24h"},{"sms":"Code: {{.code}}"}]}`
	if string(out) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", out, want)
	}
}

// The strict decoder must accept every field of the types, with its json
// name: the definition below sets them all (checked by reflection, so a new
// field left zero here fails the test) and must decode back unchanged. It
// goes through decodeStrict, not Parse, since Validate refuses some
// combinations (from and messaging_service_sid together).
func TestDecodeEveryField(t *testing.T) {
	full := Definition{
		Name: "welcome", Category: contract.CategoryMarketing,
		Sender: Sender{
			Provider: contract.ProviderTwilio, From: "+15550001111", MessagingServiceSID: "MG0123456789abcdef0123456789abcdef",
			Type: contract.SenderLongCode, Language: "fr", Footer: "STOP au 36173", AltInstruction: "Call 0800 123 456 to opt out",
			ShortCodeKeywords: true,
			QuietHours:        &QuietHours{Start: "09:00", End: "20:00", AllowRestDays: true, LegalOverride: "test numbers"},
		},
		Steps: []Step{{SMS: "Hi", Wait: "1h", OptIn: "Reply YES"}},
	}
	for _, zero := range zeroFields(reflect.ValueOf(full), "Definition") {
		t.Errorf("%s is zero: set it, so that the decoder is tested with it", zero)
	}
	data, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var back Definition
	if err := decodeStrict(data, &back); err != nil {
		t.Fatalf("decodeStrict(%s) = %v", data, err)
	}
	if !reflect.DeepEqual(back, full) {
		t.Errorf("decodeStrict(Marshal(d)) =\n%+v\nwant\n%+v", back, full)
	}
}

// shapeOf panics, at package initialisation, on a field it cannot check
// rather than letting it through unchecked.
func TestShapeOfRefuses(t *testing.T) {
	type embedded struct{}
	tests := []struct {
		name string
		typ  reflect.Type
		want string
	}{
		{"number", reflect.TypeFor[struct {
			N int `json:"n"`
		}](), "no JSON shape for int"},
		{"untagged", reflect.TypeFor[struct{ Name string }](), "needs a json tag"},
		{"embedded", reflect.TypeFor[struct{ embedded }](), "needs a json tag"},
		{"map", reflect.TypeFor[map[string]string](), "no JSON shape for map[string]string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if msg, _ := recover().(string); !strings.Contains(msg, tt.want) {
					t.Errorf("shapeOf(%s) panicked with %q; want %q", tt.typ, msg, tt.want)
				}
			}()
			shapeOf(tt.typ)
		})
	}
}

// zeroFields lists the paths of the zero fields and elements in v, looking
// into structs, pointers and slices; an empty slice counts as zero.
func zeroFields(v reflect.Value, path string) []string {
	if v.IsZero() || v.Kind() == reflect.Slice && v.Len() == 0 {
		return []string{path}
	}
	var zeros []string
	switch v.Kind() {
	case reflect.Pointer:
		zeros = zeroFields(v.Elem(), path)
	case reflect.Slice:
		for i := range v.Len() {
			zeros = append(zeros, zeroFields(v.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			zeros = append(zeros, zeroFields(v.Field(i), path+"."+v.Type().Field(i).Name)...)
		}
	}
	return zeros
}

func TestStep(t *testing.T) {
	tests := []struct {
		step   Step
		isWait bool
		dur    time.Duration
	}{
		{Step{SMS: "Hi"}, false, 0},
		{Step{Wait: "90s"}, true, 90 * time.Second},
		{Step{Wait: "1h30m"}, true, 90 * time.Minute},
		{Step{Wait: "7d"}, true, 7 * 24 * time.Hour},
		{Step{Wait: "365d"}, true, 365 * 24 * time.Hour},
		{Step{Wait: "1 day"}, true, 0}, // invalid: 0, Validate reports it
	}
	for _, tt := range tests {
		if got := tt.step.IsWait(); got != tt.isWait {
			t.Errorf("%+v.IsWait() = %v, want %v", tt.step, got, tt.isWait)
		}
		if got := tt.step.WaitDuration(); got != tt.dur {
			t.Errorf("%+v.WaitDuration() = %v, want %v", tt.step, got, tt.dur)
		}
	}
}

func TestScope(t *testing.T) {
	tests := []struct {
		sender Sender
		want   string
	}{
		{Sender{Provider: "twilio", From: "+15550001111", Type: "long_code"}, "+15550001111"},
		{Sender{Provider: "twilio", MessagingServiceSID: "MG0123456789abcdef0123456789abcdef", Type: "long_code"}, "MG0123456789abcdef0123456789abcdef"},
		{Sender{Provider: "sinch", From: "Acme", Type: "alphanumeric"}, "Acme"},
	}
	for _, tt := range tests {
		if got := tt.sender.Scope(); got != tt.want {
			t.Errorf("%+v.Scope() = %q, want %q", tt.sender, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(doc(nil)))
	f.Add([]byte(sender(`{"provider": "twilio", "messaging_service_sid": "MG0123456789abcdef0123456789abcdef", "type": "toll_free"}`)))
	f.Add([]byte(sender(`{"provider": "sinch", "from": "Acme", "type": "alphanumeric"}`)))
	f.Add([]byte(steps(`[{"sms": "{{if .a}}{{.a}}{{else}}{{index . \"b c\"}}{{end}}"}, {"wait": "7d"}]`)))
	f.Add([]byte(`{"name": "x", "name": "y", "Steps": [1]}`))
	f.Add([]byte("{\n,"))
	if data, err := os.ReadFile(filepath.Join("..", "..", "examples", "welcome.json")); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		// Workflow input goes through JSON: it must come back equal and valid.
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("Marshal(%+v) = %v", d, err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal(d)) = %v\njson: %s", err, out)
		}
		if !reflect.DeepEqual(d, back) {
			t.Fatalf("round trip changed the definition:\n in %+v\nout %+v", d, back)
		}
		// Rendering with every attribute present must not panic, and may
		// fail only on the rendered body.
		attrs := make(map[string]string)
		for _, name := range d.Attributes() {
			attrs[name] = "x"
		}
		if _, err := d.Render(attrs); err != nil && strings.Contains(err.Error(), "missing attribute") {
			t.Fatalf("Render with all Attributes() = %v", err)
		}
	})
}

// Marketing needs a working way to opt out: senders that cannot take a STOP
// reply are rejected without an alternative instruction; transactional
// journeys are not.
func TestSenderOptOutPolicy(t *testing.T) {
	tests := []struct {
		name, json, err string
	}{
		{"alphanumeric marketing", sender(`{"provider": "sinch", "from": "ACME", "type": "alphanumeric"}`),
			`steps[0]: sender "ACME": no way to opt out: an alphanumeric sender cannot receive replies, so its marketing messages need an alternative opt-out instruction: set alt_instruction on the sender (e.g. "Text STOP to 12345" or "Call 0800 123 456 to opt out")`},
		{"short code without keywords", sender(`{"provider": "twilio", "from": "12345", "type": "short_code"}`),
			`steps[0]: sender "12345": no way to opt out: a short code without keyword handling ignores STOP replies: enable short_code_keywords on the sender, or set alt_instruction (e.g. "Call 0800 123 456 to opt out")`},
		{"alphanumeric transactional", doc(map[string]string{"category": `"transactional"`, "sender": `{"provider": "sinch", "from": "ACME", "type": "alphanumeric"}`}), ""},
		{"bad quiet hours", sender(`{"provider": "twilio", "from": "+15550001111", "type": "long_code", "quiet_hours": {"start": "9am", "end": "20:00"}}`),
			`sender.quiet_hours: start: invalid time "9am" (want HH:MM)`},
		{"rest days without a reason", sender(`{"provider": "twilio", "from": "+15550001111", "type": "long_code", "quiet_hours": {"start": "09:00", "end": "20:00", "allow_rest_days": true}}`),
			`sender.quiet_hours.allow_rest_days: widens the legal window; set "legal_override" to say why`},
		{"blank legal override", sender(`{"provider": "twilio", "from": "+15550001111", "type": "long_code", "quiet_hours": {"start": "00:00", "end": "24:00", "legal_override": "  "}}`),
			`sender.quiet_hours: legal_override: must say why the legal window does not apply`},
		{"long legal override", sender(`{"provider": "twilio", "from": "+15550001111", "type": "long_code", "quiet_hours": {"start": "00:00", "end": "24:00", "legal_override": "` + strings.Repeat("x", 201) + `"}}`),
			`sender.quiet_hours: legal_override: at most 200 bytes, got 201`},
		{"bad language", sender(`{"provider": "twilio", "from": "+15550001111", "type": "long_code", "language": "xx"}`),
			`sender.language: must be one of en, fr, es, pt, de, got "xx"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.json))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err {
				t.Errorf("error\n got %q\nwant %q", got, tt.err)
			}
		})
	}
}

// The footer is localised, replaced by the alternative instruction where
// STOP replies cannot work, and not added twice.
func TestRenderFooter(t *testing.T) {
	tests := []struct {
		name, sender, sms, want string
	}{
		{"english default", `{"provider": "twilio", "from": "+15550001111", "type": "long_code"}`, "Sale today", "Sale today\nReply STOP to opt out."},
		{"french", `{"provider": "twilio", "from": "+15550001111", "type": "long_code", "language": "fr"}`, "Soldes", "Soldes\nRépondez STOP pour vous désinscrire."},
		{"already has instructions", `{"provider": "twilio", "from": "+15550001111", "type": "long_code"}`, "Sale today. Reply STOP to opt out", "Sale today. Reply STOP to opt out"},
		{"alphanumeric alt instruction", `{"provider": "sinch", "from": "ACME", "type": "alphanumeric", "alt_instruction": "Call 0800 123 456 to opt out"}`, "Sale", "Sale\nCall 0800 123 456 to opt out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse([]byte(doc(map[string]string{"sender": tt.sender, "steps": `[{"sms": "` + tt.sms + `"}]`})))
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.Render(nil)
			if err != nil || got[0] != tt.want {
				t.Errorf("Render = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// The starter warns when the footer costs a segment: a 150-character GSM-7
// body fits one segment alone, two with the footer.
func TestFooterAddsSegment(t *testing.T) {
	d, err := Parse([]byte(doc(map[string]string{"steps": `[{"sms": "{{.text}}"}]`})))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		want bool
	}{
		{strings.Repeat("a", 150), true},
		{"short", false},
		{strings.Repeat("a", 140) + " Reply STOP to opt out", false}, // already has instructions
	}
	for _, tt := range tests {
		if got := d.FooterAddsSegment(map[string]string{"text": tt.text}); got != tt.want {
			t.Errorf("FooterAddsSegment(%d chars) = %v, want %v", len(tt.text), got, tt.want)
		}
	}
}

// An opt_in step is rendered like an SMS step, footer included.
func TestRenderOptIn(t *testing.T) {
	d, err := Parse([]byte(steps(`[{"opt_in": "Reply YES for deals, {{.first_name}}"}, {"sms": "Welcome"}]`)))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Attributes(); !slices.Equal(got, []string{"first_name"}) {
		t.Errorf("Attributes = %q", got)
	}
	got, err := d.Render(map[string]string{"first_name": "Ada"})
	if want := []string{"Reply YES for deals, Ada\nReply STOP to opt out.", "Welcome\nReply STOP to opt out."}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Render = %q, %v; want %q", got, err, want)
	}
	if _, err := d.Render(nil); err == nil || err.Error() != `steps[0].opt_in: missing attribute "first_name"` {
		t.Errorf("Render(nil) error = %v", err)
	}
}

// The example journeys in the README's tour stay valid.
func TestExampleJourneys(t *testing.T) {
	for _, name := range []string{"welcome.json", "quick.json", "club.json"} {
		data, err := os.ReadFile("../../examples/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(data); err != nil {
			t.Errorf("examples/%s: %v", name, err)
		}
	}
}

// A sender's hours narrow the legal window; only a legal_override widens it.
func TestQuietHoursApply(t *testing.T) {
	florida := policy.Rule("FL").Window // 08:00-20:00
	alabama := policy.Rule("AL").Window // 08:00-20:00, no Sundays
	tests := []struct {
		name       string
		q          QuietHours
		legal      policy.Window
		start, end time.Duration
		sundays    bool
	}{
		{"narrower hours narrow", QuietHours{Start: "09:00", End: "19:00"}, florida, 9 * time.Hour, 19 * time.Hour, true},
		{"wider hours do not widen", QuietHours{Start: "00:00", End: "24:00"}, florida, 8 * time.Hour, 20 * time.Hour, true},
		{"rest days stay without an override", QuietHours{Start: "00:00", End: "24:00", AllowRestDays: true}, alabama, 8 * time.Hour, 20 * time.Hour, false},
		{"override widens", QuietHours{Start: "00:00", End: "24:00", LegalOverride: "test numbers"}, florida, 0, 24 * time.Hour, true},
		{"override keeps rest days", QuietHours{Start: "07:00", End: "22:00", LegalOverride: "staff"}, alabama, 7 * time.Hour, 22 * time.Hour, false},
		{"override and rest days", QuietHours{Start: "07:00", End: "22:00", AllowRestDays: true, LegalOverride: "staff"}, alabama, 7 * time.Hour, 22 * time.Hour, true},
	}
	sunday := time.Date(2026, 6, 14, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := tt.q.Apply(tt.legal)
			if err != nil {
				t.Fatal(err)
			}
			monday := sunday.AddDate(0, 0, 1)
			day := monday.Truncate(24 * time.Hour)
			for _, c := range []struct {
				at   time.Time
				want bool
			}{
				{day.Add(tt.start), true}, {day.Add(tt.start - time.Minute), tt.start == 0},
				{day.Add(tt.end - time.Minute), true}, {day.Add(tt.end), tt.end == 24*time.Hour},
				{sunday, tt.sundays},
			} {
				open := policy.NextAllowed(c.at, []string{"UTC"}, w).Equal(c.at)
				if open != c.want {
					t.Errorf("%s open = %v; want %v", c.at.Format(time.RFC3339), open, c.want)
				}
			}
		})
	}
}
