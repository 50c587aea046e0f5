package store_test

import (
	"github.com/stopline/stopline/internal/consent"
)

func optOut(key, scope string) consent.Change {
	return consent.Change{RecipientKey: key, Scope: scope, To: consent.OptedOut, Source: consent.SourceKeyword, RawText: "STOP"}
}

func optIn(key, scope string) consent.Change {
	return consent.Change{RecipientKey: key, Scope: scope, To: consent.OptedIn, Source: consent.SourceKeyword, RawText: "START"}
}
