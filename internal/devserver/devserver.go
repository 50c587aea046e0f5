// Package devserver runs a complete Temporal server (SQLite persistence) and,
// optionally, the Temporal Web UI inside the current process. It backs
// `worker -dev` and the integration tests; production uses a real cluster.
package devserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	workflowservice "go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/metrics"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// Options configure the embedded server. The zero value (plus Namespace)
// gives an in-memory server on a free loopback port without UI.
type Options struct {
	// FrontendAddr is the gRPC host:port clients dial; "" picks a free port.
	FrontendAddr string
	// UIAddr serves the Temporal Web UI; "" disables it.
	UIAddr string
	// DataDir keeps the SQLite database so state survives a restart; ""
	// keeps everything in memory.
	DataDir string
	// Namespace is created at start (with SearchAttributes) if missing.
	Namespace        string
	SearchAttributes map[string]enumspb.IndexedValueType
	// LogLevel of the server's own (zap, stderr) log: "error", "warn", ...;
	// "" keeps the server silent.
	LogLevel string
}

// Server is a running embedded Temporal server.
type Server struct {
	temporal     temporal.Server
	uis          []*uiserver.Server
	frontendAddr string
	namespace    string
}

// Start starts the server and returns once its frontend accepts connections.
// A port another process took between choosing and binding it fails one
// attempt; the next one chooses again (and waits for a fixed frontend port).
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	var err error
	for range 3 {
		var s *Server
		if s, err = start(ctx, opts); !errors.Is(err, errStartup) {
			return s, err
		}
	}
	return nil, err
}

func start(ctx context.Context, opts Options) (*Server, error) {
	sqlCfg, err := sqliteConfig(opts.DataDir)
	if err != nil {
		return nil, err
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, opts.Namespace, false, opts.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("devserver: namespace config: %w", err)
	}
	if err := sqliteschema.CreateNamespaces(sqlCfg, ns); err != nil {
		return nil, fmt.Errorf("devserver: create namespace: %w", err)
	}

	// Chosen last, so little time passes before the server binds them.
	frontendHost, ports, err := reservePorts(ctx, opts.FrontendAddr)
	if err != nil {
		return nil, err
	}
	frontendAddr := net.JoinHostPort(frontendHost, strconv.Itoa(ports[0]))
	cfg := serverConfig(frontendHost, ports, sqlCfg)

	var inner log.Logger = log.NewNoopLogger()
	if opts.LogLevel != "" {
		inner = log.NewZapLogger(log.BuildZapLogger(log.Config{Level: opts.LogLevel}))
	}
	logger := &startupLogger{Logger: inner}
	authorizer, err := authorization.GetAuthorizerFromConfig(&cfg.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("devserver: authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&cfg.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("devserver: claim mapper: %w", err)
	}
	srv, err := logger.build(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithCustomMetricsHandler(metrics.NoopMetricsHandler),
		temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
			// Search attributes added at runtime become usable at once.
			dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): []dynamicconfig.ConstrainedValue{{Value: true}},
			// One partition per task queue: with the default four, a new
			// task can sit in a partition no poller is on for about a
			// second, which is most of a STOP's cancellation latency.
			dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  []dynamicconfig.ConstrainedValue{{Value: 1}},
			dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): []dynamicconfig.ConstrainedValue{{Value: 1}},
		}),
	)
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("devserver: start: %w", err)
	}
	s := &Server{temporal: srv, frontendAddr: frontendAddr, namespace: opts.Namespace}
	if err := s.waitReady(ctx); err != nil {
		_ = srv.Stop()
		return nil, err
	}

	if opts.UIAddr != "" {
		if _, err := s.StartUI(opts.UIAddr, ""); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// FrontendAddr is the host:port to dial.
func (s *Server) FrontendAddr() string { return s.frontendAddr }

// Namespace is the namespace created at start.
func (s *Server) Namespace() string { return s.namespace }

// Stop shuts the UI and the server down.
func (s *Server) Stop() {
	for _, ui := range s.uis {
		ui.Stop()
	}
	_ = s.temporal.Stop()
}

// waitReady polls the frontend until the namespace answers, because Start
// returns before the services have joined the membership ring.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := client.Dial(client.Options{HostPort: s.frontendAddr, Namespace: s.namespace, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return fmt.Errorf("devserver: dial: %w", err)
	}
	defer c.Close()
	for {
		if _, err = c.CheckHealth(ctx, &client.CheckHealthRequest{}); err == nil {
			if _, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.namespace}); err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devserver: not ready: %w", errors.Join(ctx.Err(), err))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// StartUI serves the Temporal Web UI on addr and returns the address it
// listens on. A codecEndpoint (a codec server's base URL) makes the UI
// decode payloads through it in the browser, and encode what "Start
// Workflow" sends; "" shows payloads as stored. Each call starts another
// UI (tests compare two).
func (s *Server) StartUI(addr, codecEndpoint string) (string, error) {
	host, port, err := splitAddr(addr)
	if err != nil {
		return "", fmt.Errorf("devserver: UI address %q: %w", addr, err)
	}
	// The UI server exits the process when it cannot listen, so check first
	// (and learn the port when it is 0).
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return "", fmt.Errorf("devserver: UI address %q: %w", addr, err)
	}
	port = l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	ui := uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
		TemporalGRPCAddress: s.frontendAddr,
		Host:                host,
		Port:                port,
		EnableUI:            true,
		DefaultNamespace:    s.namespace,
		HideLogs:            true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		Codec:               uiconfig.Codec{Endpoint: codecEndpoint},
	}))
	s.uis = append(s.uis, ui)
	go func() { _ = ui.Start() }()
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

func sqliteConfig(dataDir string) (*config.SQL, error) {
	if dataDir == "" {
		return &config.SQL{
			PluginName: sqliteplugin.PluginName,
			// A unique name keeps two in-memory servers in one process apart.
			DatabaseName:      fmt.Sprintf("stopline-%d-%d", os.Getpid(), time.Now().UnixNano()),
			ConnectAttributes: map[string]string{"mode": "memory", "cache": "shared"},
		}, nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("devserver: data dir: %w", err)
	}
	cfg := &config.SQL{
		PluginName:        sqliteplugin.PluginName,
		DatabaseName:      filepath.Join(dataDir, "temporal.db"),
		ConnectAttributes: map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "1", "busy_timeout": "10000"},
	}
	if _, err := os.Stat(cfg.DatabaseName); errors.Is(err, os.ErrNotExist) {
		if err := sqliteschema.SetupSchema(cfg); err != nil {
			return nil, fmt.Errorf("devserver: schema: %w", err)
		}
	} else if err := forgetMembers(cfg.DatabaseName); err != nil {
		return nil, err
	}
	return cfg, nil
}

// forgetMembers deletes the cluster membership an earlier run left in the
// database. A server restarted within the heartbeat window otherwise tries
// to join its dead predecessor's services first; on a loaded machine the
// join can time out, which the server reports through Fatal and then
// crashes on a ringpop that never started.
func forgetMembers(path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("devserver: open %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM cluster_membership`); err != nil {
		return fmt.Errorf("devserver: clear the previous run's cluster membership: %w", err)
	}
	return nil
}

// errStartup marks a failure the server reported through Fatal while it
// was being built, typically a port it could not bind.
var errStartup = errors.New("devserver: server failed to start")

// startupLogger turns the server's Fatal calls while it is being built (when
// it binds its listeners) into an error from build. The server assumes Fatal
// exits the process; with a quiet logger it would go on with a nil listener
// and crash later in another goroutine (grpc.(*Server).Serve). Afterwards a
// Fatal goes to the inner logger as before (quiet: ignored; zap: exits),
// because it may come from any goroutine.
type startupLogger struct {
	log.Logger
	building atomic.Bool
}

type fatal string

func (l *startupLogger) Fatal(msg string, tags ...tag.Tag) {
	if !l.building.Load() {
		l.Logger.Fatal(msg, tags...)
		return
	}
	l.Logger.Error(msg, tags...)
	for _, t := range tags {
		msg += fmt.Sprintf(" %s=%v", t.Key(), t.Value())
	}
	panic(fatal(msg))
}

func (l *startupLogger) build(opts ...temporal.ServerOption) (srv temporal.Server, err error) {
	l.building.Store(true)
	defer func() {
		l.building.Store(false)
		switch r := recover().(type) {
		case nil:
		case fatal:
			srv, err = nil, fmt.Errorf("%w: %s", errStartup, string(r))
		default:
			panic(r)
		}
	}()
	srv, err = temporal.NewServer(opts...)
	if err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}
	return srv, nil
}

const clusterName = "active"

// serverConfig lays out the four services on ports[0] (frontend) and
// ports[1:] (the rest and their membership ports).
func serverConfig(host string, ports []int, sqlCfg *config.SQL) *config.Config {
	frontendPort := ports[0]
	service := func(grpcPort, membershipPort int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpcPort, MembershipPort: membershipPort, BindOnIP: host}}
	}
	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: host},
		},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlCfg}},
		},
		ClusterMetadata: &cluster.Config{
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: net.JoinHostPort(host, strconv.Itoa(frontendPort))},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			"frontend": service(frontendPort, ports[1]),
			"history":  service(ports[2], ports[3]),
			"matching": service(ports[4], ports[5]),
			"worker":   service(ports[6], ports[7]),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: net.JoinHostPort(host, strconv.Itoa(frontendPort))},
	}
}

// reservePorts returns the frontend's host and eight distinct ports: the
// frontend's (from addr, or free if addr is "" or has port 0) and seven free
// ones for the other services. All are held open until all are chosen, so
// the kernel cannot hand one out twice. A fixed frontend port still held by
// someone (a server that just stopped) is waited for up to 10 seconds.
func reservePorts(ctx context.Context, addr string) (string, []int, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, port, err := splitAddr(addr)
	if err != nil {
		return "", nil, fmt.Errorf("devserver: frontend address %q: %w", addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var frontend net.Listener
	for {
		if frontend, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port))); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return "", nil, fmt.Errorf("devserver: frontend address %q: %w", addr, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer frontend.Close()
	ports := []int{frontend.Addr().(*net.TCPAddr).Port}
	for range 7 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return "", nil, fmt.Errorf("devserver: free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return host, ports, nil
}

// splitAddr splits host:port, reading "" and localhost as 127.0.0.1.
func splitAddr(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	if host == "" || host == "localhost" {
		host = "127.0.0.1"
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", 0, fmt.Errorf("bad port %q", portStr)
	}
	return host, port, nil
}
