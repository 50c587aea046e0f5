package codec

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

const secretPhone = "+14155550123"

// keyring builds "id:base64" entries whose key bytes derive from the ID.
func keyring(ids ...string) string {
	entries := make([]string, len(ids))
	for i, id := range ids {
		entries[i] = id + ":" + base64.StdEncoding.EncodeToString(keyBytes(id))
	}
	return strings.Join(entries, ",")
}

func keyBytes(id string) []byte { return bytes.Repeat([]byte(id[:1]), KeySize) }

func mustParse(t testing.TB, keys string) *Codec {
	t.Helper()
	c, err := Parse(keys)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func plainPayload(t testing.TB) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(map[string]string{"phone": secretPhone, "first_name": "Zoltana"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDecode writes a payload with one keyring, optionally alters it, and
// reads it with another: rotation, unknown keys, tampering, plain input.
func TestDecode(t *testing.T) {
	tests := []struct {
		name          string
		writer        string // keyring that encodes; "" = a plain payload
		reader        string
		alter         func(*commonpb.Payload)
		wantErr       string // "" = decodes to the original payload
		wantErrAbsent []string
	}{
		{name: "round trip", writer: keyring("a"), reader: keyring("a")},
		{name: "rotation: written with a, read by b,a", writer: keyring("a"), reader: keyring("b", "a")},
		{name: "rotation: written with b, read by b,a", writer: keyring("b", "a"), reader: keyring("b", "a")},
		{name: "plain payload passes through", writer: "", reader: keyring("a")},
		{
			name: "unknown key ID", writer: keyring("a"), reader: keyring("b"),
			wantErr: `unknown key ID "a"`, wantErrAbsent: []string{secretPhone, base64.StdEncoding.EncodeToString(keyBytes("a")), base64.StdEncoding.EncodeToString(keyBytes("b"))},
		},
		{
			name: "tampered ciphertext", writer: keyring("a"), reader: keyring("a"),
			alter: func(p *commonpb.Payload) { p.Data[len(p.Data)-1] ^= 1 }, wantErr: `key ID "a": cannot decrypt`,
		},
		{
			name: "relabelled to another key", writer: keyring("a"), reader: keyring("a", "b"),
			alter: func(p *commonpb.Payload) { p.Metadata[MetadataKey] = []byte("b") }, wantErr: `key ID "b": cannot decrypt`,
		},
		{
			name: "truncated", writer: keyring("a"), reader: keyring("a"),
			alter: func(p *commonpb.Payload) { p.Data = p.Data[:3] }, wantErr: "too short",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := plainPayload(t)
			stored := orig
			if tt.writer != "" {
				enc, err := mustParse(t, tt.writer).Encode([]*commonpb.Payload{orig})
				if err != nil {
					t.Fatal(err)
				}
				stored = enc[0]
				if bytes.Contains(stored.Data, []byte(secretPhone)) {
					t.Fatal("encoded payload holds the phone number")
				}
			}
			if tt.alter != nil {
				tt.alter(stored)
			}
			got, err := mustParse(t, tt.reader).Decode([]*commonpb.Payload{stored})
			if tt.wantErr != "" {
				checkErr(t, err, tt.wantErr, tt.wantErrAbsent)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got[0], orig) {
				t.Fatalf("decoded %v, want %v", got[0], orig)
			}
		})
	}
}

func checkErr(t *testing.T, err error, want string, absent []string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one containing %q", err, want)
	}
	for _, a := range absent {
		if strings.Contains(err.Error(), a) {
			t.Errorf("error %q reveals %q", err, a)
		}
	}
}

func TestEncodeUsesFirstKey(t *testing.T) {
	for _, tt := range []struct{ keys, want string }{
		{keyring("a"), "a"}, {keyring("b", "a"), "b"}, {keyring("a", "b"), "a"},
	} {
		enc, err := mustParse(t, tt.keys).Encode([]*commonpb.Payload{plainPayload(t)})
		if err != nil {
			t.Fatal(err)
		}
		md := enc[0].GetMetadata()
		if string(md[MetadataKey]) != tt.want || string(md[converter.MetadataEncoding]) != Encoding {
			t.Errorf("keyring %s: metadata %q, want key %q and encoding %q", tt.keys, md, tt.want, Encoding)
		}
	}
}

func TestEncodeNoncesDiffer(t *testing.T) {
	c := mustParse(t, keyring("a"))
	p := plainPayload(t)
	enc, err := c.Encode([]*commonpb.Payload{p, p})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(enc[0].Data, enc[1].Data) {
		t.Fatal("two encodings of one payload are identical: the nonce is not random")
	}
}

func TestParseErrors(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	tests := []struct{ keys, want string }{
		{"", "entry 1: want id:base64-key"},
		{"a", "entry 1: want id:base64-key"},
		{keyring("a") + ",b:not base64!", `entry 2 ("b"): key is not standard base64`},
		{"a:" + short, `key 1 ("a"): 16 bytes, want 32`},
		{":" + short, "key 1: empty key ID"},
		{keyring("a") + "," + keyring("a"), `key 2: ID "a" appears twice`},
		{"a b:" + short, `key ID "a b"`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.keys)
		checkErr(t, err, tt.want, []string{short})
	}
}

func TestLoad(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name    string
		cfg     Config
		dev     bool
		wantKey string // "" = encryption off
		wantErr string
	}{
		{name: "keys", cfg: Config{Keys: keyring("k2", "k1")}, wantKey: "k2"},
		{name: "no keys outside dev", cfg: Config{}, wantErr: "PAYLOAD_KEYS is not set"},
		{name: "no keys in dev", cfg: Config{}, dev: true, wantKey: "dev"},
		{name: "off", cfg: Config{Encryption: "off"}},
		{name: "on", cfg: Config{Encryption: "on", Keys: keyring("a")}, wantKey: "a"},
		{name: "unknown mode", cfg: Config{Encryption: "no"}, wantErr: `PAYLOAD_ENCRYPTION "no"`},
		{name: "bad keys", cfg: Config{Keys: "a:!!"}, wantErr: "PAYLOAD_KEYS: entry 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.cfg, tt.dev, quiet)
			if tt.wantErr != "" {
				checkErr(t, err, tt.wantErr, nil)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := keyID(c); got != tt.wantKey {
				t.Fatalf("encrypting key %q, want %q", got, tt.wantKey)
			}
		})
	}
}

func keyID(c *Codec) string {
	if c == nil {
		return ""
	}
	return c.KeyID()
}

// TestConverters checks the SDK wiring: values and failure messages come
// out encrypted and go back in whole.
func TestConverters(t *testing.T) {
	c := mustParse(t, keyring("a"))
	dc := DataConverter(c)
	p, err := dc.ToPayload(secretPhone)
	if err != nil {
		t.Fatal(err)
	}
	var back string
	if err := dc.FromPayload(p, &back); err != nil || back != secretPhone {
		t.Fatalf("round trip: %q, %v", back, err)
	}
	if bytes.Contains(p.Data, []byte(secretPhone)) {
		t.Fatal("data converter wrote the number in plain text")
	}

	fc := FailureConverter(c)
	f := fc.ErrorToFailure(temporal.NewApplicationError("cannot send to "+secretPhone, "SendFailed"))
	if strings.Contains(f.String(), secretPhone) {
		t.Fatalf("failure holds the number: %v", f)
	}
	var appErr *temporal.ApplicationError
	if err := fc.FailureToError(f); !errors.As(err, &appErr) || !strings.Contains(appErr.Message(), secretPhone) {
		t.Fatalf("failure did not decode back: %v", err)
	}
}

// BenchmarkCodec measures the codec's own cost per payload (encode plus
// decode) for a journey-input-sized value (about 1 KB), beside the SDK's
// JSON conversion of the same value without and with the codec.
func BenchmarkCodec(b *testing.B) {
	c := mustParse(b, keyring("a"))
	value := map[string]string{"phone": secretPhone, "body": strings.Repeat("Hi Zoltana, your code is 1234. ", 32)}
	p, err := converter.GetDefaultDataConverter().ToPayload(value)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("codec encode+decode", func(b *testing.B) {
		in := []*commonpb.Payload{p}
		b.SetBytes(int64(proto.Size(p)))
		b.ReportAllocs()
		for b.Loop() {
			enc, err := c.Encode(in)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Decode(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, bc := range []struct {
		name  string
		codec *Codec
	}{{"json to+from payload", nil}, {"json to+from payload with codec", c}} {
		b.Run(bc.name, func(b *testing.B) {
			dc := DataConverter(bc.codec)
			b.ReportAllocs()
			for b.Loop() {
				p, err := dc.ToPayload(value)
				if err != nil {
					b.Fatal(err)
				}
				var back map[string]string
				if err := dc.FromPayload(p, &back); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
