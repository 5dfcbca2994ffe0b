package applier

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

// lockTimeout bounds how long one statement waits for a lock held by
// someone else (a long transaction on a table being granted).
const lockTimeout = "30s"

// cluster is the state of one resource's apply: its connections and the
// live snapshot, kept current after every committed transaction.
type cluster struct {
	res   spec.Resource
	conns map[string]*pgx.Conn
	snap  *catalog.Snapshot
	opts  catalog.Options
}

func (a *applier) conn(ctx context.Context, c *cluster, db string) (*pgx.Conn, error) {
	if conn, ok := c.conns[db]; ok {
		return conn, nil
	}
	conn, err := a.opts.Connect(ctx, c.res, db)
	if err != nil {
		return nil, err
	}
	c.conns[db] = conn
	return conn, nil
}

func (c *cluster) close(ctx context.Context) {
	for db, conn := range c.conns {
		if db != c.res.Database { // the maintenance connection holds the lock; its owner closes it
			conn.Close(context.WithoutCancel(ctx))
		}
	}
}

// specRole rebuilds the declared role from the plan's config, so apply
// re-plans exactly what was reviewed.
func specRole(resource string, c planner.Config) (spec.Role, error) {
	r := spec.Role{Resource: resource, Type: spec.Type(c.Type), Label: c.Label, Name: c.RoleName,
		Privileges: c.Privileges, SourceRole: c.SourceRole, RotatePassword: c.RotatePassword,
		Functions: c.Functions, ConnectionLimit: c.ConnectionLimit, ValidUntil: c.ValidUntil, Options: c.Options}
	if r.Type == "" {
		r.Type = spec.Managed
	}
	for _, s := range c.Scopes {
		sc, err := spec.ParseScope(s)
		if err != nil {
			return r, fmt.Errorf("scope %q: %w", s, err)
		}
		r.Scopes = append(r.Scopes, sc)
	}
	return r, nil
}

func hasPassword(stmts []string) bool {
	return slices.ContainsFunc(stmts, func(s string) bool { return strings.Contains(s, planner.PasswordPlaceholder) })
}

// role applies one role's plan, database by database.
func (a *applier) role(ctx context.Context, planSID string, c *cluster, r planner.RolePlan) RoleReport {
	name := r.Config.RoleName
	rr := RoleReport{RoleName: name, Label: r.Config.Label}
	if !r.CurrentState.RequiresMigration {
		rr.Status, rr.Reason = RoleSkipped, "in sync at plan time"
		return rr
	}
	if got := planner.Checksum(c.res.Name, name, r.SQLPlan); got != r.Checksum {
		rr.Status, rr.Reason = RoleRefused, "the plan document's checksum does not match its SQL: it was edited after planning"
		return rr
	}
	role, err := specRole(c.res.Name, r.Config)
	if err != nil {
		rr.Status, rr.Reason = RoleFailed, "invalid role config in the plan: "+err.Error()
		return rr
	}
	remaining := maps.Clone(r.SQLPlan)
	// A password set by ALTER ROLE without rotate_password was a reset the
	// plan decided on; the re-plan must decide the same.
	var resets map[string]string
	if !role.RotatePassword && slices.ContainsFunc(r.SQLPlan[c.res.Database], func(s string) bool {
		return strings.HasPrefix(s, "ALTER ROLE ") && strings.Contains(s, planner.PasswordPlaceholder)
	}) {
		resets = map[string]string{name: "planned"}
	}
	var verifier string
	version := 0
	if hasPassword(r.SQLPlan[c.res.Database]) {
		v, ciphertext, err := a.opts.Secrets.NewPassword(name)
		if err != nil {
			rr.Status, rr.Reason = RoleFailed, "generating the password: "+err.Error()
			return rr
		}
		// Stored before PostgreSQL ever sees the verifier: never lost.
		version, err = a.opts.Store.PutPendingCredential(ctx, store.Credential{RoleName: name, Resource: c.res.Name, Ciphertext: ciphertext,
			Host: c.res.Host, Port: c.res.Port, Database: role.LoginDatabase(c.res), SSLMode: c.res.SSLMode})
		if err != nil {
			rr.Status, rr.Reason = RoleFailed, "storing the password: "+err.Error()
			return rr
		}
		verifier = v
	}
	// A removal's SQL does not shrink as it runs (it depends on the role
	// and the databases only): every transaction re-plans the whole
	// removal and compares it with the reviewed one.
	replan := planner.Input{Resource: c.res, Roles: []spec.Role{role}, PasswordResets: resets, Only: name}
	removal := planner.IsRemoval(r.SQLPlan, c.res.Database)
	if removal || r.CurrentState.Remove {
		replan = planner.Input{Resource: c.res, Only: name}
	}
	steps := planner.ApplySteps(r.SQLPlan, c.res.Database)
	applied := 0
	for i, step := range steps {
		expect := remaining
		if removal {
			expect = r.SQLPlan
		}
		stmts, err := a.database(ctx, c, replan, step, expect, verifier)
		rr.Statements = append(rr.Statements, stmts...)
		a.record(ctx, c.res.Name, name, stmts)
		if err != nil {
			var later []StatementReport
			notRun := steps[i+1:]
			if len(stmts) == 0 { // refused or failed before any statement of the step ran
				notRun = steps[i:]
			}
			for _, rest := range notRun {
				for _, s := range rest.Statements {
					later = append(later, StatementReport{Database: rest.Database, SQL: s, Outcome: "skipped"})
				}
			}
			rr.Statements = append(rr.Statements, later...)
			a.record(ctx, c.res.Name, name, later)
			rr.Status, rr.Reason = RoleFailed, err.Error()
			if errors.Is(err, ErrDrifted) {
				rr.Status = RoleRefused
				rr.Reason = fmt.Sprintf("%s %s", ErrDrifted, planSID)
				if applied > 0 {
					rr.Reason += fmt.Sprintf(" (found at database %q, after %d database(s) were applied)", step.Database, applied)
				}
			}
			return rr
		}
		if len(stmts) == 0 {
			// The re-plan found nothing left to do: another apply did it.
			rr.Status, rr.Reason = RoleSkipped, "already in sync (applied concurrently)"
			if applied > 0 {
				rr.Status, rr.Reason = RoleApplied, ""
			}
			return rr
		}
		applied++
		delete(remaining, step.Database)
		if hasPassword(step.Statements) && !removal {
			// The password is set: later re-plans must not ask for it again.
			replan.PasswordResets = nil
			if len(replan.Roles) == 1 {
				replan.Roles[0].RotatePassword = false
			}
		}
		if step.Database == c.res.Database && version > 0 {
			if err := a.opts.Store.ActivateCredential(context.WithoutCancel(ctx), name, version); err != nil {
				a.opts.Log.Error().Err(err).Str("role", name).Msg("activating the stored password (it stays pending; creds get still finds it)")
			}
		}
	}
	rr.Status = RoleApplied
	if removal {
		// The role is gone: so are its passwords.
		if err := a.opts.Store.DeleteCredentials(context.WithoutCancel(ctx), name); err != nil && !errors.Is(err, store.ErrNotFound) {
			rr.Reason = "dropped, but its stored credentials were not deleted: " + err.Error()
			a.opts.Log.Error().Err(err).Str("role", name).Msg("deleting the stored credentials of a dropped role")
		}
	}
	return rr
}

// database runs one step (one database's statements) of a role in one
// transaction, after re-planning the role inside it and comparing the
// re-plan with expect: what remains to do of the reviewed plan (all of it,
// for a removal). It returns no statements and no error when the re-plan
// is empty (someone else applied it).
func (a *applier) database(ctx context.Context, c *cluster, in planner.Input, step planner.Step, expect map[string][]string, verifier string) ([]StatementReport, error) {
	db := step.Database
	conn, err := a.conn(ctx, c, db)
	if err != nil {
		return nil, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("database %q: begin: %w", db, err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+lockTimeout+"'"); err != nil {
		return nil, fmt.Errorf("database %q: %w", db, err)
	}
	live, err := a.inspect(ctx, tx, c, db)
	if err != nil {
		return nil, err
	}
	name := in.Only
	in.Snapshot = live
	replan, err := planner.PlanResource(in)
	if err != nil {
		return nil, fmt.Errorf("%w: re-plan failed: %v", ErrDrifted, err)
	}
	var now map[string][]string
	for _, rp := range replan.Roles {
		if rp.Config.RoleName == name {
			now = rp.SQLPlan
		}
	}
	if len(now) == 0 {
		return nil, nil
	}
	if planner.Checksum(c.res.Name, name, now) != planner.Checksum(c.res.Name, name, expect) {
		return nil, ErrDrifted
	}
	var out []StatementReport
	for _, stmt := range step.Statements {
		sql := stmt
		if strings.Contains(stmt, planner.PasswordPlaceholder) {
			if verifier == "" {
				return out, fmt.Errorf("database %q: a password statement outside the maintenance database", db)
			}
			a.quietLog(ctx, tx)
			sql = strings.Replace(stmt, planner.PasswordPlaceholder, "'"+verifier+"'", 1)
		}
		start := time.Now()
		_, err := tx.Exec(ctx, sql)
		rep := StatementReport{Database: db, SQL: stmt, Outcome: "ok", Duration: time.Since(start)}
		if err != nil {
			for i := range out {
				out[i].Outcome = "rolled-back"
			}
			rep.Outcome, rep.Error = "failed", scrub(err.Error(), verifier)
			out = append(out, rep)
			for _, s := range step.Statements[len(out):] {
				out = append(out, StatementReport{Database: db, SQL: s, Outcome: "skipped"})
			}
			return out, fmt.Errorf("database %q: %s", db, rep.Error)
		}
		out = append(out, rep)
	}
	after, err := a.inspect(ctx, tx, c, db)
	if err != nil {
		return a.rolledBack(out, err), err
	}
	if err := tx.Commit(ctx); err != nil {
		err = fmt.Errorf("database %q: commit: %w (the transaction may or may not have committed; plan again to see)", db, err)
		for i := range out {
			out[i].Outcome, out[i].Error = "unknown", "commit failed"
		}
		return out, err
	}
	committed = true
	c.snap = after
	return out, nil
}

func (a *applier) rolledBack(out []StatementReport, err error) []StatementReport {
	for i := range out {
		out[i].Outcome, out[i].Error = "rolled-back", err.Error()
	}
	return out
}

// inspect reads the cluster-level catalog and database db inside tx and
// overlays them on the running snapshot of the other databases.
func (a *applier) inspect(ctx context.Context, tx pgx.Tx, c *cluster, db string) (*catalog.Snapshot, error) {
	live, err := catalog.InspectCluster(ctx, tx, c.opts)
	if err != nil {
		return nil, fmt.Errorf("database %q: re-inspecting: %w", db, err)
	}
	schemas, global, err := catalog.InspectDatabase(ctx, tx, c.opts)
	if err != nil {
		return nil, fmt.Errorf("database %q: re-inspecting: %w", db, err)
	}
	for i := range live.Databases {
		d := &live.Databases[i]
		switch old, ok := c.snap.Database(d.Name); {
		case d.Name == db:
			d.Schemas, d.DefaultGrants, d.Inspected = schemas, global, true
		case ok:
			d.Schemas, d.DefaultGrants, d.Inspected = old.Schemas, old.DefaultGrants, old.Inspected
		}
	}
	return live, nil
}

// quietLog keeps the statement that carries a SCRAM verifier out of the
// server log, as CloudNativePG does, where the admin may change these
// settings (superusers).
func (a *applier) quietLog(ctx context.Context, tx pgx.Tx) {
	if _, err := tx.Exec(ctx, "SAVEPOINT rolecd_quiet"); err != nil {
		return
	}
	// log_statement, and the other settings that print statement text:
	// slow statements, and failed ones.
	if _, err := tx.Exec(ctx, "SET LOCAL log_statement = 'none'; SET LOCAL log_min_duration_statement = -1; SET LOCAL log_min_error_statement = 'panic'"); err != nil {
		_, _ = tx.Exec(ctx, "ROLLBACK TO SAVEPOINT rolecd_quiet")
		a.opts.Log.Warn().Msg("cannot set log_statement = 'none' (admin is not a superuser): the server log may show the SCRAM verifier, never the password")
		return
	}
	_, _ = tx.Exec(ctx, "RELEASE SAVEPOINT rolecd_quiet")
}

// scrub removes the verifier from an error text.
func scrub(msg, verifier string) string {
	if verifier == "" {
		return msg
	}
	return strings.ReplaceAll(msg, verifier, planner.Redacted)
}
