package store_test

import "github.com/stopline/stopline/workflows/contract"

func optOut(key, scope string) contract.ConsentChange {
	return contract.ConsentChange{RecipientKey: key, Scope: scope, To: contract.OptedOut, Source: contract.SourceKeyword, RawText: "STOP"}
}

func optIn(key, scope string) contract.ConsentChange {
	return contract.ConsentChange{RecipientKey: key, Scope: scope, To: contract.OptedIn, Source: contract.SourceKeyword, RawText: "START"}
}
