package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stopline/stopline/internal/store"
)

// Ledger returns the send ledger rows of one journey workflow, by step.
// Production code never lists the ledger: a send reads only its own row.
func Ledger(tb testing.TB, s *store.Store, workflowID string) []store.LedgerEntry {
	tb.Helper()
	rows, err := s.Pool().Query(context.Background(),
		`SELECT `+store.LedgerColumns+` FROM send_ledger WHERE workflow_id = $1 ORDER BY step`, workflowID)
	if err != nil {
		tb.Fatalf("send ledger: %v", err)
	}
	entries, err := pgx.CollectRows(rows, pgx.RowToStructByPos[store.LedgerEntry])
	if err != nil {
		tb.Fatalf("send ledger: %v", err)
	}
	return entries
}
