package senders

import (
	"github.com/stopline/stopline/workflows/contract"
)

// ConsentRule is what a message of category from this sender needs from
// consent, as its program configures it. Sends and previews both ask here.
func (s Sender) ConsentRule(category contract.Category) contract.ConsentRule {
	switch category {
	case contract.CategoryTransactional:
		return contract.ConsentRule{OptOutAllows: s.MarketingOnlyStop()}
	case contract.CategoryOptInRequest:
		return contract.ConsentRule{}
	default:
		return contract.ConsentRule{NeedConfirmed: s.DoubleOptIn}
	}
}
