package sms

import "testing"

func TestCheckBaseURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://api.twilio.com", true},
		{"https://gateway.example.com:8443/twilio", true},
		{"http://127.0.0.1:8080", true},
		{"http://[::1]:9000", true},
		{"http://localhost:9000", true},
		{"http://api.twilio.com", false},
		{"http://10.0.0.5:8080", false},
		{"http://localhost.evil.example", false},
		{"ftp://api.twilio.com", false},
		{"api.twilio.com", false},
		{"", false},
	}
	for _, tt := range tests {
		if err := CheckBaseURL(tt.url); (err == nil) != tt.ok {
			t.Errorf("CheckBaseURL(%q) = %v, want ok %v", tt.url, err, tt.ok)
		}
	}
}
