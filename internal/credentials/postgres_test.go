package credentials

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rolecd/rolecd/test/pgtest"
)

// quoteLiteral quotes a SQL string literal (standard_conforming_strings on).
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func rolPassword(t *testing.T, conn *pgx.Conn, role string) string {
	t.Helper()
	var v string
	if err := conn.QueryRow(context.Background(),
		"SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&v); err != nil {
		t.Fatalf("reading verifier of %s: %v", role, err)
	}
	return v
}

// TestPostgreSQL checks the verifiers against a real server: the server's
// own verifiers verify here, and ours let a role log in over SCRAM without
// the plaintext reaching the server log.
func TestPostgreSQL(t *testing.T) {
	c := pgtest.Start(t, pgtest.Config{Settings: map[string]string{"log_statement": "all"}})
	admin := c.Connect(t, "postgres")
	ctx := context.Background()

	t.Run("server verifiers", func(t *testing.T) {
		passwords := map[string]string{
			"ascii":          "pw",
			"generated":      mustPassword(t),
			"quote":          `it's "quoted" \ back`,
			"latin":          "p\u00e4ssw\u00f6rd",
			"nfkc ligature":  "\ufb01nance",
			"decomposed":     "A\u030angstr\u00f6m",
			"no-break space": "pass\u00a0word",
			"soft hyphen":    "pass\u00adword",
			"hebrew":         "\u05e9\u05dc\u05d5\u05dd",
			"mixed bidi raw": "\u05e9x\u05dd",
			"private use":    "\ufb01\ue000",
		}
		for name, pw := range passwords {
			role := "srv_" + strings.ReplaceAll(name, " ", "_")
			for _, enc := range []string{"scram-sha-256", "md5"} {
				t.Run(name+"/"+enc, func(t *testing.T) {
					role := role + "_" + enc[:3]
					if _, err := admin.Exec(ctx, "SET password_encryption = "+quoteLiteral(enc)); err != nil {
						t.Fatal(err)
					}
					if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+
						" LOGIN PASSWORD "+quoteLiteral(pw)); err != nil {
						t.Fatal(err)
					}
					v := rolPassword(t, admin, role)
					if want := map[string]string{"scram-sha-256": "SCRAM-SHA-256$", "md5": "md5"}[enc]; !strings.HasPrefix(v, want) {
						t.Fatalf("server stored a %.14q verifier, want %s", v, want)
					}
					if ok, err := VerifyPassword(v, role, pw); err != nil || !ok {
						t.Errorf("VerifyPassword(server verifier, right password) = %v, %v", ok, err)
					}
					for _, wrong := range []string{pw + "x", strings.ToUpper(pw), ""} {
						if wrong == pw {
							continue
						}
						if ok, err := VerifyPassword(v, role, wrong); err != nil || ok {
							t.Errorf("VerifyPassword(server verifier, %+q) = %v, %v; want false", wrong, ok, err)
						}
					}
				})
			}
		}
	})

	t.Run("login with our verifier", func(t *testing.T) {
		for _, tc := range []struct{ role, password string }{
			{"ours_generated", mustPassword(t)},
			{"ours_latin", "p\u00e4ssw\u00f6rd-" + mustPassword(t)},
		} {
			verifier, err := SCRAMVerifier(tc.password)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{tc.role}.Sanitize()+
				" LOGIN PASSWORD "+quoteLiteral(verifier)); err != nil {
				t.Fatal(err)
			}
			if got := rolPassword(t, admin, tc.role); got != verifier {
				t.Fatalf("server stored %q, want our verifier unchanged", got)
			}
			if err := login(c, tc.role, tc.password); err != nil {
				t.Errorf("%s cannot log in with its password: %v", tc.role, err)
			}
			if err := login(c, tc.role, tc.password+"x"); err == nil {
				t.Errorf("%s logged in with a wrong password", tc.role)
			}
			log, err := c.ServerLog()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log, verifier) {
				t.Fatal("server log lacks the CREATE ROLE statement: is log_statement=all in effect?")
			}
			if strings.Contains(log, tc.password) {
				t.Errorf("server log contains the plaintext password of %s", tc.role)
			}
		}
	})
}

// login connects as role over TCP with password authentication.
func login(c *pgtest.Cluster, role, password string) error {
	cfg, err := pgx.ParseConfig(c.ConnString("postgres"))
	if err != nil {
		return err
	}
	cfg.User, cfg.Password = role, password
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	var user string
	err = conn.QueryRow(ctx, "SELECT current_user").Scan(&user)
	_ = conn.Close(ctx)
	if err == nil && user != role {
		err = fmt.Errorf("logged in as %s", user)
	}
	return err
}
