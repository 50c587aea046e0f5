package smstest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/stopline/stopline/internal/sms/smstest"
)

func TestTwilioSignatureMatchesTwilioGo(t *testing.T) {
	tests := []struct {
		name string
		url  string
		form url.Values
	}{
		{"inbound stop", "https://hooks.example.com/twilio/inbound", url.Values{
			"MessageSid": {"SM00000000000000000000000000000001"}, "AccountSid": {smstest.AccountSID},
			"From": {"+15005550006"}, "To": {"+15005550001"}, "Body": {"STOP"}, "NumMedia": {"0"}, "OptOutType": {"STOP"},
		}},
		{"no params", "https://hooks.example.com/twilio/status", url.Values{}},
		{"query and port", "http://127.0.0.1:8080/twilio/inbound?tenant=a", url.Values{"Body": {"stop please"}, "From": {"+15005550006"}}},
		{"unicode body", "https://hooks.example.com/in", url.Values{"Body": {"ARRÊT 🙏"}, "From": {"+33612345678"}}},
	}
	v := client.NewRequestValidator(smstest.AuthToken)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := smstest.TwilioSignature(smstest.AuthToken, tt.url, tt.form)
			params := map[string]string{}
			for k := range tt.form {
				params[k] = tt.form.Get(k)
			}
			if !v.Validate(tt.url, params, sig) {
				t.Errorf("Validate rejected %q", sig)
			}
			if !v.ValidateBody(tt.url, []byte(tt.form.Encode()), sig) {
				t.Errorf("ValidateBody rejected %q", sig)
			}
			if other := client.NewRequestValidator("othertoken"); other.Validate(tt.url, params, sig) {
				t.Error("a different token validated the signature")
			}
			tampered := map[string]string{"Body": "START"}
			for k, val := range params {
				if k != "Body" {
					tampered[k] = val
				}
			}
			if v.Validate(tt.url, tampered, sig) {
				t.Error("a tampered body validated the signature")
			}
		})
	}
}

// postForm sends a create-message request to the fake Twilio as twilio-go
// would, and returns the status and decoded JSON.
func postForm(t *testing.T, f *smstest.FakeTwilio, user, pass string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
		f.URL()+"/2010-04-01/Accounts/"+smstest.AccountSID+"/Messages.json", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(user, pass)
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("status %d, body is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, body
}

func newFakeTwilio(t *testing.T) *smstest.FakeTwilio {
	f := smstest.NewFakeTwilio()
	t.Cleanup(f.Close)
	return f
}

func TestFakeTwilioCreate(t *testing.T) {
	ok := url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Body": {"hi"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vals := range ok {
			f[key] = vals
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	tests := []struct {
		name       string
		user, pass string
		form       url.Values
		optOut     string
		wantStatus int
		wantCode   float64 // JSON numbers decode as float64; 0 for success
	}{
		{"accepted", smstest.AccountSID, smstest.AuthToken, ok, "", 201, 0},
		{"wrong token", smstest.AccountSID, "nope", ok, "", 401, 20003},
		{"wrong account", "AC11111111111111111111111111111111", smstest.AuthToken, ok, "", 401, 20003},
		{"to without plus", smstest.AccountSID, smstest.AuthToken, with("To", "15005550006"), "", 400, 21211},
		{"to with letters", smstest.AccountSID, smstest.AuthToken, with("To", "+1500abc"), "", 400, 21211},
		{"no to", smstest.AccountSID, smstest.AuthToken, with("To", ""), "", 400, 21604},
		{"no sender", smstest.AccountSID, smstest.AuthToken, with("From", ""), "", 400, 21603},
		{"no body", smstest.AccountSID, smstest.AuthToken, with("Body", ""), "", 400, 21602},
		{"opted out", smstest.AccountSID, smstest.AuthToken, ok, "+15005550006", 400, 21610},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTwilio(t)
			if tt.optOut != "" {
				f.OptOut(tt.optOut)
			}
			status, body := postForm(t, f, tt.user, tt.pass, tt.form)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%v)", status, tt.wantStatus, body)
			}
			if f.Calls() != 1 {
				t.Errorf("Calls = %d, want 1", f.Calls())
			}
			if tt.wantCode != 0 {
				if body["code"] != tt.wantCode || body["status"] != float64(tt.wantStatus) || body["message"] == "" {
					t.Errorf("error body = %v, want code %v", body, tt.wantCode)
				}
				if n := len(f.Accepted()); n != 0 {
					t.Errorf("accepted %d messages", n)
				}
				return
			}
			sid, _ := body["sid"].(string)
			if len(sid) != 34 || !strings.HasPrefix(sid, "SM") || body["status"] != "queued" ||
				body["to"] != "+15005550006" || body["from"] != "+15005550001" || body["body"] != "hi" {
				t.Errorf("message = %v", body)
			}
			created, err := time.Parse(time.RFC1123Z, fmt.Sprint(body["date_created"]))
			acc := f.Accepted()
			if err != nil || len(acc) != 1 || !created.Equal(acc[0].At.Truncate(time.Second)) {
				t.Errorf("date_created %v (%v), accepted %+v", body["date_created"], err, acc)
			}
		})
	}
}

func TestFakeTwilioList(t *testing.T) {
	f := newFakeTwilio(t)
	for i, to := range []string{"+15005550006", "+15005550007", "+15005550006", "+15005550006"} {
		form := url.Values{"To": {to}, "From": {"+15005550001"}, "Body": {fmt.Sprint("m", i)}}
		if status, body := postForm(t, f, smstest.AccountSID, smstest.AuthToken, form); status != 201 {
			t.Fatalf("create: %d %v", status, body)
		}
	}
	list := func(query string) map[string]any {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet,
			f.URL()+"/2010-04-01/Accounts/"+smstest.AccountSID+"/Messages.json?"+query, nil)
		req.SetBasicAuth(smstest.AccountSID, smstest.AuthToken)
		status, body := do(t, req)
		if status != 200 {
			t.Fatalf("list: %d %v", status, body)
		}
		return body
	}
	bodies := func(page map[string]any) string {
		var out []string
		for _, m := range page["messages"].([]any) {
			out = append(out, m.(map[string]any)["body"].(string))
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		query     string
		want      string
		wantNext  bool
		wantSize  float64
		wantPageN float64
	}{
		{"To=%2B15005550006", "m3,m2,m0", false, 50, 0},
		{"To=%2B15005550006&PageSize=2", "m3,m2", true, 2, 0},
		{"To=%2B15005550006&PageSize=2&Page=1&PageToken=PA2", "m0", false, 2, 1},
		{"From=%2B15005550001", "m3,m2,m1,m0", false, 50, 0},
		{"To=%2B15005550009", "", false, 50, 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			page := list(tt.query)
			if got := bodies(page); got != tt.want {
				t.Errorf("bodies = %q, want %q (most recent first)", got, tt.want)
			}
			if hasNext := page["next_page_uri"] != nil; hasNext != tt.wantNext {
				t.Errorf("next_page_uri = %v, want present %v", page["next_page_uri"], tt.wantNext)
			}
			if page["page_size"] != tt.wantSize || page["page"] != tt.wantPageN {
				t.Errorf("page %v size %v, want %v %v", page["page"], page["page_size"], tt.wantPageN, tt.wantSize)
			}
		})
	}
}

func TestFakeFailQueue(t *testing.T) {
	f := newFakeTwilio(t)
	f.Fail(2, 502, "<html>Bad Gateway</html>")
	f.Fail(1, 429, `{"code":20429,"message":"Too Many Requests","status":429}`)
	form := url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Body": {"hi"}}

	want := []struct {
		status      int
		contentType string
		body        string
	}{
		{502, "text/html", "<html>Bad Gateway</html>"},
		{502, "text/html", "<html>Bad Gateway</html>"},
		{429, "application/json", `{"code":20429,"message":"Too Many Requests","status":429}`},
		{201, "application/json", ""},
	}
	for i, w := range want {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost,
			f.URL()+"/2010-04-01/Accounts/"+smstest.AccountSID+"/Messages.json", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(smstest.AccountSID, smstest.AuthToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != w.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), w.contentType) {
			t.Errorf("call %d: %d %q, want %d %q", i, resp.StatusCode, resp.Header.Get("Content-Type"), w.status, w.contentType)
		}
		if w.body != "" && string(b) != w.body {
			t.Errorf("call %d: body %q, want %q", i, b, w.body)
		}
	}
	if f.Calls() != 4 || len(f.Accepted()) != 1 {
		t.Errorf("Calls %d, accepted %d; want 4 and 1", f.Calls(), len(f.Accepted()))
	}
}

func TestFakeDelayHonoursContextAndClose(t *testing.T) {
	f := smstest.NewFakeTwilio()
	defer f.Close()
	f.SetDelay(time.Hour)
	form := url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Body": {"hi"}}
	post := func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost,
			f.URL()+"/2010-04-01/Accounts/"+smstest.AccountSID+"/Messages.json", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(smstest.AccountSID, smstest.AuthToken)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := post(ctx); err == nil {
		t.Fatal("a delayed call answered before the caller's deadline")
	}

	// A caller still waiting when the fake closes must not hold Close up.
	done := make(chan error, 1)
	go func() { done <- post(context.Background()) }()
	for f.Calls() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	f.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s with a delayed call pending", d)
	}
	<-done
	if n := len(f.Accepted()); n != 0 {
		t.Errorf("abandoned calls accepted %d messages", n)
	}
}

// Run with -race: the fake's state is shared by handlers and test code.
func TestFakeConcurrentUse(t *testing.T) {
	f := newFakeTwilio(t)
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			to := fmt.Sprintf("+1500555%04d", i)
			if i%2 == 0 {
				f.OptOut(to)
			}
			form := url.Values{"To": {to}, "From": {"+15005550001"}, "Body": {"hi"}}
			req, _ := http.NewRequest(http.MethodPost,
				f.URL()+"/2010-04-01/Accounts/"+smstest.AccountSID+"/Messages.json", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(smstest.AccountSID, smstest.AuthToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err) // not Fatal: this is not the test goroutine
				return
			}
			resp.Body.Close()
			_ = f.Accepted()
		})
	}
	wg.Wait()
	acc := f.Accepted()
	if len(acc) != n/2 || f.Calls() != n {
		t.Fatalf("accepted %d of %d calls, want %d of %d", len(acc), f.Calls(), n/2, n)
	}
	for i := 1; i < len(acc); i++ {
		if acc[i].At.Before(acc[i-1].At) {
			t.Errorf("Accepted not in acceptance order at %d", i)
		}
	}
}

func TestFakeOptIn(t *testing.T) {
	f := newFakeTwilio(t)
	form := url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Body": {"hi"}}
	f.OptOut("+15005550006")
	if status, _ := postForm(t, f, smstest.AccountSID, smstest.AuthToken, form); status != 400 {
		t.Errorf("opted-out send: status %d, want 400", status)
	}
	f.OptIn("+15005550006")
	if status, _ := postForm(t, f, smstest.AccountSID, smstest.AuthToken, form); status != 201 {
		t.Errorf("opted-in send: status %d, want 201", status)
	}
}
