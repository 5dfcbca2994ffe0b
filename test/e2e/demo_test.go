//go:build unix

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rolecd/rolecd/test/pgtest"
)

// The ports `make demo` gives pgrun (and roles.example names), and the
// demo hub's API listener port.
const demoPort1, demoPort2, demoHubPort = "54329", "54330", "8081"

// copyTree copies the files under src (relative to the repository root
// root) into dst, replacing each old string of replace by its new one.
func copyTree(t *testing.T, root, src, dst string, replace *strings.Replacer) {
	t.Helper()
	err := filepath.WalkDir(filepath.Join(root, src), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), []byte(replace.Replace(string(data))), info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

// freeTCPPort returns a port nothing listens on at the moment.
func freeTCPPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// `make demo` still works: demo/run.sh runs to the end (exit 0) against two
// throwaway clusters, as under pgrun, with a freshly built rolecd. It runs
// in a copy of demo/ and roles.example/ in a temporary directory (the
// script works relative to its own directory), where the fixed ports of
// `make demo` are replaced by free ones, so nothing is written to the
// repository and nothing collides with other processes; stdin is not a
// terminal, so the hub does not wait for Enter.
func TestDemo(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(root, "demo", "run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range []string{demoPort1, demoPort2, demoHubPort} {
		if !bytes.Contains(script, []byte(port)) {
			t.Fatalf("demo/run.sh no longer uses port %s; update this test", port)
		}
	}

	c1, c2 := pgtest.Start(t), pgtest.Start(t)
	if c1.User != c2.User || c1.Password != c2.Password {
		t.Fatal("pgtest: the two clusters do not share a superuser and password (pgrun relies on it)")
	}
	hubPort := freeTCPPort(t)
	replace := strings.NewReplacer(demoPort1, strconv.Itoa(c1.Port), demoPort2, strconv.Itoa(c2.Port), demoHubPort, hubPort)

	dir := t.TempDir()
	copyTree(t, root, "demo", dir, replace)
	copyTree(t, root, "roles.example", dir, replace)
	if res, err := os.ReadFile(filepath.Join(dir, "roles.example", "resources.yaml")); err != nil || !bytes.Contains(res, []byte("port: "+strconv.Itoa(c2.Port))) {
		t.Fatalf("roles.example/resources.yaml no longer names port %s; update this test (%v)", demoPort2, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-buildvcs=false", "-o", filepath.Join(dir, "bin", "rolecd"), "./cmd/rolecd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building rolecd: %v\n%s", err, out)
	}

	cmd := exec.CommandContext(ctx, "bash", filepath.Join(dir, "demo", "run.sh"))
	cmd.Dir = dir
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ROLECD_") && !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	path := os.Getenv("PATH")
	if c1.BinDir != "" {
		path = c1.BinDir + string(os.PathListSeparator) + path // psql of the clusters' version
	}
	home := t.TempDir()
	cmd.Env = append(env,
		"PATH="+path, "HOME="+home,
		"PGHOST="+c1.Host, "PGPORT="+strconv.Itoa(c1.Port), "PGUSER="+c1.User, "PGPASSWORD="+c1.Password,
		"PGDATABASE=postgres", "PGSSLMODE=disable", fmt.Sprintf("PGPORTS=%d %d", c1.Port, c2.Port),
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out // stdin: /dev/null, not a terminal
	// The script starts the daemon in the background: on a timeout, kill the
	// whole process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	text := out.String()
	if err != nil {
		t.Fatalf("demo/run.sh: %v\n%s", err, text)
	}

	// After each step, the exit code it was expected to have.
	for _, step := range []struct{ cmd, exit string }{
		{"rolecd validate demo/broken", "(exit 1)"},
		{"rolecd --repo roles.example apply -f .demo/auditor.json", "(exit 3)"}, // refused: changed since review
		{"rolecd --repo roles.example apply -f .demo/fix.json", "(exit 0)"},
	} {
		_, after, ok := strings.Cut(text, step.cmd)
		if !ok {
			t.Errorf("the demo output has no step %q:\n%s", step.cmd, text)
			continue
		}
		if i := strings.Index(after, "(exit "); i < 0 || !strings.HasPrefix(after[i:], step.exit) {
			t.Errorf("step %q: want %s:\n%s", step.cmd, step.exit, text)
		}
	}
	for _, want := range []string{
		"rolecd comment on pull request #1 (plan)", // the daemon plans the pull request
		"status rolecd/plan of ",
		"### rolecd apply: applied", // and applies it once merged
		"4 roles: 0 to change (0 statements), 4 in sync.",
		"open http://127.0.0.1:" + hubPort + "/hub/login/token?token=",
		"demo: done.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the demo output has no %q:\n%s", want, text)
		}
	}
}
