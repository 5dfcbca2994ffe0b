package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rolecd/rolecd/internal/cluster"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

func now() time.Time { return time.Now().UTC() }

func newAdminCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Store admin credentials of resources (encrypted), after a connection test"}
	var resource, user string
	set := &cobra.Command{
		Use:   "set --resource R --user U  (password on stdin)",
		Short: "Store the admin credential of one resource",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return adminSetRun(cmd.Context(), g, resource, user, cmd.InOrStdin())
		},
	}
	set.Flags().StringVar(&resource, "resource", "", "resource name")
	set.Flags().StringVar(&user, "user", "", "admin user")
	_ = set.MarkFlagRequired("resource")
	_ = set.MarkFlagRequired("user")
	imp := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Store admin credentials from a CSV with columns name,admin_user,password (Hoop's format)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return adminImportRun(cmd.Context(), g, args[0])
		},
	}
	cmd.AddCommand(set, imp)
	return cmd
}

// storeAdmin tests the credential, then stores it encrypted and records a
// credential session. Nothing is stored when the test fails.
func storeAdmin(ctx context.Context, g *globals, st *state, res spec.Resource, user, password string) error {
	if user == "" || password == "" {
		return errors.New("admin user and password must not be empty")
	}
	d := cluster.Dialer{Getenv: g.getenv, Stored: func(context.Context, string) (string, string, bool, error) { return user, password, true, nil }}
	res.Admin.PasswordEnv, res.Admin.PasswordFile, res.Admin.PasswordCommand = "", "", ""
	version, err := d.Health(ctx, res)
	if err != nil {
		return fmt.Errorf("connection test failed, nothing stored: %w", err)
	}
	sealed, err := st.keeper.SealAdmin(res.Name, password)
	if err != nil {
		return err
	}
	if err := st.store.PutAdmin(ctx, store.AdminCredential{Resource: res.Name, User: user, Ciphertext: sealed, UpdatedAt: now()}); err != nil {
		return err
	}
	return st.record(ctx, &store.Session{Kind: store.KindCredential, Status: store.StatusOK, Resources: []string{res.Name},
		Detail: mustJSON(map[string]string{"action": "admin set", "resource": res.Name, "user": user, "server_version": version}), StartedAt: now(), FinishedAt: now()})
}

func adminSetRun(ctx context.Context, g *globals, resource, user string, stdin io.Reader) error {
	tree, cfg, _, err := g.loadTree()
	if err != nil {
		return err
	}
	res, ok := tree.Resource(resource)
	if !ok {
		return fmt.Errorf("unknown resource %q", resource)
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the password from stdin: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	st, err := g.openState(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.close()
	if err := storeAdmin(ctx, g, st, res, user, password); err != nil {
		return fmt.Errorf("resource %s: %w", resource, err)
	}
	fmt.Fprintf(g.stdout, "resource %s: admin credential for %q stored\n", resource, user)
	return nil
}

func adminImportRun(ctx context.Context, g *globals, path string) error {
	tree, cfg, _, err := g.loadTree()
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("%s:1: reading header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, want := range []string{"name", "admin_user", "password"} {
		if _, ok := col[want]; !ok {
			return fmt.Errorf("%s:1: missing column %q (want name,admin_user,password)", path, want)
		}
	}
	st, err := g.openState(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.close()
	stored, failed := 0, 0
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			fmt.Fprintf(g.stderr, "%s: %v\n", path, err)
			failed++
			if _, ok := err.(*csv.ParseError); ok {
				break // the rest of the file cannot be trusted
			}
			continue
		}
		get := func(k string) string {
			if i := col[k]; i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		name := get("name")
		res, ok := tree.Resource(name)
		if !ok {
			fmt.Fprintf(g.stderr, "%s:%d: unknown resource %q\n", path, line, name)
			failed++
			continue
		}
		if err := storeAdmin(ctx, g, st, res, get("admin_user"), get("password")); err != nil {
			fmt.Fprintf(g.stderr, "%s:%d: resource %s: %v\n", path, line, name, err)
			failed++
			continue
		}
		fmt.Fprintf(g.stdout, "%s:%d: resource %s: admin credential stored\n", path, line, name)
		stored++
	}
	if failed > 0 {
		return &exitError{exitError1, fmt.Sprintf("%s: %d stored, %d failed", path, stored, failed)}
	}
	return nil
}
