package main

import "testing"

func TestAttrFlag(t *testing.T) {
	tests := []struct {
		args []string
		want string // error; "" for none
	}{
		{[]string{"first_name=Ada", "code=A=1"}, ""},
		{[]string{"code"}, `want name=value, got "code"`},
		{[]string{"=x"}, `want name=value, got "=x"`},
		{[]string{"code=1", "code=2"}, `"code" given twice`},
	}
	for _, tt := range tests {
		a := attrFlag{}
		got := ""
		for _, s := range tt.args {
			if err := a.Set(s); err != nil {
				got = err.Error()
				break
			}
		}
		if got != tt.want {
			t.Errorf("%q: error %q, want %q", tt.args, got, tt.want)
		}
		if tt.want == "" && (a["first_name"] != "Ada" || a["code"] != "A=1") {
			t.Errorf("%q: %v", tt.args, a)
		}
	}
}
