package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/postgres"
)

// EnvImage names the environment variable that overrides the PostgreSQL
// image of the Docker backend.
const EnvImage = "ROLECD_TEST_PGIMAGE"

// defaultImage is the image the Docker backend runs unless EnvImage is set.
const defaultImage = "postgres:17-alpine"

// dockerProbeTimeout bounds the check whether a Docker engine answers.
const dockerProbeTimeout = 5 * time.Second

// containerPort is the server port inside the container.
const containerPort = "5432/tcp"

// backend is the way a cluster is run.
type backend int

const (
	// backendLocal runs the PostgreSQL binaries found by BinDir.
	backendLocal backend = iota
	// backendDocker runs a PostgreSQL container through testcontainers-go.
	backendDocker
)

// chooseBackend picks the local binaries when BinDir found them (binErr is
// nil), without asking Docker anything. Only when BinDir found none
// (ErrNoBinaries) does it ask dockerUp whether a Docker engine answers;
// when none does, the error names both ways to get a cluster. A bin
// directory that was named (EnvBinDir, Config.BinDir) but does not hold the
// programs is an error: a container would run another PostgreSQL version.
func chooseBackend(ctx context.Context, binErr error, dockerUp func(context.Context) error) (backend, error) {
	if binErr == nil {
		return backendLocal, nil
	}
	var nb noBinariesError
	if !errors.Is(binErr, ErrNoBinaries) || errors.As(binErr, &nb) && nb.explicit {
		return 0, binErr
	}
	dockerErr := dockerUp(ctx)
	if dockerErr == nil {
		return backendDocker, nil
	}
	return 0, &noBackendError{binErr: binErr, dockerErr: dockerErr}
}

// noBackendError says that neither PostgreSQL binaries nor a Docker engine
// were found. It matches ErrNoBinaries.
type noBackendError struct {
	binErr, dockerErr error
}

func (e *noBackendError) Error() string {
	msg := "no PostgreSQL binaries found and no Docker engine (set " + EnvBinDir + " or install postgresql)"
	// The bare sentinel would only repeat the message; a wrapped one has details.
	if e.binErr != ErrNoBinaries {
		msg += ": " + e.binErr.Error()
	}
	return msg + "; Docker: " + e.dockerErr.Error()
}

func (e *noBackendError) Unwrap() []error { return []error{e.binErr, e.dockerErr} }

// dockerEngineUp reports, within dockerProbeTimeout, whether a Docker
// engine answers testcontainers-go's provider health check.
func dockerEngineUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, dockerProbeTimeout)
	defer cancel()
	// Creating the provider does not take ctx; the channel lets a hung
	// attempt be abandoned when the timeout expires.
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("testcontainers-go panicked: %v", r)
			}
		}()
		provider, err := testcontainers.ProviderDefault.GetProvider()
		if err != nil {
			done <- err
			return
		}
		done <- provider.Health(ctx) // Health closes the provider
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer within %v: %w", dockerProbeTimeout, ctx.Err())
	}
}

// containerHandle is the part of a testcontainers-go container a Cluster uses.
type containerHandle interface {
	Terminate(ctx context.Context, opts ...testcontainers.TerminateOption) error
	Logs(ctx context.Context) (io.ReadCloser, error)
}

// startContainer starts a cluster in a container of EnvImage (default
// defaultImage) with a random superuser password, its port published on
// 127.0.0.1 only.
func startContainer(ctx context.Context, cfg Config) (*Cluster, error) {
	args, err := containerArgs(cfg)
	if err != nil {
		return nil, fmt.Errorf("configuring cluster: %w", err)
	}
	image := os.Getenv(EnvImage)
	if image == "" {
		image = defaultImage
	}
	password, err := randomHex(24)
	if err != nil {
		return nil, err
	}
	ctr, err := postgres.Run(ctx, image,
		postgres.WithUsername(superuser),
		postgres.WithPassword(password),
		postgres.WithDatabase("postgres"),
		testcontainers.WithCmdArgs(args...),
		testcontainers.WithHostConfigModifier(publishOnLoopback),
		postgres.BasicWaitStrategies(),
	)
	c := &Cluster{Host: "127.0.0.1", User: superuser, Password: password}
	if ctr != nil {
		c.ctr = ctr
	}
	if err == nil {
		err = c.startedContainer(ctx, ctr)
	}
	if err != nil {
		err = fmt.Errorf("starting %s container: %w", image, err)
		if c.ctr != nil {
			if stopErr := c.Stop(); stopErr != nil {
				err = errors.Join(err, stopErr)
			}
		}
		return nil, err
	}
	return c, nil
}

// startedContainer fills in the port and version of a started container.
func (c *Cluster) startedContainer(ctx context.Context, ctr *postgres.PostgresContainer) error {
	port, err := ctr.MappedPort(ctx, containerPort)
	if err != nil {
		return fmt.Errorf("reading mapped port: %w", err)
	}
	c.Port = int(port.Num())
	return c.readVersion(ctx)
}

// containerArgs turns the harness's server settings (those of the template
// that make sense in a container) and cfg.Settings, in name order and
// overriding the former, into postgres -c arguments.
func containerArgs(cfg Config) ([]string, error) {
	var args []string
	add := func(name, value string) error {
		if err := validSetting(name, value); err != nil {
			return err
		}
		args = append(args, "-c", name+"="+value)
		return nil
	}
	for _, s := range templateSettings {
		// Inside the container the server listens on its own network;
		// publishOnLoopback keeps the host side on 127.0.0.1.
		if s[0] == "listen_addresses" {
			continue
		}
		if err := add(s[0], s[1]); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(cfg.Settings))
	for name := range cfg.Settings {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := add(name, cfg.Settings[name]); err != nil {
			return nil, err
		}
	}
	return args, nil
}

// publishOnLoopback publishes the server port on a random port of
// 127.0.0.1 only.
func publishOnLoopback(hc *container.HostConfig) {
	hc.PortBindings = network.PortMap{
		network.MustParsePort(containerPort): {{HostIP: netip.AddrFrom4([4]byte{127, 0, 0, 1}), HostPort: "0"}},
	}
}

// stopContainer terminates and removes the container.
func (c *Cluster) stopContainer() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout*time.Second)
	defer cancel()
	if err := c.ctr.Terminate(ctx); err != nil {
		return fmt.Errorf("terminating cluster container on port %d: %w", c.Port, err)
	}
	return nil
}

// containerLog returns the container's output so far.
func (c *Cluster) containerLog() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	rc, err := c.ctr.Logs(ctx)
	if err != nil {
		return "", fmt.Errorf("reading server log: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return "", fmt.Errorf("reading server log: %w", err)
	}
	return string(b), nil
}
