package codec

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

const (
	testToken = "codec-token-0123456789abcdef0123456789"
	uiOrigin  = "https://ui.example.com"
)

type codecRequest struct {
	method, path, token, origin string
	body                        string
}

type codecWant struct {
	status  int
	headers map[string]string // "" = must be absent
	body    string            // substring of the response body
}

// TestServer sends raw requests to a codec server over loopback.
func TestServer(t *testing.T) {
	c := mustParse(t, keyring("a"))
	plain := payloadsJSON(t, plainPayload(t))
	enc, err := c.Encode([]*commonpb.Payload{plainPayload(t)})
	if err != nil {
		t.Fatal(err)
	}
	encrypted := payloadsJSON(t, enc...)
	foreign, err := mustParse(t, keyring("z")).Encode([]*commonpb.Payload{plainPayload(t)})
	if err != nil {
		t.Fatal(err)
	}
	readable := base64Of(string(plainPayload(t).Data)) // what a decode answers
	locked := ServerConfig{Token: testToken, Origins: []string{uiOrigin}}
	tests := []struct {
		name string
		cfg  ServerConfig
		req  codecRequest
		want codecWant
	}{
		{"decode with token", locked, codecRequest{"POST", "/codec/decode", testToken, "", encrypted},
			codecWant{status: 200, body: readable}},
		{"encode with token", locked, codecRequest{"POST", "/codec/encode", testToken, "", plain},
			codecWant{status: 200, body: base64Of(Encoding)}},
		{"decode without token", locked, codecRequest{"POST", "/codec/decode", "", "", encrypted},
			codecWant{status: 401, headers: map[string]string{"WWW-Authenticate": `Bearer realm="stopline-codec"`}}},
		{"decode with another token", locked, codecRequest{"POST", "/codec/decode", testToken + "x", "", encrypted},
			codecWant{status: 401}},
		{"encode without token", locked, codecRequest{"POST", "/codec/encode", "", "", plain},
			codecWant{status: 401}},
		{"no token configured refuses all", ServerConfig{}, codecRequest{"POST", "/codec/decode", "", "", encrypted},
			codecWant{status: 401}},
		{"empty bearer against no token", ServerConfig{}, codecRequest{"POST", "/codec/decode", " ", "", encrypted},
			codecWant{status: 401}},
		{"dev needs no token", ServerConfig{Dev: true}, codecRequest{"POST", "/codec/decode", "", "", encrypted},
			codecWant{status: 200, body: readable}},
		{"dev: preflight from the embedded UI", ServerConfig{Dev: true}, codecRequest{"OPTIONS", "/codec/decode", "", "http://127.0.0.1:8233", ""},
			codecWant{status: 204, headers: map[string]string{"Access-Control-Allow-Origin": "http://127.0.0.1:8233"}}},
		{"dev: preflight from localhost", ServerConfig{Dev: true}, codecRequest{"OPTIONS", "/codec/decode", "", "http://localhost:8233", ""},
			codecWant{status: 204, headers: map[string]string{"Access-Control-Allow-Origin": "http://localhost:8233"}}},
		{"dev: preflight from a web site", ServerConfig{Dev: true}, codecRequest{"OPTIONS", "/codec/decode", "", "https://evil.example", ""},
			codecWant{status: 403, headers: map[string]string{"Access-Control-Allow-Origin": ""}}},
		{"outside dev: loopback origin needs listing", locked, codecRequest{"OPTIONS", "/codec/decode", "", "http://127.0.0.1:8233", ""},
			codecWant{status: 403}},
		{"unknown key ID", locked, codecRequest{"POST", "/codec/decode", testToken, "", payloadsJSON(t, foreign...)},
			codecWant{status: 400, body: `unknown key ID "z"`}},
		{"preflight from the UI", locked, codecRequest{"OPTIONS", "/codec/decode", "", uiOrigin, ""},
			codecWant{status: 204, headers: map[string]string{
				"Access-Control-Allow-Origin": uiOrigin, "Access-Control-Allow-Credentials": "true",
				"Access-Control-Allow-Methods": "POST, OPTIONS", "Access-Control-Allow-Headers": "Authorization, Authorization-Extras, Content-Type, X-Namespace",
			}}},
		{"preflight from another origin", locked, codecRequest{"OPTIONS", "/codec/decode", "", "https://evil.example", ""},
			codecWant{status: 403, headers: map[string]string{"Access-Control-Allow-Origin": ""}}},
		{"decode from the UI carries CORS headers", locked, codecRequest{"POST", "/codec/decode", testToken, uiOrigin, encrypted},
			codecWant{status: 200, body: readable, headers: map[string]string{"Access-Control-Allow-Origin": uiOrigin}}},
		{"401 still tells the UI's page", locked, codecRequest{"POST", "/codec/decode", "", uiOrigin, encrypted},
			codecWant{status: 401, headers: map[string]string{"Access-Control-Allow-Origin": uiOrigin}}},
		{"wildcard origin", ServerConfig{Token: testToken, Origins: []string{"*"}}, codecRequest{"OPTIONS", "/codec/encode", "", "http://127.0.0.1:8233", ""},
			codecWant{status: 204, headers: map[string]string{"Access-Control-Allow-Origin": "http://127.0.0.1:8233"}}},
		{"other path", locked, codecRequest{"POST", "/codec/other", testToken, "", encrypted}, codecWant{status: 404}},
		{"bad JSON", locked, codecRequest{"POST", "/codec/decode", testToken, "", "{"}, codecWant{status: 400}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runCodecRequest(t, NewServer(c, tt.cfg), tt.req, tt.want, readable) })
	}
}

func runCodecRequest(t *testing.T, h http.Handler, req codecRequest, want codecWant, readable string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	r, err := http.NewRequest(req.method, srv.URL+req.path, strings.NewReader(req.body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	if req.token != "" {
		r.Header.Set("Authorization", "Bearer "+req.token)
	}
	if req.origin != "" {
		r.Header.Set("Origin", req.origin)
	}
	resp, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want.status {
		t.Fatalf("status %d, want %d (%s)", resp.StatusCode, want.status, body)
	}
	for k, v := range want.headers {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if !strings.Contains(string(body), want.body) {
		t.Errorf("body %s does not contain %q", body, want.body)
	}
	if want.status != 200 && strings.Contains(string(body), readable) {
		t.Errorf("a refused request got the number back: %s", body)
	}
}

// TestServerRoundTrip encodes through the server and decodes the answer
// through it again, as the UI's "Start Workflow" and history view do.
func TestServerRoundTrip(t *testing.T) {
	c := mustParse(t, keyring("a"))
	srv := httptest.NewServer(NewServer(c, ServerConfig{Token: testToken}))
	defer srv.Close()
	remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
		Endpoint: srv.URL + Path, Client: *srv.Client(),
		ModifyRequest: func(r *http.Request) error { r.Header.Set("Authorization", "Bearer "+testToken); return nil },
	})
	orig := plainPayload(t)
	enc, err := remote.Encode([]*commonpb.Payload{orig})
	if err != nil {
		t.Fatal(err)
	}
	if string(enc[0].Metadata[MetadataKey]) != "a" {
		t.Fatalf("server encoded with key %q, want a", enc[0].Metadata[MetadataKey])
	}
	dec, err := remote.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := converter.GetDefaultDataConverter().FromPayload(dec[0], &got); err != nil || got["phone"] != secretPhone {
		t.Fatalf("round trip gave %v, %v", got, err)
	}
}

func payloadsJSON(t *testing.T, ps ...*commonpb.Payload) string {
	t.Helper()
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: ps})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func base64Of(s string) string {
	b, _ := json.Marshal([]byte(s))
	return strings.Trim(string(b), `"`)
}
