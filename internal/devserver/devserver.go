// Package devserver runs a complete Temporal server (SQLite persistence) and,
// optionally, the Temporal Web UI inside the current process. It backs
// `worker -dev` and the integration tests; production uses a real cluster.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
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
	ui           *uiserver.Server
	frontendAddr string
	namespace    string
}

// Start starts the server and returns once its frontend accepts connections.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	frontendAddr := opts.FrontendAddr
	if frontendAddr == "" {
		frontendAddr = "127.0.0.1:0"
	}
	frontendHost, frontendPort, err := resolvePort(frontendAddr)
	if err != nil {
		return nil, fmt.Errorf("devserver: frontend address %q: %w", opts.FrontendAddr, err)
	}
	frontendAddr = net.JoinHostPort(frontendHost, strconv.Itoa(frontendPort))

	sqlCfg, err := sqliteConfig(opts.DataDir)
	if err != nil {
		return nil, err
	}
	cfg, err := serverConfig(frontendHost, frontendPort, sqlCfg)
	if err != nil {
		return nil, err
	}
	ns, err := sqliteschema.NewNamespaceConfig(cfg.ClusterMetadata.CurrentClusterName, opts.Namespace, false, opts.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("devserver: namespace config: %w", err)
	}
	if err := sqliteschema.CreateNamespaces(sqlCfg, ns); err != nil {
		return nil, fmt.Errorf("devserver: create namespace: %w", err)
	}

	var logger log.Logger = log.NewNoopLogger()
	if opts.LogLevel != "" {
		logger = log.NewZapLogger(log.BuildZapLogger(log.Config{Level: opts.LogLevel}))
	}
	authorizer, err := authorization.GetAuthorizerFromConfig(&cfg.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("devserver: authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&cfg.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("devserver: claim mapper: %w", err)
	}
	srv, err := temporal.NewServer(
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
		return nil, fmt.Errorf("devserver: %w", err)
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
		if err := s.startUI(opts.UIAddr); err != nil {
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
	if s.ui != nil {
		s.ui.Stop()
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

func (s *Server) startUI(addr string) error {
	host, port, err := resolvePort(addr)
	if err != nil {
		return fmt.Errorf("devserver: UI address %q: %w", addr, err)
	}
	// The UI server exits the process when it cannot listen, so check first.
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("devserver: UI address %q: %w", addr, err)
	}
	_ = l.Close()
	s.ui = uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
		TemporalGRPCAddress: s.frontendAddr,
		Host:                host,
		Port:                port,
		EnableUI:            true,
		DefaultNamespace:    s.namespace,
		HideLogs:            true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
	}))
	go func() { _ = s.ui.Start() }()
	return nil
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
	}
	return cfg, nil
}

func serverConfig(host string, frontendPort int, sqlCfg *config.SQL) (*config.Config, error) {
	ports, err := freePorts(7)
	if err != nil {
		return nil, err
	}
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
			MasterClusterName:        "active",
			CurrentClusterName:       "active",
			ClusterInformation: map[string]cluster.ClusterInformation{
				"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: net.JoinHostPort(host, strconv.Itoa(frontendPort))},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			"frontend": service(frontendPort, ports[0]),
			"history":  service(ports[1], ports[2]),
			"matching": service(ports[3], ports[4]),
			"worker":   service(ports[5], ports[6]),
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
	}, nil
}

// resolvePort splits host:port and replaces port 0 with a free one.
func resolvePort(addr string) (string, int, error) {
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
	if port == 0 {
		ps, err := freePorts(1)
		if err != nil {
			return "", 0, err
		}
		port = ps[0]
	}
	return host, port, nil
}

// freePorts asks the kernel for n distinct free loopback ports. The
// listeners are held until all are chosen so no port is handed out twice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("devserver: free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
