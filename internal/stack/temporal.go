package stack

import (
	"context"
	"log/slog"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/stopline/stopline/internal/devserver"
	"github.com/stopline/stopline/workflows"
)

// Namespace is the namespace the embedded servers of the stack serve.
const Namespace = "default"

// StartServer starts an embedded Temporal server with stopline's search
// attributes in Namespace. o may set the address and data directory, so a
// test can stop the server and start it again with the same state.
func StartServer(ctx context.Context, o devserver.Options) (*devserver.Server, error) {
	o.Namespace = Namespace
	o.SearchAttributes = workflows.SearchAttributes()
	return devserver.Start(ctx, o)
}

// Temporal is a Temporal frontend and a client of it.
type Temporal struct {
	Addr, Namespace string
	Client          client.Client
	server          *devserver.Server // nil when dialled
}

// StartTemporal starts an embedded server of its own and dials it; edit
// is as in DialTemporal.
func StartTemporal(ctx context.Context, edit ...func(*client.Options)) (*Temporal, error) {
	srv, err := StartServer(ctx, devserver.Options{})
	if err != nil {
		return nil, err
	}
	t, err := DialTemporal(ctx, srv.FrontendAddr(), srv.Namespace(), edit...)
	if err != nil {
		srv.Stop()
		return nil, err
	}
	t.server = srv
	return t, nil
}

// DialTemporal dials a running server. edit may adjust the client options,
// to add a data converter, say; the client logs nothing by default.
func DialTemporal(ctx context.Context, addr, namespace string, edit ...func(*client.Options)) (*Temporal, error) {
	o := client.Options{HostPort: addr, Namespace: namespace, Logger: sdklog.NewStructuredLogger(quiet)}
	for _, e := range edit {
		e(&o)
	}
	c, err := client.DialContext(ctx, o)
	if err != nil {
		return nil, err
	}
	return &Temporal{Addr: addr, Namespace: namespace, Client: c}, nil
}

// Close closes the client, and stops the server if StartTemporal started it.
func (t *Temporal) Close() {
	t.Client.Close()
	if t.server != nil {
		t.server.Stop()
	}
}

var quiet = slog.New(slog.DiscardHandler)
