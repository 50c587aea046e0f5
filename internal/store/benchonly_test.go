package store_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stopline/stopline/internal/pgtest"
)

// TestBenchPlainIntakeIsBenchOnly: the switch that stores inbound numbers
// and bodies unsealed is called by the bench alone, and does what the
// bench measures: plain text on, sealed off.
func TestBenchPlainIntakeIsBenchOnly(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if strings.HasPrefix(rel, "bench"+string(filepath.Separator)) || rel == filepath.Join("internal", "store", "benchonly.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(src), "BenchPlainIntake(") {
			t.Errorf("%s calls BenchPlainIntake: only the bench may", rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	s := pgtest.NewStore(t)
	ctx := context.Background()
	s.BenchPlainIntake(true)
	if _, _, _, err := s.SaveInbound(ctx, inbound("SMp1", "plain "+forgetName)); err != nil {
		t.Fatal(err)
	}
	s.BenchPlainIntake(false)
	if _, _, _, err := s.SaveInbound(ctx, inbound("SMp2", "sealed "+forgetName)); err != nil {
		t.Fatal(err)
	}
	var plain, sealed int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE body = 'plain '||$1 AND from_number IS NOT NULL AND body_sealed IS NULL),
		count(*) FILTER (WHERE body IS NULL AND from_number IS NULL AND body_sealed IS NOT NULL) FROM inbound_messages`, forgetName).Scan(&plain, &sealed); err != nil {
		t.Fatal(err)
	}
	if plain != 1 || sealed != 1 {
		t.Errorf("%d plain and %d sealed messages; want one of each", plain, sealed)
	}
}
