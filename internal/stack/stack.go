// Package stack starts stopline for end-to-end tests, fault tests and the
// bench: an embedded Temporal server, a fresh Postgres database, a fake
// Twilio reached through the real twilio-go client, and internal/app wired
// to them, as the worker binary wires it.
//
// Start builds a Stack and returns errors (the bench); New builds one for a
// test and adds helpers that fail the test instead. Every part can be
// shared or replaced: Options.Temporal shares one server between stacks,
// Options.DatabaseURL joins an existing database, and functions of
// *app.Config (such as Webhooks) adjust the app before it starts. A second
// worker of the same stack is app.Start(ctx, s.Config), or the worker
// binary run with WorkerEnv.
package stack

import (
	"cmp"
	"context"
	"fmt"
	"sync/atomic"

	"go.temporal.io/sdk/client"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/sms/smstest"
	"github.com/stopline/stopline/internal/sms/twilio"
)

// Options say which parts a stack shares and which it starts.
type Options struct {
	// Temporal is the server the stack uses. Nil: the stack starts an
	// embedded server of its own and stops it on Close.
	Temporal *Temporal
	// Dial edits the options of the client of the server the stack starts
	// (a data converter, say; one that encrypts needs the same keys in
	// app.Config.Payload).
	Dial []func(*client.Options)
	// DatabaseURL is an existing database to use. "": the stack creates
	// one, named DatabaseName (default: unique) on the server of AdminURL
	// (default: pgtest.AdminURL), and drops it on Close.
	DatabaseURL            string
	AdminURL, DatabaseName string
	// NoApp starts every part but the app, for a test that runs the worker
	// binary itself (see WorkerEnv).
	NoApp bool
}

// Stack is a running stopline and the parts it talks to.
type Stack struct {
	Temporal *Temporal
	// Config is what the app was started with (or would have been, with
	// NoApp), after the adjustments.
	Config app.Config
	App    *app.App // nil with NoApp
	Twilio *smstest.FakeTwilio
	Keyer  phone.Keyer
	undo   []func()
}

var queueSeq atomic.Int64

// Start starts a stack. adjust edits the app's configuration before the
// app starts; the defaults give each stack its own task queue and
// recipient-key secret, so stacks can share one Temporal namespace.
func Start(ctx context.Context, o Options, adjust ...func(*app.Config)) (_ *Stack, err error) {
	s := &Stack{Temporal: o.Temporal}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.Temporal == nil {
		if s.Temporal, err = StartTemporal(ctx, o.Dial...); err != nil {
			return nil, err
		}
		s.undo = append(s.undo, s.Temporal.Close)
	}
	dbURL := o.DatabaseURL
	if dbURL == "" {
		var drop func()
		name := cmp.Or(o.DatabaseName, pgtest.UniqueName())
		if dbURL, drop, err = pgtest.Create(ctx, cmp.Or(o.AdminURL, pgtest.AdminURL()), name); err != nil {
			return nil, err
		}
		s.undo = append(s.undo, drop)
	}
	s.Twilio = smstest.NewFakeTwilio()
	s.undo = append(s.undo, s.Twilio.Close)

	queue := fmt.Sprintf("stack-%d", queueSeq.Add(1))
	s.Config = app.Config{
		Temporal:           s.Temporal.Client,
		DatabaseURL:        dbURL,
		TaskQueue:          queue,
		RecipientKeySecret: "stack-test-secret-" + queue,
		Twilio:             twilio.Config{AccountSID: smstest.AccountSID, AuthToken: smstest.AuthToken, APIURL: s.Twilio.URL()},
		Logger:             quiet,
	}
	for _, a := range adjust {
		a(&s.Config)
	}
	if s.Keyer, err = phone.NewKeyer([]byte(cmp.Or(s.Config.RecipientKeySecret, phone.DevSecret))); err != nil {
		return nil, err
	}
	if o.NoApp {
		return s, nil
	}
	if s.App, err = app.Start(ctx, s.Config); err != nil {
		return nil, err
	}
	s.undo = append(s.undo, s.App.Stop)
	return s, nil
}

// Close stops what Start started, in reverse order.
func (s *Stack) Close() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		s.undo[i]()
	}
	s.undo = nil
}

// Client is the Temporal client the app works through.
func (s *Stack) Client() client.Client { return s.Config.Temporal }

// WorkerEnv is the environment of a worker binary that joins the stack:
// same Temporal, database, task queue, secret, payload keys (none: plain
// payloads, as the stack's client writes them) and fake Twilio.
func (s *Stack) WorkerEnv() []string {
	c := s.Config
	payload := "PAYLOAD_ENCRYPTION=off"
	if c.Payload.Keys != "" {
		payload = "PAYLOAD_KEYS=" + c.Payload.Keys
	}
	return []string{payload,
		"TEMPORAL_ADDRESS=" + s.Temporal.Addr, "TEMPORAL_NAMESPACE=" + s.Temporal.Namespace,
		"DATABASE_URL=" + c.DatabaseURL, "RECIPIENT_KEY_SECRET=" + c.RecipientKeySecret, "STOPLINE_TASK_QUEUE=" + c.TaskQueue,
		"TWILIO_ACCOUNT_SID=" + c.Twilio.AccountSID, "TWILIO_AUTH_TOKEN=" + c.Twilio.AuthToken, "TWILIO_API_URL=" + c.Twilio.APIURL,
	}
}

// Key is a number's recipient key in this stack.
func (s *Stack) Key(number string) string { return s.Keyer.Key(number) }

// Run makes a journey run ID unique to the stack: stacks may share a
// Temporal namespace.
func (s *Stack) Run(runID string) string { return s.Config.TaskQueue + "-" + runID }

// Starter starts journeys on the stack's task queue.
func (s *Stack) Starter() launch.TemporalStarter {
	return launch.TemporalStarter{Client: s.Client(), TaskQueue: s.Config.TaskQueue}
}

// SentTo returns the bodies the fake Twilio accepted for a number, in order.
func (s *Stack) SentTo(number string) []string {
	var bodies []string
	for _, m := range s.Twilio.Accepted() {
		if m.To == number {
			bodies = append(bodies, m.Body)
		}
	}
	return bodies
}
