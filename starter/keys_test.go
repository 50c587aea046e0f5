package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/workflows/contract"
)

// TestKeysRewrap: after a new key is put first, `starter keys rewrap`
// moves the data key wrapped by the old one to it and says so.
func TestKeysRewrap(t *testing.T) {
	st := pgtest.NewStore(t) // wraps under the -dev key, ID "dev"
	if _, err := st.Record(context.Background(), contract.ConsentChange{RecipientKey: "rrecipient0000000000000000000001", Scope: "*",
		To: contract.OptedOut, Source: contract.SourceAdmin, Note: "sealed under a data key"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DATABASE_URL", st.Pool().Config().ConnString())
	t.Setenv("PAYLOAD_ENCRYPTION", "")
	t.Setenv("PAYLOAD_KEYS", "new:"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("n"), codec.KeySize))+","+codec.DevKeys)
	var out bytes.Buffer
	if err := runKeys([]string{"rewrap", "-by", "ops"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`re-wrapped 1 data keys by key ID "new" (before: dev 1)`, "data keys by wrapping key ID: new 1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q; want it to say %q", out.String(), want)
		}
	}
}
