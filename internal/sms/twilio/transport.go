package twilio

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxErrorBody caps how much of an error response is kept: enough for any
// Twilio error JSON, small enough that a misbehaving proxy cannot make us
// buffer a large page.
const maxErrorBody = 64 << 10

// callTransport serves one Send or Find. It points twilio-go's requests at
// the configured API URL, attaches the caller's context (twilio-go builds
// every request with context.Background), and remembers the last response
// status, which twilio-go drops when an error body is not JSON.
//
// A callTransport is used by one goroutine at a time: twilio-go's Create and
// Page calls make their requests sequentially on the calling goroutine.
type callTransport struct {
	ctx  context.Context
	base *url.URL
	next http.RoundTripper

	status int    // status of the last response, 0 if none arrived
	body   []byte // bounded copy of the last error response body
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// Clone, not modify: a RoundTripper must leave the request alone.
	r := req.Clone(t.ctx)
	r.URL.Scheme = t.base.Scheme
	r.URL.Host = t.base.Host
	r.URL.Path = strings.TrimSuffix(t.base.Path, "/") + req.URL.Path
	r.URL.RawPath = ""
	r.Host = "" // send the rewritten host, not api.twilio.com

	t.status, t.body = 0, nil
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	t.status = resp.StatusCode
	if resp.StatusCode >= 300 {
		// twilio-go never closes an error response's body, which would leak
		// the connection. Buffer a bounded copy, close the real body here and
		// hand twilio-go the copy.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		t.body = b
	}
	return resp, nil
}

// ok reports whether the last response was a 2xx.
func (t *callTransport) ok() bool { return t.status >= 200 && t.status < 300 }
