package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

func newCredsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "creds", Short: "Read the generated credentials of a role"}
	get := &cobra.Command{
		Use:   "get ROLE_NAME",
		Short: "Print host, port, user, password and a connection URI of a rolecd role",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return credsGetRun(cmd.Context(), g, args[0])
		},
	}
	cmd.AddCommand(get)
	return cmd
}

type credsOutput struct {
	Role     string `json:"role"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	User     string `json:"user"`
	Password string `json:"password"`
	Database string `json:"database"`
	URI      string `json:"uri"`
}

// pickCredential returns the active version, and says so when a newer
// pending one exists (an apply that died between storing a password and
// confirming it).
func pickCredential(versions []store.Credential) (store.Credential, string, error) {
	for _, c := range versions {
		if c.State == store.CredentialActive {
			if versions[0].Version > c.Version && versions[0].State == store.CredentialPending {
				return c, fmt.Sprintf("a newer password (version %d) is pending from an interrupted apply; run rolecd plan to check the role", versions[0].Version), nil
			}
			return c, "", nil
		}
	}
	if len(versions) > 0 && versions[0].State == store.CredentialPending {
		return versions[0], "this password is pending: the apply that set it did not confirm it; run rolecd plan to check the role", nil
	}
	return store.Credential{}, "", store.ErrNotFound
}

func credsGetRun(ctx context.Context, g *globals, name string) error {
	st, err := g.configState(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	versions, err := st.store.Credentials(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	cred, warning, err := pickCredential(versions)
	if err != nil {
		return fmt.Errorf("no stored password for role %q (rolecd stores one when it creates a role or rotates its password)", name)
	}
	if warning != "" {
		log := g.logger()
		log.Warn().Str("role", name).Msg(warning)
	}
	if cred.Host == "" {
		// Stored before rolecd recorded where a credential logs in: only
		// the role files can tell.
		if err := endpointFromTree(g, &cred); err != nil {
			return err
		}
	}
	pw, err := st.keeper.OpenRole(name, cred.Ciphertext)
	if err != nil {
		return fmt.Errorf("decrypting the password of %q: %w", name, err)
	}
	out := credsOutput{Role: name, Host: cred.Host, Port: cred.Port, User: name, Password: pw, Database: cred.Database}
	u := url.URL{Scheme: "postgresql", User: url.UserPassword(name, out.Password), Host: net.JoinHostPort(cred.Host, strconv.Itoa(cred.Port)), Path: "/" + out.Database}
	if cred.SSLMode != "" {
		u.RawQuery = url.Values{"sslmode": {cred.SSLMode}}.Encode()
	}
	out.URI = u.String()
	if err := st.record(ctx, &store.Session{Kind: store.KindCredential, Status: store.StatusOK, Resources: []string{cred.Resource}, Roles: []string{name},
		Detail: mustJSON(map[string]any{"action": "creds get", "role": name, "version": cred.Version}), StartedAt: now(), FinishedAt: now()}); err != nil {
		return err
	}
	if g.output == "json" {
		return writeJSON(g.stdout, out)
	}
	fmt.Fprintf(g.stdout, "role:     %s\nhost:     %s\nport:     %d\nuser:     %s\npassword: %s\ndatabase: %s\nuri:      %s\n",
		out.Role, out.Host, out.Port, out.User, out.Password, out.Database, out.URI)
	return nil
}

// endpointFromTree fills the host, port, database and sslmode of a
// credential stored before they were stored with it, from the role files.
func endpointFromTree(g *globals, cred *store.Credential) error {
	tree, _, dir, err := g.loadTree()
	if err != nil {
		return fmt.Errorf("the stored password of %q predates rolecd storing where it logs in, so the role files must tell: %w", cred.RoleName, err)
	}
	res, ok := tree.Resource(cred.Resource)
	if !ok {
		return fmt.Errorf("role %q belongs to resource %q, which is not in the role files at %s (its password predates rolecd storing where it logs in)", cred.RoleName, cred.Resource, dir)
	}
	cred.Host, cred.Port, cred.SSLMode = res.Host, res.Port, res.SSLMode
	cred.Database = roleDatabase(tree, res, cred.RoleName)
	return nil
}

// roleDatabase is the first scope database of the declared role, else the
// resource's maintenance database.
func roleDatabase(tree *spec.Tree, res spec.Resource, name string) string {
	for _, r := range tree.Roles {
		if r.Name == name {
			return r.LoginDatabase(res)
		}
	}
	return res.Database
}
