package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strings"
)

// serverOSUser is the account test/pgtest runs PostgreSQL as when root.
const serverOSUser = "postgres"

// ensureServerUser creates the postgres system account when running as
// root and it does not exist: PostgreSQL refuses to run as root, and the
// harness runs it as that account.
func ensureServerUser(ctx context.Context, log io.Writer) error {
	if os.Geteuid() != 0 {
		return nil
	}
	_, err := user.Lookup(serverOSUser)
	if err == nil {
		return nil
	}
	var unknown user.UnknownUserError
	if !errors.As(err, &unknown) {
		return fmt.Errorf("looking up the %s OS user: %w", serverOSUser, err)
	}
	fmt.Fprintf(log, "pgmatrix: creating the %s system user (PostgreSQL does not run as root)\n", serverOSUser)
	cmd := exec.CommandContext(ctx, "useradd", "--system", "--user-group", "--no-create-home",
		"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", serverOSUser)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("creating the %s OS user: %w: %s", serverOSUser, err, strings.TrimSpace(string(out)))
	}
	return nil
}
