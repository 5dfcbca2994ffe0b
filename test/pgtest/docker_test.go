package pgtest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rolecd/rolecd/test/pgtest"
)

// TestStartClusterWithoutBinaries runs StartCluster with no usable bin
// directory and the machine's real Docker check. Without a Docker engine the
// error must name both ways to get a cluster; with one, the container
// cluster must work like a local one.
func TestStartClusterWithoutBinaries(t *testing.T) {
	t.Setenv(pgtest.EnvBinDir, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := pgtest.StartCluster(ctx, pgtest.Config{Settings: map[string]string{"log_statement": "all"}})
	if err != nil {
		t.Logf("no Docker engine: %v", err)
		for _, want := range []string{"no PostgreSQL binaries found", "no Docker engine", "set " + pgtest.EnvBinDir, "install postgresql"} {
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
