package senders

import (
	"github.com/stopline/stopline/internal/consent"
	"github.com/stopline/stopline/internal/policy"
)

// ConsentRule is what a message of category from this sender needs from
// consent, as its program configures it. Sends and previews both ask here.
func (s Sender) ConsentRule(category policy.Category) consent.Rule {
	switch category {
	case policy.CategoryTransactional:
		return consent.Rule{OptOutAllows: s.MarketingOnlyStop()}
	case policy.CategoryOptInRequest:
		return consent.Rule{}
	default:
		return consent.Rule{NeedConfirmed: s.DoubleOptIn}
	}
}
