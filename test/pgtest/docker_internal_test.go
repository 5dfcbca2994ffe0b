package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
)

func TestChooseBackend(t *testing.T) {
	t.Parallel()
	envErr := noBinariesError{fmt.Errorf("%s=%q: missing initdb", EnvBinDir, "/empty"), true}
	// A detailed error about binaries nobody named (none of the defaults).
	defaultErr := noBinariesError{errors.New("no initdb under /usr/lib/postgresql"), false}
	otherErr := errors.New("listing /usr/lib/postgresql/*/bin: bad pattern")
	for _, tc := range []struct {
		name       string
		binErr     error
		dockerErr  error
		want       backend
		wantProbe  bool
		wantErr    []string // substrings of the error; nil: no error
		wantNoBins bool     // the error matches ErrNoBinaries
	}{
		{name: "binaries found", want: backendLocal},
		{name: "binaries found, Docker down", dockerErr: errors.New("down"), want: backendLocal},
		{name: "no binaries, Docker up", binErr: ErrNoBinaries, wantProbe: true, want: backendDocker},
		{name: "no default binaries, Docker up", binErr: defaultErr, wantProbe: true, want: backendDocker},
		{
			// A named bin directory is never replaced by a container of
			// another PostgreSQL version.
			name: "empty env dir, Docker up", binErr: envErr, wantNoBins: true,
			wantErr: []string{`ROLECD_TEST_PGBIN="/empty": missing initdb`},
		},
		{
			name: "no binaries, no Docker", binErr: ErrNoBinaries, dockerErr: errors.New("socket not found"),
			wantProbe: true, wantNoBins: true,
			wantErr: []string{"no PostgreSQL binaries found and no Docker engine", "set " + EnvBinDir, "install postgresql", "Docker: socket not found"},
		},
		{
			name: "no default binaries, no Docker", binErr: defaultErr, dockerErr: errors.New("socket not found"),
			wantProbe: true, wantNoBins: true,
			wantErr: []string{"no PostgreSQL binaries found and no Docker engine", "install postgresql", "no initdb under /usr/lib/postgresql", "Docker: socket not found"},
		},
		{
			name: "empty env dir, no Docker", binErr: envErr, dockerErr: errors.New("socket not found"),
			wantNoBins: true, wantErr: []string{`ROLECD_TEST_PGBIN="/empty": missing initdb`},
		},
		{name: "other BinDir error", binErr: otherErr, wantErr: []string{"bad pattern"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			probed := false
			got, err := chooseBackend(context.Background(), tc.binErr, func(context.Context) error {
				probed = true
				return tc.dockerErr
			})
			if probed != tc.wantProbe {
				t.Errorf("Docker probed: %v, want %v", probed, tc.wantProbe)
			}
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("chooseBackend = %v, nil; want an error", got)
				}
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q lacks %q", err, want)
					}
				}
				if got := errors.Is(err, ErrNoBinaries); got != tc.wantNoBins {
					t.Errorf("errors.Is(err, ErrNoBinaries) = %v, want %v", got, tc.wantNoBins)
				}
				if strings.Count(err.Error(), "no PostgreSQL binaries found") > 1 {
					t.Errorf("error repeats itself: %q", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("chooseBackend = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// A bin directory that was named but holds no PostgreSQL fails the start,
// even with a Docker engine up: a container would run another version.
func TestStartClusterNamedEmptyBinDir(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		name string
		env  string
		cfg  Config
		want []string
	}{
		{name: "environment", env: empty, want: []string{EnvBinDir + "=", empty, "missing initdb"}},
		{name: "config", cfg: Config{BinDir: empty}, want: []string{"bin directory", empty, "missing initdb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvBinDir, tc.env)
			probed := false
			c, err := startCluster(context.Background(), tc.cfg, BinDir, func(context.Context) error {
				probed = true
				return nil
			})
			if err == nil {
				_ = c.Stop()
				t.Fatal("started a cluster from an empty bin directory")
			}
			if probed {
				t.Error("Docker was probed for a named bin directory")
			}
			if !errors.Is(err, ErrNoBinaries) {
				t.Errorf("error %q does not match ErrNoBinaries", err)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

func TestStartClusterDoesNotProbeDockerWithBinaries(t *testing.T) {
	t.Parallel()
	// A bad setting fails the local start after the backend is chosen, so
	// no server runs; Docker must not have been asked.
	_, err := startCluster(context.Background(), Config{Settings: map[string]string{"bad name": "1"}}, BinDir,
		func(context.Context) error {
			t.Error("Docker probed although local binaries exist")
			return nil
		})
	if err == nil || !strings.Contains(err.Error(), "invalid setting name") {
		t.Fatalf("err = %v", err)
	}
}

func TestContainerArgs(t *testing.T) {
	t.Parallel()
	args, err := containerArgs(Config{Settings: map[string]string{
		"timezone":         "Europe/Paris",
		"application_name": `it's a "test"`,
		"log_statement":    "all",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(args)%2 != 0 {
		t.Fatalf("odd argument count: %q", args)
	}
	var settings []string
	for i := 0; i < len(args); i += 2 {
		if args[i] != "-c" {
			t.Fatalf("args[%d] = %q, want -c: %q", i, args[i], args)
		}
		settings = append(settings, args[i+1])
	}
	for _, want := range []string{"fsync=off", "password_encryption=scram-sha-256", "timezone=UTC"} {
		if !slices.Contains(settings, want) {
			t.Errorf("settings %q lack %q", settings, want)
		}
	}
	for _, s := range settings {
		if strings.HasPrefix(s, "listen_addresses=") || strings.HasPrefix(s, "unix_socket_directories=") {
			t.Errorf("container gets host-only setting %q", s)
		}
	}
	// Config.Settings come last, in name order, so they override defaults.
	wantTail := []string{`application_name=it's a "test"`, "log_statement=all", "timezone=Europe/Paris"}
	if got := settings[len(settings)-len(wantTail):]; !slices.Equal(got, wantTail) {
		t.Errorf("last settings = %q, want %q", got, wantTail)
	}

	for _, bad := range []map[string]string{{"bad name": "1"}, {"ok": "two\nlines"}} {
		if _, err := containerArgs(Config{Settings: bad}); err == nil {
			t.Errorf("containerArgs(%q) accepted", bad)
		}
	}
}

func TestPublishOnLoopback(t *testing.T) {
	t.Parallel()
	var hc container.HostConfig
	publishOnLoopback(&hc)
	bindings := hc.PortBindings[network.MustParsePort("5432/tcp")]
	want := []network.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "0"}}
	if len(hc.PortBindings) != 1 || !slices.Equal(bindings, want) {
		t.Errorf("PortBindings = %v, want 5432/tcp -> %v", hc.PortBindings, want)
	}
}

// fakeContainer stands in for a testcontainers-go container.
type fakeContainer struct {
	logs         string
	terminateErr error
	terminated   int
}

func (f *fakeContainer) Terminate(context.Context, ...testcontainers.TerminateOption) error {
	f.terminated++
	return f.terminateErr
}

func (f *fakeContainer) Logs(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(f.logs)), nil
}

func TestContainerClusterStopAndLog(t *testing.T) {
	t.Parallel()
	ctr := &fakeContainer{logs: "LOG:  database system is ready to accept connections\n"}
	c := &Cluster{Host: "127.0.0.1", Port: 5555, ctr: ctr}
	log, err := c.ServerLog()
	if err != nil || log != ctr.logs {
		t.Errorf("ServerLog() = %q, %v; want %q", log, err, ctr.logs)
	}
	for range 2 {
		if err := c.Stop(); err != nil {
			t.Fatalf("Stop: %v", err)
		}
	}
	if ctr.terminated != 1 {
		t.Errorf("Terminate called %d times, want 1", ctr.terminated)
	}

	failing := &Cluster{Port: 5556, ctr: &fakeContainer{terminateErr: errors.New("engine gone")}}
	if err := failing.Stop(); err == nil || !strings.Contains(err.Error(), "engine gone") || !strings.Contains(err.Error(), "5556") {
		t.Errorf("Stop of a failing container: %v", err)
	}
}

// TestStartClusterWithoutBinaries runs startCluster as on a machine without
// PostgreSQL binaries, with the machine's real Docker check. Without a
// Docker engine the error must name both ways to get a cluster; with one,
// the container cluster must work like a local one.
func TestStartClusterWithoutBinaries(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	noBinaries := func() (string, error) { return "", ErrNoBinaries }
	c, err := startCluster(ctx, Config{Settings: map[string]string{"log_statement": "all"}}, noBinaries, dockerEngineUp)
	if err != nil {
		t.Logf("no Docker engine: %v", err)
		for _, want := range []string{"no PostgreSQL binaries found", "no Docker engine", "set " + EnvBinDir, "install postgresql"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		return
	}
	// A Docker engine answered: the cluster runs in a container.
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	if c.Host != "127.0.0.1" || c.Port == 0 || c.User != "postgres" || len(c.Password) < 32 || c.DataDir != "" {
		t.Errorf("cluster = %+v", c)
	}
	if c.VersionNum < 100000 {
		t.Errorf("VersionNum = %d", c.VersionNum)
	}
	c.Exec(t, "postgres", "SELECT 'docker-marker-17'")
	var fsync string
	if err := c.Connect(t, "postgres").QueryRow(ctx, "SELECT current_setting('fsync')").Scan(&fsync); err != nil {
		t.Fatal(err)
	}
	if fsync != "off" {
		t.Errorf("fsync = %q", fsync)
	}
	log, err := c.ServerLog()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log, "docker-marker-17") {
		t.Errorf("server log lacks the statement:\n%s", log)
	}
	if strings.Contains(log, c.Password) {
		t.Error("server log contains the superuser password")
	}
}
