package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/workflows/contract"
)

// The text report, whole, for a fixed start time: 07:30 in New York, when
// California is closed (federal) and Connecticut opens at 09:00.
func TestPreviewText(t *testing.T) {
	t.Setenv("RECIPIENT_KEY_SECRET", "")
	store := pgtest.NewStore(t)
	t.Setenv("DATABASE_URL", store.Pool().Config().ConnString())
	keyer, err := phone.NewKeyer([]byte(phone.DevSecret))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Record(context.Background(), contract.ConsentChange{RecipientKey: keyer.Key("+12125550100"), Scope: "+15550001111",
		To: contract.OptedOut, Source: contract.SourceAdmin}); err != nil {
		t.Fatal(err)
	}
	audience := writeFile(t, "audience.csv", "phone,first_name,code\n"+
		"+1 212 555 0100,Ada,A1\n"+
		"+1 415 555 0101,Bo,B1\n"+
		"+1 203 555 0100,Cy,C1\n"+
		"12,Di,D1\n"+
		"+14155550101,Bo,B1\n"+
		"+1 303 555 0100,Ed,\n")
	var out bytes.Buffer
	err = runPreview([]string{"-dev", "-journey", "../examples/welcome.json", "-audience", audience, "-n", "2",
		"-at", "2026-12-01T07:30:00-05:00"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(`preview of journey "welcome" from AUD at 2026-12-01T07:30:00-05:00 (scope +15550001111): nothing is started or sent

AUD:2: +*******0100, consent: opted_out, first message refused: opted_out
  steps[0]: GSM-7, 1 segment
    Hi Ada, welcome to Acme!
    Reply STOP to opt out.
  steps[2]: GSM-7, 1 segment
    Your 10% code: A1
    Reply STOP to opt out.

AUD:3: +*******0101, consent: none recorded, first message at 2026-12-01T11:00:00-05:00
  steps[0]: GSM-7, 1 segment
    Hi Bo, welcome to Acme!
    Reply STOP to opt out.
  steps[2]: GSM-7, 1 segment
    Your 10% code: B1
    Reply STOP to opt out.

rows 6: valid 3, duplicates 1, skipped 2
  1 row: same recipient as an earlier line: line 6
  1 row: phone: "…" is not a valid number: line 5
  1 row: steps[2].sms: missing attribute "code": line 7
consent in +15550001111: opted out 1, pending 0, unconfirmed 0, confirmed 0; first message refused 1, sent 2
steps[0] (sms): 2 messages, 2 segments, 0 as UCS-2
steps[2] (sms): 2 messages, 2 segments, 0 as UCS-2
segments in all: 4
first messages outside the sending window (CT): 1, going from 2026-12-01T09:00:00-05:00 to 2026-12-01T09:00:00-05:00
first messages outside the sending window (federal): 1, going from 2026-12-01T11:00:00-05:00 to 2026-12-01T11:00:00-05:00
`, "AUD", audience)
	if got := out.String(); got != want {
		t.Errorf("preview printed\n%s\nwant\n%s", got, want)
	}

	// The same as JSON.
	out.Reset()
	if err := runPreview([]string{"-dev", "-journey", "../examples/welcome.json", "-audience", audience, "-format", "json",
		"-at", "2026-12-01T07:30:00-05:00"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"valid": 3`, `"opted_out": 1`, `"rule": "CT"`, `"segments": 4`, `"encoding": "GSM-7"`} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("JSON report lacks %s:\n%s", s, out.String())
		}
	}
}

func writeFile(t *testing.T, name, content string) string {
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// validate makes a start's checks with a start's messages.
func TestValidate(t *testing.T) {
	t.Setenv("STOPLINE_SENDERS", "")
	bad := writeFile(t, "bad.json", `{"name": "bad", "category": "marketing",
		"sender": {"provider": "twilio", "form": "+15550001111", "type": "long_code"}, "steps": [{"sms": "Hi"}]}`)
	badWait := writeFile(t, "wait.json", `{"name": "bad", "category": "marketing",
		"sender": {"provider": "twilio", "from": "+15550001111", "type": "long_code"}, "steps": [{"sms": "Hi"}, {"wait": "1 day"}, {"sms": "Bye"}]}`)
	noCode := writeFile(t, "audience.csv", "phone,first_name\n+14155550101,Ada\n")
	badSenders := writeFile(t, "s.json", `{"senders": [{"bogus": 1}]}`)
	tests := []struct {
		args []string
		want string // the error, or the output when ""
	}{
		{[]string{"-journey", "../examples/welcome.json"}, ""},
		{[]string{"-journey", "../examples/club.json", "-senders", "../examples/senders.json", "-audience", "../examples/audience.csv"}, ""},
		{[]string{"-journey", bad}, bad + `: sender: unknown field "form"`},
		{[]string{"-journey", badWait}, badWait + `: steps[1].wait: invalid duration "1 day"`},
		{[]string{"-journey", "../examples/club.json"}, ""}, // no senders file: nothing to check the opt_in against
		{[]string{"-journey", "../examples/club.json", "-senders", writeFile(t, "s.json", `{"senders": []}`)},
			`../examples/club.json: steps[0].opt_in: sender "+15550003333" has no double opt-in in the senders file`},
		{[]string{"-journey", "../examples/welcome.json", "-audience", noCode}, noCode + `: line 1: the journey uses attributes with no column: code`},
		{[]string{"-journey", "../examples/welcome.json", "-audience", "nonexistent.csv"}, "open nonexistent.csv: no such file or directory"},
		{[]string{"-journey", "../examples/welcome.json", "-senders", badSenders}, badSenders + `: senders file: json: unknown field "bogus"`},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := runValidate(tt.args, &out)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("validate %q: %v", tt.args, err)
		case tt.want == "" && out.String() != tt.args[1]+": ok\n":
			t.Errorf("validate %q printed %q", tt.args, out.String())
		case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
			t.Errorf("validate %q = %v, want %q", tt.args, err, tt.want)
		}
	}
}

// The command exits 1 on an error and 0 without: CI reads the status.
func TestValidateExitStatus(t *testing.T) {
	if args := os.Getenv("STARTER_TEST_MAIN"); args != "" {
		os.Args = append([]string{"starter"}, strings.Split(args, " ")...)
		main()
		os.Exit(0)
	}
	bad := writeFile(t, "bad.json", `{"name": "bad"}`)
	for _, tt := range []struct {
		args string
		code int
	}{
		{"validate -journey ../examples/welcome.json", 0},
		{"validate -journey " + bad, 1},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestValidateExitStatus$")
		cmd.Env = append(os.Environ(), "STARTER_TEST_MAIN="+tt.args)
		out, err := cmd.CombinedOutput()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tt.code {
			t.Errorf("starter %s: exit %d, want %d\n%s", tt.args, code, tt.code, out)
		}
	}
}
