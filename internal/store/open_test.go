package store_test

import (
	"context"
	"testing"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/store"
)

// The pool size: pool_max_conns in DATABASE_URL wins over the default, and
// OpenSized over both.
func TestPoolSize(t *testing.T) {
	db := pgtest.NewDatabase(t)
	tests := []struct {
		url  string
		size int32
		want int32
	}{
		{db, 0, store.DefaultMaxConns},
		{db + "&pool_max_conns=4", 0, 4},
		{db + "&pool_max_conns=64", 0, 64},
		{db + "&pool_max_conns=4", 24, 24},
	}
	for _, tt := range tests {
		s, err := store.OpenSized(context.Background(), tt.url, tt.size)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Pool().Config().MaxConns; got != tt.want {
			t.Errorf("OpenSized(%s, %d): pool of %d, want %d", tt.url[len(db):], tt.size, got, tt.want)
		}
		s.Close()
	}
}
