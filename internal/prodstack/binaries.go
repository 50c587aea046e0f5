// Package prodstack starts stopline in its production shape for tests and
// the bench: the official Temporal server (built from the pinned module)
// on databases of its own in the local Postgres, set up by its own SQL
// tool and started from its own config template, and stopline `worker`
// processes without -dev. Everything listens on 127.0.0.1, is bounded in
// time and is stopped and dropped when the test ends (Start) or on Close
// (Launch).
package prodstack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ServerVersion is the pinned go.temporal.io/server version (go.mod).
const ServerVersion = "v1.32.1"

// Binaries are the paths of the official server and SQL tool.
type Binaries struct{ Server, SQLTool string }

// binDir is where the binaries are cached between runs:
// STOPLINE_TEMPORAL_BIN, or the user cache directory.
func binDir() (string, error) {
	if d := os.Getenv("STOPLINE_TEMPORAL_BIN"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "stopline", "temporal-"+ServerVersion), nil
}

// Build returns the official temporal-server and temporal-sql-tool,
// running `go install ...@ServerVersion` once into the cache directory
// (a few minutes cold, about a minute with a warm module cache).
func Build(ctx context.Context) (Binaries, error) {
	dir, err := binDir()
	if err != nil {
		return Binaries{}, err
	}
	b := Binaries{Server: filepath.Join(dir, "server"), SQLTool: filepath.Join(dir, "sql")}
	if exists(b.Server) && exists(b.SQLTool) {
		return b, nil
	}
	// Build into a fresh directory and move the results in, so a build
	// that another test process runs at the same time is never half-read.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "build-")
	if err != nil {
		if err = os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return Binaries{}, err
		}
		if tmp, err = os.MkdirTemp(filepath.Dir(dir), "build-"); err != nil {
			return Binaries{}, err
		}
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install",
		"go.temporal.io/server/cmd/server@"+ServerVersion, "go.temporal.io/server/cmd/tools/sql@"+ServerVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=-buildvcs=false")
	cmd.Dir = tmp // outside any module: @version installs use the server's own go.mod
	if out, err := cmd.CombinedOutput(); err != nil {
		return Binaries{}, fmt.Errorf("prodstack: go install temporal server %s: %w\n%s", ServerVersion, err, out)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Binaries{}, err
	}
	for _, name := range []string{"server", "sql"} {
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(dir, name)); err != nil {
			return Binaries{}, err
		}
	}
	return b, nil
}

// moduleDir is the pinned server module's directory in the module cache:
// its config templates and SQL schemas.
func moduleDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "go.temporal.io/server").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		return "", fmt.Errorf("prodstack: locate go.temporal.io/server: %v", err)
	}
	return dir, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
