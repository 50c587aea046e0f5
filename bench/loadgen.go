package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stopline/stopline/internal/stack"
)

// inboundReq is a signed Twilio inbound SMS webhook, ready to post.
type inboundReq struct {
	body, signature string
}

// signedInbound is the webhook Twilio posts for an SMS from from to the
// bench's sender, with the fields Twilio adds, signed for stack.PublicURL.
func signedInbound(messageSid, from, text string) inboundReq {
	form := stack.TwilioInbound(messageSid, from, text)
	for k, v := range map[string]string{"SmsSid": messageSid, "NumSegments": "1", "FromCountry": "US", "ToCountry": "US"} {
		form.Set(k, v)
	}
	return inboundReq{body: form.Encode(), signature: stack.SignTwilio(form)}
}

func newHTTPClient(conc int) *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc, IdleConnTimeout: time.Minute},
	}
}

// post sends one request and drains the answer.
func post(ctx context.Context, c *http.Client, target string, r inboundReq) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(r.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", r.signature)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", target, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// load posts every request of reqs to target, conc at a time, and returns
// each request's latency and the wall time of the whole load.
func load(ctx context.Context, target string, reqs []inboundReq, conc int) ([]time.Duration, time.Duration, error) {
	c := newHTTPClient(conc)
	defer c.CloseIdleConnections()
	lat := make([]time.Duration, len(reqs))
	var next atomic.Int64
	var (
		mu       sync.Mutex
		failed   int
		firstErr error
	)
	var wg sync.WaitGroup
	began := time.Now()
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(reqs) || ctx.Err() != nil {
					return
				}
				t := time.Now()
				if err := post(ctx, c, target, reqs[i]); err != nil {
					mu.Lock()
					if failed++; firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
				lat[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if failed > 0 {
		return nil, 0, fmt.Errorf("%d of %d requests failed, first: %v", failed, len(reqs), firstErr)
	}
	return lat, elapsed, nil
}
