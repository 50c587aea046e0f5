package prodstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/stopline/stopline/internal/codec"
)

// Temporal is an official temporal-server process on Postgres.
type Temporal struct {
	Addr string // frontend gRPC, host:port

	bin      Binaries
	root     string // the server's working directory: its log and config
	confDir  string
	logPath  string
	adminURL string
	dbs      map[string]string // database -> schema
	cmd      *exec.Cmd
	exited   chan struct{}
}

var dbSeq atomic.Int64

// StartTemporal is LaunchTemporal for a test: it fails the test on an
// error, and closes the server when the test ends.
func StartTemporal(tb testing.TB, adminURL string, maxConns int) *Temporal {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	t, err := LaunchTemporal(ctx, adminURL, maxConns)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(t.Close)
	return t
}

// LaunchTemporal sets up two fresh databases (persistence and visibility)
// on the Postgres of adminURL with the official SQL tool, writes the
// server's development-postgres12.yaml with free ports (and maxConns per
// service, unless 0), and starts the server. Close stops it and drops the
// databases.
func LaunchTemporal(ctx context.Context, adminURL string, maxConns int) (_ *Temporal, err error) {
	t := &Temporal{adminURL: adminURL}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	if t.bin, err = Build(ctx); err != nil {
		return nil, err
	}
	mod, err := moduleDir(ctx)
	if err != nil {
		return nil, err
	}
	pg, err := url.Parse(adminURL)
	if err != nil {
		return nil, fmt.Errorf("prodstack: Postgres URL: %w", err)
	}
	prefix := fmt.Sprintf("temporal_%d_%d", os.Getpid(), dbSeq.Add(1))
	t.dbs = map[string]string{prefix: "temporal", prefix + "_vis": "visibility"}
	for db, schema := range t.dbs {
		if err := setupSchema(ctx, t.bin.SQLTool, pg, db, filepath.Join(mod, "schema/postgresql/v12", schema, "versioned")); err != nil {
			return nil, err
		}
	}
	if t.root, err = os.MkdirTemp("", "temporal-server-"); err != nil {
		return nil, err
	}
	t.confDir, t.logPath = filepath.Join(t.root, "config"), filepath.Join(t.root, "temporal-server.log")
	if err := os.Mkdir(t.confDir, 0o755); err != nil {
		return nil, err
	}
	// A port found free can be taken before the server binds it: then
	// the server exits, and another set of ports is tried.
	for attempt := 1; ; attempt++ {
		if t.Addr, err = writeConfig(mod, t.confDir, pg, prefix, maxConns); err != nil {
			return nil, err
		}
		err = t.start(ctx)
		if err == nil {
			return t, nil
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return nil, err
		}
	}
}

// Close stops the server, drops its databases and removes its directory.
func (t *Temporal) Close() {
	t.stop()
	if t.dbs != nil {
		dropDatabases(t.adminURL, t.dbs)
	}
	if t.root != "" {
		_ = os.RemoveAll(t.root)
	}
}

// Databases are the server's databases: persistence and visibility.
func (t *Temporal) Databases() []string { return slices.Sorted(maps.Keys(t.dbs)) }

// Pid is the server process's ID.
func (t *Temporal) Pid() int { return t.cmd.Process.Pid }

// setupSchema creates db and migrates it to the newest schema version.
func setupSchema(ctx context.Context, tool string, pg *url.URL, db, versioned string) error {
	pw, _ := pg.User.Password()
	common := []string{"--plugin", "postgres12", "--ep", pg.Hostname(), "-p", pg.Port(), "-u", pg.User.Username(), "--pw", pw, "--db", db}
	for _, step := range [][]string{
		{"create-database"},
		{"setup-schema", "-v", "0.0"},
		{"update-schema", "-d", versioned},
	} {
		cmd := exec.CommandContext(ctx, tool, append(common, step...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("prodstack: temporal-sql-tool %s on %s: %w\n%s", step[0], db, err, out)
		}
	}
	return nil
}

func dropDatabases(adminURL string, dbs map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return
	}
	defer c.Close(ctx)
	for db := range dbs {
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
	}
}

// templatePorts are the ports development-postgres12.yaml listens on.
var templatePorts = regexp.MustCompile(`\b(7233|7234|7235|7239|7243|6933|6934|6935|6939|7936|8000)\b`)

// writeConfig copies the server's own Postgres template and its dynamic
// config into dir, changing only the database, credentials, ports, pool
// size and the dynamic config path. It returns the frontend address.
func writeConfig(mod, dir string, pg *url.URL, prefix string, maxConns int) (string, error) {
	tmpl, err := os.ReadFile(filepath.Join(mod, "config/development-postgres12.yaml"))
	if err != nil {
		return "", err
	}
	dyn, err := os.ReadFile(filepath.Join(mod, "config/dynamicconfig/development-sql.yaml"))
	if err != nil {
		return "", err
	}
	dynPath := filepath.Join(dir, "dynamicconfig.yaml")
	if err := os.WriteFile(dynPath, dyn, 0o644); err != nil {
		return "", err
	}
	ports := map[string]string{}
	var portErr error
	conf := templatePorts.ReplaceAllStringFunc(string(tmpl), func(p string) string {
		if ports[p] == "" {
			n, err := freePort()
			if err != nil {
				portErr = err
			}
			ports[p] = strconv.Itoa(n)
		}
		return ports[p]
	})
	if portErr != nil {
		return "", portErr
	}
	pw, _ := pg.User.Password()
	pool := "20"
	if maxConns > 0 {
		pool = strconv.Itoa(maxConns)
	}
	r := strings.NewReplacer(
		"maxConns: 20", "maxConns: "+pool,
		"maxIdleConns: 20", "maxIdleConns: "+pool,
		`databaseName: "temporal_visibility"`, `databaseName: "`+prefix+`_vis"`,
		`databaseName: "temporal"`, `databaseName: "`+prefix+`"`,
		`connectAddr: "127.0.0.1:5432"`, `connectAddr: "`+pg.Host+`"`,
		`user: "temporal"`, `user: "`+pg.User.Username()+`"`,
		`password: "temporal"`, `password: "`+pw+`"`,
		`filepath: "config/dynamicconfig/development-sql.yaml"`, `filepath: "`+dynPath+`"`,
	)
	if err := os.WriteFile(filepath.Join(dir, "development.yaml"), []byte(r.Replace(conf)), 0o644); err != nil {
		return "", err
	}
	return "127.0.0.1:" + ports["7233"], nil
}

func (t *Temporal) start(ctx context.Context) error {
	logf, err := os.OpenFile(t.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(t.bin.Server, "--config-file", filepath.Join(t.confDir, "development.yaml"), "start")
	cmd.Dir = t.root
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the test
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("prodstack: start temporal-server: %w", err)
	}
	t.cmd, t.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(t.exited) }()
	if err := t.waitReady(ctx); err != nil {
		return fmt.Errorf("%w\n%s", err, tail(t.logPath, 30))
	}
	return nil
}

// waitReady polls the frontend until it answers for the system namespace.
func (t *Temporal) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var err error
	for {
		var c client.Client
		if c, err = t.Dial(ctx, "temporal-system"); err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
			if err == nil {
				return nil
			}
		}
		select {
		case <-t.exited:
			return fmt.Errorf("prodstack: temporal-server exited: %v", t.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("prodstack: temporal-server not ready: %w (%v)", ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Dial returns a client of namespace ns that encodes and decodes payloads
// with PayloadKeys, as the workers do.
func (t *Temporal) Dial(ctx context.Context, ns string) (client.Client, error) {
	pc, err := codec.Parse(PayloadKeys)
	if err != nil {
		return nil, err
	}
	opts := client.Options{HostPort: t.Addr, Namespace: ns, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))}
	codec.Apply(&opts, pc)
	return client.DialContext(ctx, opts)
}

// Restart stops the server (SIGTERM) and starts it again on the same
// databases and ports.
func (t *Temporal) Restart(ctx context.Context) error {
	t.stop()
	return t.start(ctx)
}

func (t *Temporal) stop() {
	if t.cmd == nil {
		return
	}
	stopProcess(t.cmd, t.exited, 30*time.Second)
}

// Log is the tail of the server's log, for failure messages.
func (t *Temporal) Log() string { return tail(t.logPath, 40) }

// stopProcess sends SIGTERM and, after grace, SIGKILL.
func stopProcess(cmd *exec.Cmd, exited chan struct{}, grace time.Duration) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
	}
}

var (
	portsMu sync.Mutex
	given   = map[int]bool{}
)

// freePort finds a free port below 32768 (the server stores membership
// ports in a Postgres smallint, so the kernel's ephemeral ports, which :0
// gives, do not fit), never the same one twice in a process.
func freePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		port := 20000 + rand.N(12000)
		if given[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			given[port] = true
			return port, nil
		}
	}
	return 0, errors.New("prodstack: no free port in 20000-31999")
}

// tail is the last n lines of a log file.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
