package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/workflows/contract"
)

// CheckMany decides as Check does, recipient by recipient: the newest of
// the scope's row and the '*' row, under each rule.
func TestCheckManyAgreesWithCheck(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	const scope = "+15550001111"
	histories := [][]contract.ConsentChange{
		nil,
		{optOut("k", scope)},
		{optOut("k", contract.AllScopes)},
		{optOut("k", "+15559999999")},
		{optOut("k", contract.AllScopes), optIn("k", scope)},
		{optIn("k", scope), optOut("k", contract.AllScopes)},
		{{RecipientKey: "k", Scope: scope, To: contract.OptInPending, Source: contract.SourceJourney}},
		{{RecipientKey: "k", Scope: scope, To: contract.OptInConfirmed, Source: contract.SourceAdmin}},
	}
	var keys []string
	for i, h := range histories {
		key := fmt.Sprintf("r%d", i)
		keys = append(keys, key)
		for _, c := range h {
			c.RecipientKey = key
			if _, err := s.Record(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, rule := range []contract.ConsentRule{{}, {NeedConfirmed: true}, {OptOutAllows: true}} {
		got, err := s.CheckMany(ctx, keys, scope, rule)
		if err != nil {
			t.Fatal(err)
		}
		allowed := 0
		for i, key := range keys {
			want, err := s.Check(ctx, key, scope, rule)
			if err != nil {
				t.Fatal(err)
			}
			if got[i] != want {
				t.Errorf("rule %+v, history %d: CheckMany %+v, Check %+v", rule, i, got[i], want)
			}
			if want.Allowed {
				allowed++
			}
		}
		if !rule.OptOutAllows && (allowed == 0 || allowed == len(keys)) { // that rule allows every state
			t.Errorf("rule %+v allows %d of %d: the histories do not tell decisions apart", rule, allowed, len(keys))
		}
	}
}
