package sinch

import (
	"strings"
	"testing"

	"github.com/stopline/stopline/internal/sms"
)

func TestParseErrorBody(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		code   string
		text   string
		wantOK bool
	}{
		{"sms api", `{"code":"syntax_invalid_json","text":"bad json"}`, "syntax_invalid_json", "bad json", true},
		{"quoted number", `{"code":"257","text":"User opted out (STOP)"}`, "257", "User opted out (STOP)", true},
		{"bare number", `{"code":257,"text":"User opted out (STOP)"}`, "257", "User opted out (STOP)", true},
		{"message instead of text", `{"code":"unauthorized","message":"nope"}`, "unauthorized", "nope", true},
		{"nested", `{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}`, "INVALID_ARGUMENT", "bad", true},
		{"code is an object", `{"code":{"x":1},"text":"t"}`, "", "t", true},
		{"empty object", `{}`, "", "", false},
		{"array", `[1,2]`, "", "", false},
		{"html", `<html>502</html>`, "", "", false},
		{"empty", ``, "", "", false},
		{"null", `null`, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, text, ok := parseErrorBody([]byte(tt.body))
			if code != tt.code || text != tt.text || ok != tt.wantOK {
				t.Errorf("parseErrorBody(%s) = %q, %q, %v; want %q, %q, %v", tt.body, code, text, ok, tt.code, tt.text, tt.wantOK)
			}
		})
	}
}

// FuzzSinchErrorBody feeds arbitrary error responses to the classifier: it
// must not panic, must return a known kind, and must never let the
// recipient number through.
func FuzzSinchErrorBody(f *testing.F) {
	f.Add(400, []byte(`{"code":"syntax_invalid_parameter_format","text":"Invalid recipient '+15005550006'"}`))
	f.Add(403, []byte(`{"code":257,"text":"User opted out (STOP)"}`))
	f.Add(400, []byte(`{"error":{"code":400,"message":"+1 (500) 555-0006","status":"INVALID_ARGUMENT"}}`))
	f.Add(502, []byte("<html>\xff\xfe bad gateway 15005550006</html>"))
	f.Add(429, []byte(`{"code":"`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		const to = "+15005550006"
		e := classify(status, body, to)
		if e == nil || e.Provider != provider || e.HTTPStatus != status {
			t.Fatalf("classify = %+v", e)
		}
		if e.Kind < sms.Temporary || e.Kind > sms.Permanent {
			t.Errorf("unknown kind %d", e.Kind)
		}
		if strings.Contains(e.Error(), to) || strings.Contains(e.Error(), to[1:]) {
			t.Errorf("error %q leaks the recipient", e.Error())
		}
	})
}
