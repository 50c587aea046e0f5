package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowservice "go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/internal/devserver"
	"github.com/stopline/stopline/internal/stack"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
	"github.com/stopline/stopline/workflows/contract"
)

// Keyrings of the privacy tests: "a" and "b" are two generations of keys.
const (
	keysA  = "a:YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE="
	keysBA = "b:YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=," + keysA
)

// zoltana is the recipient of the privacy tests: a number and a first name
// that occur nowhere else, so every occurrence found is a leak.
const (
	zoltana     = "+14155550188"
	zoltanaName = "Zoltana"
)

// privateTemporal is a Temporal server of a test's own, with its SQLite
// files in a directory the test can read.
type privateTemporal struct {
	srv     *devserver.Server
	dataDir string
}

func startPrivateTemporal(t *testing.T) *privateTemporal {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{DataDir: dir, Namespace: "default", SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return &privateTemporal{srv: srv, dataDir: dir}
}

// dial returns a client of the server that encrypts with keys ("" = none).
func (p *privateTemporal) dial(t *testing.T, keys string) client.Client {
	t.Helper()
	opts := client.Options{HostPort: p.srv.FrontendAddr(), Namespace: p.srv.Namespace(), Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))}
	if keys != "" {
		c, err := codec.Parse(keys)
		if err != nil {
			t.Fatal(err)
		}
		codec.Apply(&opts, c)
	}
	c, err := client.Dial(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// withTemporal runs the test's stopline on c, serving the codec server
// for keys.
func withTemporal(c client.Client, keys string) func(*app.Config) {
	return func(cfg *app.Config) {
		cfg.Temporal = c
		cfg.Payload.Keys = keys
	}
}

const privacyJourney = `{"name": "privacy", "category": "marketing",
	"sender": ` + testkit.AnyHourSender + `,
	"steps": [{"sms": "Hi {{.first_name}}, your code is {{.code}}"}, {"wait": "1h"}, {"sms": "Still there, {{.first_name}}?"}]}`

const privacyAfterStart = `{"name": "privacy-again", "category": "marketing",
	"sender": ` + testkit.AnyHourSender + `,
	"steps": [{"sms": "Welcome back {{.first_name}}, code {{.code}}"}]}`

// TestNothingLeaksIntoTemporal runs a journey with attributes, then STOP,
// HELP and START, and a journey after START; then it counts the number, its
// national digits, the first name and every SMS body in the raw histories
// and in the bytes of the server's SQLite files. With the codec each count
// is 0; without it the same scan finds them, which shows it can.
func TestNothingLeaksIntoTemporal(t *testing.T) {
	for _, tt := range []struct {
		name  string
		keys  string
		leaks bool
	}{
		{"with codec", keysA, false},
		{"without codec the scan finds the data", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pt := startPrivateTemporal(t)
			e := newEnv(t, stack.Webhooks, withTemporal(pt.dial(t, tt.keys), tt.keys))
			runPrivacyJourney(t, e)

			needles := map[string]string{"E.164 number": zoltana, "national digits": zoltana[2:], "first name": zoltanaName}
			for i, body := range e.SentTo(zoltana) {
				// As sent, as JSON spells it in a payload, and line by line.
				escaped, _ := json.Marshal(body)
				needles[fmt.Sprintf("SMS %d", i+1)] = body
				needles[fmt.Sprintf("SMS %d as JSON", i+1)] = strings.Trim(string(escaped), `"`)
				for j, line := range strings.Split(body, "\n") {
					needles[fmt.Sprintf("SMS %d line %d", i+1, j+1)] = line
				}
			}
			histories := rawHistories(t, pt.dial(t, ""))
			files := sqliteBytes(t, pt.dataDir)
			total := 0
			for _, what := range slices.Sorted(maps.Keys(needles)) {
				needle := needles[what]
				h, f := bytes.Count(histories, []byte(needle)), bytes.Count(files, []byte(needle))
				t.Logf("%-16s %q: %d in raw histories, %d in SQLite files", what, needle, h, f)
				total += h + f
				if !tt.leaks && h+f != 0 {
					t.Errorf("%s %q found %d times in histories and %d in SQLite files", what, needle, h, f)
				}
			}
			if tt.leaks && total == 0 {
				t.Fatal("plain payloads went unnoticed: the scan cannot see leaks")
			}
			t.Logf("%d needles in %d bytes of histories and %d bytes of SQLite files: %d occurrences", len(needles), len(histories), len(files), total)
		})
	}
}

// runPrivacyJourney: a journey with attributes, STOP (ends it), HELP,
// START, and a journey after START.
func runPrivacyJourney(t *testing.T, e *env) {
	t.Helper()
	csv := "phone,first_name,code\n" + zoltana + "," + zoltanaName + ",4821\n"
	e.Launch("first", testkit.MustJourney(privacyJourney), csv)
	testkit.Eventually(t, 20*time.Second, "first SMS", func() bool { return len(e.SentTo(zoltana)) == 1 })
	for i, kw := range []string{"STOP", "HELP", "START"} {
		if code := e.Inbound(zoltana, kw); code != 200 {
			t.Fatalf("%s answered %d", kw, code)
		}
		testkit.Eventually(t, 20*time.Second, kw+" reply", func() bool { return len(e.SentTo(zoltana)) == 2+i })
	}
	if res := e.Result("first", zoltana); res.State != workflows.StateStopped {
		t.Fatalf("journey after STOP: %+v", res)
	}
	testkit.Eventually(t, 30*time.Second, "START recorded", func() bool { return e.consentOf(zoltana).Allowed })
	e.Launch("again", testkit.MustJourney(privacyAfterStart), csv)
	if res := e.Result("again", zoltana); res.Summary != "sent 1" {
		t.Fatalf("journey after START: %+v", res)
	}
	if got := e.SentTo(zoltana); !strings.Contains(got[0], zoltanaName) || len(got) != 5 {
		t.Fatalf("SMS sent: %q", got)
	}
}

// rawHistories returns the protobuf bytes of every workflow history on the
// server, read by c as they are stored.
func rawHistories(t *testing.T, c client.Client) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var all []byte
	list, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetExecutions()) < 3 { // two journeys and the opt-out workflow
		t.Fatalf("found %d workflows, want at least 3", len(list.GetExecutions()))
	}
	for _, ex := range list.GetExecutions() {
		hist := &historypb.History{}
		it := c.GetWorkflowHistory(ctx, ex.GetExecution().GetWorkflowId(), ex.GetExecution().GetRunId(), false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			hist.Events = append(hist.Events, ev)
		}
		b, err := proto.Marshal(hist)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
		memo, _ := proto.Marshal(&commonpb.Memo{Fields: ex.GetMemo().GetFields()})
		all = append(all, memo...)
	}
	return all
}

// sqliteBytes reads the server's database files: the database, its
// write-ahead log and shared memory.
func sqliteBytes(t *testing.T, dir string) []byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "temporal.db*"))
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	var names []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
		names = append(names, filepath.Base(p))
	}
	if !strings.Contains(strings.Join(names, " "), "temporal.db-wal") {
		t.Fatalf("no write-ahead log among %v", names)
	}
	return all
}

// TestKeyRotation: a journey written under key a is carried on by a
// worker whose keyring became b,a; what that worker writes uses b, and
// a reader that lost a cannot read the old part, naming only the key ID.
// The worker re-wraps the data key that a wrapped by b as it starts.
func TestKeyRotation(t *testing.T) {
	pt := startPrivateTemporal(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Key a: the journey sends its first SMS and waits an hour; a staff
	// note (in a scope of its own) is sealed under a data key a wraps.
	old := newEnv(t, withTemporal(pt.dial(t, keysA), keysA))
	old.Launch("rot", testkit.MustJourney(privacyJourney), "phone,first_name,code\n"+zoltana+","+zoltanaName+",4821\n")
	testkit.Eventually(t, 20*time.Second, "first SMS", func() bool { return len(old.SentTo(zoltana)) == 1 })
	const note = "called about the rotation"
	if _, err := old.App.Store.Record(ctx, contract.ConsentChange{RecipientKey: old.Key(zoltana), Scope: "+15550009999",
		To: contract.OptedIn, Source: contract.SourceAdmin, Note: note}); err != nil {
		t.Fatal(err)
	}
	if byID, err := old.App.Store.DataKeysByKeyID(ctx); err != nil || byID["a"] != 1 {
		t.Fatalf("data keys by key ID under keyring a: %v, %v", byID, err)
	}
	old.App.Stop()

	// Keyring b,a: a STOP ends the journey, whose history is a's until now.
	sameStore := func(c *app.Config) {
		c.TaskQueue, c.RecipientKeySecret = old.Config.TaskQueue, old.Config.RecipientKeySecret
	}
	e := newEnvWith(t, stack.Options{DatabaseURL: old.Config.DatabaseURL}, stack.Webhooks, withTemporal(pt.dial(t, keysBA), keysBA), sameStore)
	testkit.Eventually(t, 20*time.Second, "data keys re-wrapped by b", func() bool {
		byID, err := e.App.Store.DataKeysByKeyID(ctx)
		return err == nil && maps.Equal(byID, map[string]int64{"b": 1})
	})
	if events, err := e.App.Store.Events(ctx, e.Key(zoltana)); err != nil || len(events) != 1 || events[0].Note != note {
		t.Errorf("events after re-wrapping: %+v, %v; want the note readable", events, err)
	}
	if code := e.Inbound(zoltana, "STOP"); code != 200 {
		t.Fatalf("STOP answered %d", code)
	}
	if res := e.Result("rot", zoltana); res.State != workflows.StateStopped {
		t.Fatalf("journey: %+v", res)
	}

	ids := map[string]int{}
	for _, p := range historyPayloads(t, pt.dial(t, ""), workflows.JourneyID(e.Run("rot"), e.Key(zoltana))) {
		ids[string(p.GetMetadata()[codec.MetadataKey])]++
	}
	if ids["a"] == 0 || ids["b"] == 0 || ids[""] != 0 || len(ids) != 2 {
		t.Fatalf("payloads by key ID: %v, want some under a, some under b, none plain", ids)
	}
	t.Logf("journey payloads by key ID: %v", ids)

	var res workflows.JourneyResult
	err := pt.dial(t, keysA).GetWorkflow(context.Background(), workflows.JourneyID(e.Run("rot"), e.Key(zoltana)), "").Get(context.Background(), &res)
	if err == nil || !strings.Contains(err.Error(), `unknown key ID "b"`) {
		t.Fatalf("reading b's result with keyring a: %v, want an error naming key ID b", err)
	}
}

// historyPayloads returns the payloads in a workflow's history, found by
// walking the events' protobuf messages.
func historyPayloads(t *testing.T, c client.Client, id string) []*commonpb.Payload {
	t.Helper()
	var out []*commonpb.Payload
	it := c.GetWorkflowHistory(context.Background(), id, "", false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		out = appendPayloads(out, ev.ProtoReflect())
	}
	return out
}

// appendPayloads walks m for payloads. Search attributes are left out: no
// codec encodes them (the server indexes them), so they hold keys, never
// numbers.
func appendPayloads(out []*commonpb.Payload, m protoreflect.Message) []*commonpb.Payload {
	switch v := m.Interface().(type) {
	case *commonpb.Payload:
		return append(out, v)
	case *commonpb.SearchAttributes:
		return out
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				out = appendPayloads(out, v.List().Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				out = appendPayloads(out, mv.Message())
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			out = appendPayloads(out, v.Message())
		}
		return true
	})
	return out
}

// TestCodecServerListeners: the codec server is on the admin listener when
// there is one, and only there; it decodes for the token holder alone.
func TestCodecServerListeners(t *testing.T) {
	token := strings.Repeat("c", 32)
	pc, err := codec.Parse(keysA)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := pc.Encode([]*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"` + zoltana + `"`)}})
	if err != nil {
		t.Fatal(err)
	}
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		adminAddr string
		codecOn   func(*app.App) string
		otherOn   func(*app.App) string // nil = no other listener
	}{
		{"on the admin listener", "127.0.0.1:0", (*app.App).AdminAddr, (*app.App).HTTPAddr},
		{"on the HTTP listener without one", "", (*app.App).HTTPAddr, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, stack.Webhooks, withTemporal(temporal.Client, keysA), func(c *app.Config) {
				c.AdminAddr, c.Payload.Token = tt.adminAddr, token
			})
			decode := func(addr, token string) (int, string) {
				return call(t, http.MethodPost, "http://"+addr+codec.Path+"/decode", token, bytes.NewReader(body))
			}
			plain := base64.StdEncoding.EncodeToString([]byte(`"` + zoltana + `"`))
			if code, b := decode(tt.codecOn(e.App), token); code != 200 || !strings.Contains(b, plain) {
				t.Errorf("decode with token: %d %s", code, b)
			}
			if code, b := decode(tt.codecOn(e.App), ""); code != http.StatusUnauthorized || strings.Contains(b, plain) {
				t.Errorf("decode without token: %d %s, want 401", code, b)
			}
			if tt.otherOn != nil {
				if code, _ := decode(tt.otherOn(e.App), token); code != http.StatusNotFound {
					t.Errorf("codec server on the public listener: %d, want 404", code)
				}
			}
		})
	}
}
