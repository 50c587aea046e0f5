package devserver

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/temporal"
)

// A port taken between choosing and binding it must come back as an error
// Start can retry, not as the nil-listener panic the server's quiet Fatal
// used to cause in grpc.(*Server).Serve.
func TestBuildReportsBusyPort(t *testing.T) {
	sqlCfg, err := sqliteConfig("")
	if err != nil {
		t.Fatal(err)
	}
	host, ports, err := reservePorts(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	ports[2] = busyPort // the history service's gRPC port

	logger := &startupLogger{Logger: log.NewNoopLogger()}
	srv, err := logger.build(temporal.WithConfig(serverConfig(host, ports, sqlCfg)), temporal.ForServices(temporal.DefaultServices), temporal.WithLogger(logger))
	if srv != nil || !errors.Is(err, errStartup) || !strings.Contains(err.Error(), strconv.Itoa(busyPort)) {
		t.Fatalf("build with port %d taken: server %v, error %v; want errStartup naming the port", busyPort, srv, err)
	}
	logger.Fatal("after building") // to the quiet inner logger: no panic, it may come from any goroutine
}

// A fixed frontend port still held for a moment (a server that just
// stopped, a client's self-connect) is waited for.
func TestStartWaitsForFrontendPort(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := held.Addr().String()
	time.AfterFunc(500*time.Millisecond, func() { held.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := Start(ctx, Options{FrontendAddr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if srv.FrontendAddr() != addr {
		t.Fatalf("frontend on %s, want %s", srv.FrontendAddr(), addr)
	}
}

// A server restarted on its data dir starts with its own cluster
// membership only, not the rows of the run before (whose services are gone).
func TestRestartForgetsMembership(t *testing.T) {
	dir := t.TempDir()
	start := func() *Server {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		srv, err := Start(ctx, Options{DataDir: dir, Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	start().Stop()
	restarted := time.Now()
	srv := start()
	defer srv.Stop()

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "temporal.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var total, stale int
	err = db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE session_start < ?) FROM cluster_membership`, restarted.UTC()).Scan(&total, &stale)
	if err != nil {
		t.Fatal(err)
	}
	if total == 0 || stale != 0 {
		t.Errorf("cluster membership after a restart: %d rows, %d from the earlier run; want only the new run's", total, stale)
	}
}
