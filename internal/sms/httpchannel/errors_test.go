package httpchannel

import (
	"strings"
	"testing"

	"github.com/stopline/stopline/internal/sms"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   sms.Kind
	}{
		{403, `{"code":"opted_out"}`, sms.OptedOut},
		{422, `{"code":"INVALID_NUMBER","message":"x"}`, sms.InvalidNumber},
		{400, `{"code":"rate_limited"}`, sms.RateLimited},
		{400, `{"code":"temporary"}`, sms.Temporary},
		{503, `{"code":"permanent"}`, sms.Permanent},
		{503, `{"code":"unknown"}`, sms.Temporary},
		{400, `{"message":"no code"}`, sms.Permanent},
		{429, `{}`, sms.RateLimited},
		{408, `not json`, sms.Temporary},
		{418, ``, sms.Permanent},
	}
	for _, tt := range tests {
		if got := classify(tt.status, []byte(tt.body), "+15005550006").Kind; got != tt.want {
			t.Errorf("classify(%d, %s) = %s, want %s", tt.status, tt.body, got, tt.want)
		}
	}
}

// FuzzHTTPChannelErrorBody: no panic, a known kind, and no recipient
// number in the error whatever the channel answers.
func FuzzHTTPChannelErrorBody(f *testing.F) {
	f.Add(422, []byte(`{"code":"invalid_number","message":"cannot send to +15005550006"}`))
	f.Add(403, []byte(`{"code":"opted_out"}`))
	f.Add(502, []byte("<html>\xff 1-500-555-0006</html>"))
	f.Add(500, []byte(`{"code":`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		const to = "+15005550006"
		e := classify(status, body, to)
		if e.Provider != provider || e.HTTPStatus != status {
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
