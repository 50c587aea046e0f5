package metrics

import (
	"context"
	"time"

	"github.com/stopline/stopline/internal/sms"
	"github.com/stopline/stopline/workflows/contract"
)

// Sender times every provider call of s and counts its errors (with
// provider as label), keeping s's ability to look messages up.
func (m *Set) Sender(provider contract.Provider, s sms.Sender) sms.Sender {
	if m == nil {
		return s
	}
	t := timed{provider: string(provider), next: s, m: m}
	if f, ok := s.(sms.Finder); ok {
		return timedFinder{t, f}
	}
	return t
}

type timed struct {
	provider string
	next     sms.Sender
	m        *Set
}

func (t timed) Send(ctx context.Context, msg sms.Message) (sms.Result, error) {
	start := time.Now()
	res, err := t.next.Send(ctx, msg)
	t.m.providerCalled(t.provider, time.Since(start), err)
	return res, err
}

type timedFinder struct {
	timed
	sms.Finder
}
