package contract

// Provider names an SMS provider. These strings are what the senders file
// and journey files say, what webhook routes, metrics labels and the
// workers' heartbeats show, and what Postgres rows and workflow payloads
// hold: they never change.
type Provider string

const (
	ProviderTwilio  Provider = "twilio"
	ProviderSinch   Provider = "sinch"
	ProviderHTTP    Provider = "http"    // the generic signed HTTP channel
	ProviderSandbox Provider = "sandbox" // development: stores instead of sending
)

// Providers lists every provider, in the order messages name them.
var Providers = []Provider{ProviderTwilio, ProviderSinch, ProviderHTTP, ProviderSandbox}
