package launch_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
)

// A test send's input: its own workflow ID, the number's key, the
// attributes as a row would give them, and the step checked.
func TestTestSendInput(t *testing.T) {
	at := time.Date(2026, 12, 1, 18, 30, 0, 0, time.UTC)
	step := func(k int) *int { return &k }
	steps := []journey.Step{{OptIn: "Reply YES"}, {SMS: "Hi {{.first_name}}, use {{.code}}."}, {Wait: "1h"}, {SMS: "Bye"}}
	tests := []struct {
		name  string
		phone string
		attrs map[string]string
		step  *int
		steps []journey.Step // default: steps
		want  string         // error substring; "" for none
	}{
		{"every step", "(415) 555-0101", map[string]string{"first_name": " Ada ", "code": "X1"}, nil, nil, ""},
		{"step 1", "+14155550101", map[string]string{"first_name": "Ada", "code": "X1"}, step(1), nil, ""},
		{"step out of range", "+14155550101", map[string]string{"first_name": "Ada", "code": "X1"}, step(4), nil, "-step 4: the journey's steps are steps[0] to steps[3]"},
		{"step is a wait", "+14155550101", map[string]string{"first_name": "Ada", "code": "X1"}, step(2), nil, "-step 2: steps[2] is a wait"},
		{"step is opt_in", "+14155550101", map[string]string{"first_name": "Ada", "code": "X1"}, step(0), nil, "-step 0: steps[0] is an opt_in step"},
		{"no sms step", "+14155550101", nil, nil, []journey.Step{{OptIn: "Reply YES"}}, "the journey has no sms step to test"},
		{"blank attribute is missing", "+14155550101", map[string]string{"first_name": "Ada", "code": " "}, nil, nil, "-to/-attr: "},
		{"bad number", "+1415", map[string]string{"first_name": "Ada", "code": "X1"}, nil, nil, "-to/-attr: phone: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := def()
			d.Steps = steps
			if tt.steps != nil {
				d.Steps = tt.steps
			}
			ts := launch.TestSend{Options: launch.Options{Journey: d, Region: "US", Keyer: testkit.DevKeyer()},
				Phone: tt.phone, Attributes: tt.attrs, Step: tt.step, Now: true}
			id, in, err := ts.Input(at)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want one containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			key := testkit.DevKeyer().Key("+14155550101")
			if want := workflows.TestSendID("test-welcome-20261201T183000.000Z", key); id != want || !strings.HasPrefix(id, "test/") {
				t.Errorf("workflow ID %q, want %q", id, want)
			}
			if in.RecipientKey != key || in.Phone != "+14155550101" || in.Attributes["first_name"] != "Ada" {
				t.Errorf("input %+v", in)
			}
			if in.Test == nil || !in.Test.Now || (in.Test.Step == nil) != (tt.step == nil) {
				t.Errorf("test %+v, want now and step %v", in.Test, tt.step)
			}
		})
	}
}
