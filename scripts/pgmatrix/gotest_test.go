package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rolecd/rolecd/internal/golden"
)

func TestSelectPostgresPackages(t *testing.T) {
	t.Parallel()
	const m = "github.com/rolecd/rolecd/"
	list := strings.Join([]string{
		"|" + m + "planner/spec|fmt strings",
		m + "planner/spec|" + m + "planner/spec [" + m + "planner/spec.test]|fmt testing",
		"|" + pgtestPackage + "|context os",
		pgtestPackage + "|" + pgtestPackage + " [" + pgtestPackage + ".test]|context testing",
		m + "store|" + m + "store_test [" + m + "store.test]|" + m + "store/storetest " + pgtestPackage + " testing",
		m + "store|" + m + "store [" + m + "store.test]|testing",
		m + "store|" + m + "store.test|testing " + pgtestPackage,
		m + "planner|" + m + "planner [" + m + "planner.test]|" + pgtestPackage + "x testing", // only a name alike
		"",
	}, "\n")
	got := selectPostgresPackages(list)
	want := []string{m + "store", pgtestPackage}
	if !slices.Equal(got, want) {
		t.Errorf("selectPostgresPackages = %v, want %v", got, want)
	}
}

func TestPostgresPackagesOfThisModule(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := moduleDir(ctx, "go")
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := goTool{Go: "go", Dir: dir}.postgresPackages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const m = "github.com/rolecd/rolecd/"
	for _, want := range []string{pgtestPackage, m + "store", m + "test/e2e", m + "planner/catalog"} {
		if !slices.Contains(pkgs, want) {
			t.Errorf("%s missing from %v", want, pkgs)
		}
	}
	for _, not := range []string{m + "planner/spec", m + "scripts/pgmatrix"} {
		if slices.Contains(pkgs, not) {
			t.Errorf("%s, which does not use PostgreSQL, in %v", not, pkgs)
		}
	}
}

func TestReadEvents(t *testing.T) {
	t.Parallel()
	stream := strings.Join([]string{
		`{"Action":"start","Package":"m/a"}`,
		`{"Action":"run","Package":"m/a","Test":"TestOK"}`,
		`{"Action":"output","Package":"m/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
		`{"Action":"pass","Package":"m/a","Test":"TestOK","Elapsed":0.1}`,
		`{"Action":"output","Package":"m/a","Test":"TestParent/sub","Output":"    a_test.go:9: want 1, got 2\n"}`,
		`{"Action":"fail","Package":"m/a","Test":"TestParent/sub","Elapsed":0}`,
		`{"Action":"pass","Package":"m/a","Test":"TestParent/other","Elapsed":0}`,
		`{"Action":"fail","Package":"m/a","Test":"TestParent","Elapsed":0.2}`,
		`{"Action":"fail","Package":"m/a","Test":"TestFlat","Elapsed":0.2}`,
		`{"Action":"fail","Package":"m/a","Elapsed":1.5}`,
		`{"Action":"pass","Package":"m/b","Elapsed":2}`,
		`{"ImportPath":"m/c","Action":"build-output","Output":"c.go:1:1: syntax error\n"}`,
		`{"ImportPath":"m/c","Action":"build-fail"}`,
		`{"Action":"fail","Package":"m/c","Elapsed":0,"FailedBuild":"m/c"}`,
		`{"Action":"output","Package":"m/d","Output":"panic: boom\n"}`,
		`{"Action":"fail","Package":"m/d","Elapsed":0.3}`,
		`FAIL	m/e [setup failed]`,
	}, "\n") + "\n"
	var log, progress bytes.Buffer
	o := readEvents(strings.NewReader(stream), &log, &progress)
	if o.Passed != 1 || o.Failed != 2 {
		t.Errorf("passed %d, failed %d; want 1, 2", o.Passed, o.Failed)
	}
	if want := []string{"m/a TestFlat", "m/a TestParent/sub"}; !slices.Equal(o.FailedTests, want) {
		t.Errorf("failed tests %v, want %v", o.FailedTests, want)
	}
	wantPkgs := []string{"m/c: build failed (m/c)", "m/d: failed without a failing test (panic, timeout or setup)"}
	if !slices.Equal(o.FailedPkgs, wantPkgs) {
		t.Errorf("failed packages %q, want %q", o.FailedPkgs, wantPkgs)
	}
	if o.OK() {
		t.Error("outcome OK")
	}
	for _, want := range []string{"=== RUN   TestOK\n", "want 1, got 2", "c.go:1:1: syntax error", "panic: boom", "FAIL\tm/e [setup failed]\n"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	wantProgress := "    FAIL m/a (1.5s)\n    ok   m/b (2.0s)\n    FAIL m/c (0.0s)\n    FAIL m/d (0.3s)\n"
	if progress.String() != wantProgress {
		t.Errorf("progress:\n%s\nwant:\n%s", progress.String(), wantProgress)
	}
}

// TestGoTestRun runs the real go test on a small module of its own.
func TestGoTestRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":    "module example.com/m\n\ngo 1.26\n",
		"m.go":      "package m\n",
		"m_test.go": "package m\n\nimport (\n\t\"os\"\n\t\"testing\"\n)\n\nfunc TestPass(t *testing.T) {}\n\nfunc TestEnv(t *testing.T) {\n\tif os.Getenv(\"PGMATRIX_TEST\") != \"yes\" {\n\t\tt.Error(\"environment not passed\")\n\t}\n}\n\nfunc TestSub(t *testing.T) {\n\tt.Run(\"bad\", func(t *testing.T) { t.Error(\"bad-marker\") })\n}\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	gt := goTool{Go: "go", Dir: dir}
	var log, progress bytes.Buffer
	run := func(env ...string) outcome {
		log.Reset()
		progress.Reset()
		return gt.test(ctx, goTestRun{Args: []string{"-count=1", "./..."}, Env: append(env, "GOFLAGS=-mod=mod"), Log: &log, Progress: &progress})
	}

	o := run("PGMATRIX_TEST=yes")
	if o.Passed != 2 || o.Failed != 1 || !slices.Equal(o.FailedTests, []string{"example.com/m TestSub/bad"}) || o.Err == nil {
		t.Errorf("outcome %+v, want 2 passed and TestSub/bad failed with an exit error", o)
	}
	if !strings.Contains(log.String(), "bad-marker") || !strings.Contains(progress.String(), "FAIL example.com/m") {
		t.Errorf("log:\n%s\nprogress:\n%s", log.String(), progress.String())
	}

	o = run()
	if want := []string{"example.com/m TestEnv", "example.com/m TestSub/bad"}; !slices.Equal(o.FailedTests, want) {
		t.Errorf("without the environment: failed %v, want %v", o.FailedTests, want)
	}

	if err := os.WriteFile(filepath.Join(dir, "m.go"), []byte("package m\n\nfunc broken() { undefined() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o = run("PGMATRIX_TEST=yes")
	if o.OK() || len(o.FailedPkgs) != 1 || !strings.Contains(o.FailedPkgs[0], "build failed") || !strings.Contains(log.String(), "undefined") {
		t.Errorf("build failure: %+v\nlog:\n%s", o, log.String())
	}
}

func TestSummary(t *testing.T) {
	t.Parallel()
	results := []result{
		{Label: "14", Server: "14.23", Package: "14.23.0-beta.17", Outcome: outcome{Passed: 68}, Duration: 31 * time.Second, Log: "/logs/pg14.log"},
		{Label: "15", Server: "15.18", Package: "15.18.0-beta.17", Outcome: outcome{
			Passed: 66, Failed: 2,
			FailedTests: []string{"m/store TestPostgres/ConcurrentFirstOpen", "m/test/e2e TestConverges/pg15"},
			Err:         errors.New("go test: exit status 1"),
		}, Duration: 95*time.Second + 400*time.Millisecond, Log: "/logs/pg15.log"},
		{Label: "16", Server: "16.14", Package: "16.14.0-beta.17", Outcome: outcome{
			Passed: 40, FailedPkgs: []string{"m/planner/catalog: build failed (m/planner/catalog)"},
			Err: errors.New("go test: exit status 1"),
		}, Duration: 22 * time.Second, Log: "/logs/pg16.log"},
		{Label: "17", Package: "17.10.0-beta.17", SetupErr: errors.New("npm pack: E404"), Duration: 2 * time.Second},
		{Label: "18", Server: "18.4", Package: "18.4.0-beta.17", Outcome: outcome{Err: errors.New("go test: signal: killed")}, Duration: 20 * time.Minute, Log: "/logs/pg18.log"},
		{Label: "all", Server: "4 at once", Package: "TestVersionsCoexist", Outcome: outcome{Passed: 1}, Duration: 4 * time.Second},
	}
	var b bytes.Buffer
	writeSummary(&b, results)
	golden.Assert(t, "summary_failures.golden", b.Bytes())

	b.Reset()
	writeSummary(&b, results[:1])
	golden.Assert(t, "summary_pass.golden", b.Bytes())
}
