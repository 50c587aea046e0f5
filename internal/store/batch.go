package store

import (
	"context"
	"fmt"

	"github.com/stopline/stopline/workflows/contract"
)

// CheckMany is Check for many recipients at once, in one query: the
// decision for each of keys, in order, as Check would give it. It is for
// reports such as a journey preview, not for sends, which need Fenced.
func (s *Store) CheckMany(ctx context.Context, keys []string, scope string, rule contract.ConsentRule) ([]contract.Decision, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT ON (recipient_key) recipient_key, scope, state FROM consent
		WHERE recipient_key = ANY($1) AND scope IN ($2, '*')
		ORDER BY recipient_key, updated_at DESC, state = 'opted_out' DESC`, keys, scope)
	if err != nil {
		return nil, fmt.Errorf("consent check: %w", err)
	}
	defer rows.Close()
	found := make(map[string]contract.Decision, len(keys))
	for rows.Next() {
		var key string
		var d contract.Decision
		if err := rows.Scan(&key, &d.Scope, &d.State); err != nil {
			return nil, fmt.Errorf("consent check: %w", err)
		}
		found[key] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("consent check: %w", err)
	}
	out := make([]contract.Decision, len(keys))
	for i, k := range keys {
		out[i] = found[k] // no row: ConsentUnknown
		rule.Decide(&out[i])
	}
	return out, nil
}
