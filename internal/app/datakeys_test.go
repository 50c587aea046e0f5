package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
)

// A worker whose keyring lacks an entry that wraps data keys refuses to
// start, naming the entry: it could not seal those recipients' texts.
func TestStartRefusesMissingDataKeyEntry(t *testing.T) {
	db := pgtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `INSERT INTO data_keys (recipient_key, key_id, wrapped) VALUES ('rk', 'retired', '\x00')`); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		payload codec.Config
		want    string
	}{
		{"keyring without it", codec.Config{Keys: codec.DevKeys}, `"retired" that PAYLOAD_KEYS lacks`},
		{"encryption off", codec.Config{Encryption: "off"}, `"retired", but PAYLOAD_ENCRYPTION=off`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Start(ctx, Config{DatabaseURL: db, RecipientKeySecret: "app-test-secret-0123456789", Payload: tt.payload})
			if err == nil {
				a.Stop()
				t.Fatalf("Start succeeded; want a refusal containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start: %v; want a refusal containing %q", err, tt.want)
			}
		})
	}
}
