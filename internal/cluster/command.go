package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rolecd/rolecd/planner/spec"
)

// DefaultCommandTimeout bounds a password command that sets no timeout.
const DefaultCommandTimeout = 10 * time.Second

// maxCommandOutput bounds what a password command may print (IAM tokens
// are a few KB).
const maxCommandOutput = 64 << 10

// commandWaitDelay is how long a timed-out command's pipes may stay open
// (held by its children) after it is killed.
const commandWaitDelay = time.Second

// Command is an operator-configured program that prints an admin password
// or short-lived token on stdout (rolecd.yaml credentials.commands). Argv
// may contain {host}, {port}, {user}, {database} and {resource}.
type Command struct {
	Argv    []string
	Timeout time.Duration // default DefaultCommandTimeout
}

// CommandCache keeps what password commands printed for a short while, so
// one plan or apply (a connection per database) runs each command once,
// not once per connection. Entries are keyed by the command's expanded
// argv and live in memory only.
type CommandCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]cachedPassword
}

type cachedPassword struct {
	password string
	expires  time.Time
}

// NewCommandCache returns a cache whose entries last ttl: keep it well
// below the lifetime of the tokens the commands print (RDS IAM tokens last
// 15 minutes).
func NewCommandCache(ttl time.Duration) *CommandCache {
	return &CommandCache{ttl: ttl, now: time.Now, entries: map[string]cachedPassword{}}
}

func (c *CommandCache) get(key string) (string, bool) {
	if c == nil {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !c.now().Before(e.expires) {
		delete(c.entries, key)
		return "", false
	}
	return e.password, true
}

func (c *CommandCache) put(key, password string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[key] = cachedPassword{password: password, expires: c.now().Add(c.ttl)}
}

// expand replaces the placeholders of argv with res's values, one argument
// each. A value that starts with "-" is refused: it would read as an option.
func expand(argv []string, res spec.Resource, database string) ([]string, error) {
	values := map[string]string{
		"{host}": res.Host, "{port}": strconv.Itoa(res.Port), "{user}": res.Admin.User,
		"{database}": database, "{resource}": res.Name,
	}
	out := make([]string, len(argv))
	for i, a := range argv {
		for ph, v := range values {
			if !strings.Contains(a, ph) {
				continue
			}
			if strings.HasPrefix(v, "-") {
				return nil, fmt.Errorf("the value of %s starts with \"-\"", ph)
			}
			a = strings.ReplaceAll(a, ph, v)
		}
		out[i] = a
	}
	return out, nil
}

// limitedBuffer keeps at most max bytes and remembers that more came.
type limitedBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); len(p) > room {
		b.overflow = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

// runCommand runs the password command name for res, without a shell,
// and returns its stdout without the trailing newline. Its output (stdout
// and stderr) never appears in an error or a log; rolecd's own variables
// are removed from its environment.
func (d Dialer) runCommand(ctx context.Context, res spec.Resource, database, name string) (string, error) {
	fail := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("resource %s: admin password command %q: %s", res.Name, name, fmt.Sprintf(format, args...))
	}
	cmd, ok := d.Commands[name]
	if !ok {
		return fail("not configured in credentials.commands")
	}
	if len(cmd.Argv) == 0 || cmd.Argv[0] == "" {
		return fail("empty argv")
	}
	argv, err := expand(cmd.Argv, res, database)
	if err != nil {
		return fail("%v", err)
	}
	key := name + "\x00" + strings.Join(argv, "\x00")
	if pw, ok := d.CommandCache.get(key); ok {
		return pw, nil
	}
	timeout := cmd.Timeout
	if timeout <= 0 {
		timeout = DefaultCommandTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Env = d.commandEnv()
	c.Stdin = nil
	out := &limitedBuffer{max: maxCommandOutput}
	c.Stdout = out
	c.Stderr = nil // discarded: it may echo the token
	c.WaitDelay = commandWaitDelay
	err = c.Run()
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fail("did not finish within %s (its output is not shown)", timeout)
	case errors.As(err, &exitErr):
		return fail("%s (its output is not shown; run %s by hand to see it)", exitErr.ProcessState.String(), argv[0])
	case errors.Is(err, exec.ErrNotFound):
		return fail("program %q not found", argv[0])
	case err != nil:
		return fail("running %s failed", argv[0]) // never err: an I/O error could quote output
	case out.overflow:
		return fail("printed more than %d bytes", maxCommandOutput)
	}
	pw := strings.TrimRight(out.buf.String(), "\r\n")
	if pw == "" {
		return fail("printed nothing")
	}
	if strings.ContainsAny(pw, "\r\n") {
		return fail("printed more than one line")
	}
	d.CommandCache.put(key, pw)
	return pw, nil
}

// commandEnv is the process environment without rolecd's own variables.
func (d Dialer) commandEnv() []string {
	environ := d.Environ
	if environ == nil {
		environ = os.Environ
	}
	var reserved []string
	if d.Policy != nil {
		reserved = d.Policy.Reserved
	}
	var out []string
	for _, kv := range environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, spec.ReservedEnvPrefix) || slices.Contains(reserved, name) {
			continue
		}
		out = append(out, kv)
	}
	return out
}
