package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/stopline/stopline/internal/codec"
	"github.com/stopline/stopline/internal/devserver"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/temporalns"
	"github.com/stopline/stopline/workflows"
)

var nsSeq atomic.Int64

// embedded starts a Temporal server for one test and returns a client of
// a namespace that does not exist on it.
func embedded(t *testing.T) (client.Client, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	ns := fmt.Sprintf("fresh%d", nsSeq.Add(1))
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddr(), Namespace: ns, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, ns
}

// A worker on a namespace that does not exist fails and says how to create
// it; with CreateNamespace it creates it with the retention, adds the
// search attributes and is ready, which it is only once a start carrying
// them succeeds.
func TestNamespaceBootstrap(t *testing.T) {
	c, ns := embedded(t)
	base := Config{Temporal: c, Namespace: ns, DatabaseURL: pgtest.NewDatabase(t), RecipientKeySecret: "app-test-secret-0123456789",
		HTTPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), Payload: codec.Config{Keys: codec.DevKeys}}
	tests := []struct {
		name      string
		create    bool
		retention time.Duration
		wantErr   string
		wantKept  time.Duration
	}{
		{name: "missing", wantErr: "-create-namespace"},
		{name: "created", create: true, retention: 48 * time.Hour, wantKept: 48 * time.Hour},
		{name: "exists already", create: true, wantKept: 48 * time.Hour},
		{name: "exists, no flag", wantKept: 48 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.CreateNamespace, cfg.NamespaceRetention = tt.create, tt.retention
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			a, err := Start(ctx, cfg)
			if tt.wantErr != "" {
				if err == nil {
					a.Stop()
					t.Fatalf("Start succeeded, want %q", tt.wantErr)
				}
				if !errors.Is(err, temporalns.ErrMissing) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Start: %v, want ErrMissing saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer a.Stop()
			if code, body := get(t, a.HTTPAddr(), "/readyz"); code != 200 {
				t.Errorf("/readyz = %d %q right after Start, want 200", code, body)
			}
			d, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
			if err != nil {
				t.Fatal(err)
			}
			if got := d.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != tt.wantKept {
				t.Errorf("retention %v, want %v", got, tt.wantKept)
			}
			sa, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
			if err != nil {
				t.Fatal(err)
			}
			for name := range workflows.SearchAttributes() {
				if _, ok := sa.GetCustomAttributes()[name]; !ok {
					t.Errorf("search attribute %s missing", name)
				}
			}
		})
	}
}

func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
