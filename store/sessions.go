package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// defaultLimit is how many sessions ListSessions returns when Filter.Limit is 0.
const defaultLimit = 100

// CreateSession inserts s. It fills in what s leaves open and writes it
// back, so that s equals what GetSession returns: a random SID when empty,
// StartedAt now when zero, times in UTC at microsecond precision, Resources
// and Roles sorted without duplicates. Statements already in s are stored
// too (Seq 0 means its position, from 1).
func (s *sqlStore) CreateSession(ctx context.Context, sess *Session) error {
	if sess == nil {
		return errors.New("creating session: nil session")
	}
	if sess.SID == "" {
		sess.SID = uuid.NewString()
	}
	if err := s.createSession(ctx, sess); err != nil {
		return fmt.Errorf("creating session %q: %w", sess.SID, err)
	}
	return nil
}

func (s *sqlStore) createSession(ctx context.Context, sess *Session) error {
	if sess.Kind == "" || sess.Status == "" {
		return errors.New("kind and status are required")
	}
	detail, err := detailArg(sess.Detail)
	if err != nil {
		return err
	}
	sess.StartedAt = nowIfZero(sess.StartedAt)
	sess.FinishedAt = normTime(sess.FinishedAt)
	sess.Resources = sortedSet(sess.Resources)
	sess.Roles = sortedSet(sess.Roles)
	for i := range sess.Statements {
		normStatement(&sess.Statements[i], i+1)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO sessions
			(sid, kind, status, actor, commit_sha, pull_request, checksum, plan_sid, detail, error, started_at, finished_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (sid) DO NOTHING`,
			sess.SID, string(sess.Kind), string(sess.Status), sess.Actor, sess.Commit, sess.PullRequest,
			sess.Checksum, sess.PlanSID, detail, sess.Error, s.d.timeArg(sess.StartedAt), s.d.nullTime(sess.FinishedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errors.New("a session with this sid already exists")
		}
		if sess.Status == StatusRunning {
			// The process running it holds its lease (KeepSessionAlive);
			// once the lease lapses, Open marks it interrupted.
			if _, err := tx.ExecContext(ctx, `INSERT INTO leases (name, holder, generation, expires_at) VALUES ($1, $2, 1, `+s.d.dbNowPlus("$3")+`)
				ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at`,
				sessionLease(sess.SID), sess.SID, SessionLeaseTTL.Microseconds()); err != nil {
				return fmt.Errorf("recording the session's lease: %w", err)
			}
		}
		for _, r := range sess.Resources {
			if _, err := tx.ExecContext(ctx, `INSERT INTO session_resources (sid, resource) VALUES ($1, $2)`, sess.SID, r); err != nil {
				return fmt.Errorf("recording resource %q: %w", r, err)
			}
		}
		for _, r := range sess.Roles {
			if _, err := tx.ExecContext(ctx, `INSERT INTO session_roles (sid, role) VALUES ($1, $2)`, sess.SID, r); err != nil {
				return fmt.Errorf("recording role %q: %w", r, err)
			}
		}
		for _, st := range sess.Statements {
			if err := s.insertStatement(ctx, tx, sess.SID, st); err != nil {
				return err
			}
		}
		return nil
	})
}

// normStatement normalises st's time (now when zero) and numbers it seq
// when it has no Seq.
func normStatement(st *Statement, seq int) {
	if st.Seq <= 0 {
		st.Seq = seq
	}
	st.At = nowIfZero(st.At)
	st.Duration = st.Duration.Truncate(time.Microsecond)
}

func (s *sqlStore) insertStatement(ctx context.Context, tx *sql.Tx, sid string, st Statement) error {
	roles := st.Roles
	if roles == nil {
		roles = []string{}
	}
	rolesJSON, err := json.Marshal(roles)
	if err != nil {
		return fmt.Errorf("recording statement %d: %w", st.Seq, err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO session_statements
		(sid, seq, resource, role, database_name, sql, outcome, error, duration_us, ran_at, roles)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (sid, seq) DO NOTHING`,
		sid, st.Seq, st.Resource, st.Role, st.Database, st.SQL, st.Outcome, st.Error,
		st.Duration.Microseconds(), s.d.timeArg(st.At), string(rolesJSON))
	if err != nil {
		return fmt.Errorf("recording statement %d: %w", st.Seq, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("recording statement %d: %w", st.Seq, err)
	} else if n == 0 {
		return fmt.Errorf("statement %d already recorded", st.Seq)
	}
	return nil
}

// AppendStatement records st in the running session sid. A zero Seq is
// assigned the next number; a zero At is now.
func (s *sqlStore) AppendStatement(ctx context.Context, sid string, st Statement) error {
	return s.AppendStatements(ctx, sid, []Statement{st})
}

// AppendStatements records sts, in order, in the running session sid, in
// one transaction: all or none. A zero Seq is assigned the next number; a
// zero At is now.
func (s *sqlStore) AppendStatements(ctx context.Context, sid string, sts []Statement) error {
	if len(sts) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var status Status
		err := tx.QueryRowContext(ctx, `SELECT status FROM sessions WHERE sid = $1`+s.d.forUpdate, sid).Scan(&status)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		case status != StatusRunning:
			return fmt.Errorf("session is %s, not running", status)
		}
		next := 0
		for _, st := range sts {
			if st.Seq <= 0 && next == 0 {
				if err := tx.QueryRowContext(ctx,
					`SELECT COALESCE(MAX(seq), 0) + 1 FROM session_statements WHERE sid = $1`, sid).Scan(&next); err != nil {
					return fmt.Errorf("numbering statement: %w", err)
				}
			}
			normStatement(&st, next)
			if err := s.insertStatement(ctx, tx, sid, st); err != nil {
				return err
			}
			next = max(next, st.Seq) + 1
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("appending statement to session %q: %w", sid, err)
	}
	return nil
}

// SessionLeaseTTL is how long a running session stays running without a
// sign of life from the process running it (KeepSessionAlive); after
// that, the next Open marks it interrupted.
const SessionLeaseTTL = 2 * time.Minute

// sessionLease names the lease a running session's process holds.
func sessionLease(sid string) string { return "session:" + sid }

// KeepSessionAlive renews the lease of the running session sid: the
// process running it is alive. Call it more often than SessionLeaseTTL.
func (s *sqlStore) KeepSessionAlive(ctx context.Context, sid string) error {
	if _, _, err := s.TryLease(ctx, sessionLease(sid), sid, SessionLeaseTTL); err != nil {
		return fmt.Errorf("keeping session %q alive: %w", sid, err)
	}
	return nil
}

// interruptedReason is the error of a session whose process died.
const interruptedReason = "interrupted: the process running it stopped (killed or crashed) before it finished; its statements show how far it got"

// markInterrupted ends every running session whose lease lapsed (its
// process died without finishing it): status interrupted, with what its
// statements recorded. It returns how many it marked.
func (s *sqlStore) markInterrupted(ctx context.Context) (int64, error) {
	// Leases expire by the database clock (one clock for every process).
	res, err := s.write.ExecContext(ctx, `UPDATE sessions SET status = $1, error = $2, finished_at = $3
		WHERE status = $4 AND NOT EXISTS (
			SELECT 1 FROM leases AS l WHERE l.name = 'session:' || sessions.sid AND l.expires_at > `+s.d.dbNow+`)`,
		string(StatusInterrupted), interruptedReason, s.d.timeArg(normTime(time.Now())), string(StatusRunning))
	if err != nil {
		return 0, fmt.Errorf("marking sessions of dead processes interrupted: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("marking sessions of dead processes interrupted: %w", err)
	}
	if n > 0 {
		if _, err := s.write.ExecContext(ctx, `DELETE FROM leases WHERE name LIKE 'session:%' AND expires_at <= `+s.d.dbNow); err != nil {
			return n, fmt.Errorf("forgetting lapsed session leases: %w", err)
		}
	}
	return n, nil
}

// FinishSession ends the running session sid. A nil detail keeps the
// session's detail; a zero finishedAt is now.
func (s *sqlStore) FinishSession(ctx context.Context, sid string, status Status, detail json.RawMessage, errMsg string, finishedAt time.Time) error {
	if err := s.finishSession(ctx, sid, status, detail, errMsg, finishedAt); err != nil {
		return fmt.Errorf("finishing session %q: %w", sid, err)
	}
	return nil
}

func (s *sqlStore) finishSession(ctx context.Context, sid string, status Status, detail json.RawMessage, errMsg string, finishedAt time.Time) error {
	if status == "" || status == StatusRunning {
		return fmt.Errorf("invalid final status %q", status)
	}
	detailValue, err := detailArg(detail)
	if err != nil {
		return err
	}
	finishedAt = nowIfZero(finishedAt)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions
			SET status = $2, detail = COALESCE($3, detail), error = $4, finished_at = $5
			WHERE sid = $1 AND status = $6`,
			sid, string(status), detailValue, errMsg, s.d.timeArg(finishedAt), string(StatusRunning))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			_, err := tx.ExecContext(ctx, `DELETE FROM leases WHERE name = $1`, sessionLease(sid))
			return err
		}
		var current Status
		err = tx.QueryRowContext(ctx, `SELECT status FROM sessions WHERE sid = $1`, sid).Scan(&current)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		}
		return fmt.Errorf("session already finished (%s)", current)
	})
}

// sessionColumns selects a session aliased s, with its resources and roles
// as JSON arrays; scanSession reads them.
func (s *sqlStore) sessionColumns() string {
	return `s.sid, s.kind, s.status, s.actor, s.commit_sha, s.pull_request, s.checksum, s.plan_sid,
		s.detail, s.error, s.started_at, s.finished_at, ` +
		s.d.agg("session_resources", "resource") + `, ` + s.d.agg("session_roles", "role")
}

// scanSession reads one row of sessionColumns.
func scanSession(row rowScanner) (Session, error) {
	var (
		sess              Session
		detail            []byte
		resources, roles  []byte
		startedAt, finish = timeScanner{&sess.StartedAt}, timeScanner{&sess.FinishedAt}
	)
	err := row.Scan(&sess.SID, &sess.Kind, &sess.Status, &sess.Actor, &sess.Commit, &sess.PullRequest,
		&sess.Checksum, &sess.PlanSID, &detail, &sess.Error, startedAt, finish, &resources, &roles)
	if err != nil {
		return Session{}, err
	}
	if detail != nil {
		sess.Detail = json.RawMessage(detail)
	}
	if err := json.Unmarshal(resources, &sess.Resources); err != nil {
		return Session{}, fmt.Errorf("decoding resources: %w", err)
	}
	if err := json.Unmarshal(roles, &sess.Roles); err != nil {
		return Session{}, fmt.Errorf("decoding roles: %w", err)
	}
	sess.Resources, sess.Roles = sortedSet(sess.Resources), sortedSet(sess.Roles)
	return sess, nil
}

// GetSession returns session sid with its statements in Seq order.
func (s *sqlStore) GetSession(ctx context.Context, sid string) (*Session, error) {
	var sess Session
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		sess, err = scanSession(tx.QueryRowContext(ctx, `SELECT `+s.sessionColumns()+` FROM sessions s WHERE s.sid = $1`, sid))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		sess.Statements, err = s.statements(ctx, tx, sid)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading session %q: %w", sid, err)
	}
	return &sess, nil
}

// statements returns session sid's statements in Seq order.
func (s *sqlStore) statements(ctx context.Context, tx *sql.Tx, sid string) ([]Statement, error) {
	return queryAll(ctx, tx, "reading statements", func(row rowScanner) (Statement, error) {
		var (
			st    Statement
			us    int64
			roles string
		)
		if err := row.Scan(&st.Seq, &st.Resource, &st.Role, &st.Database, &st.SQL, &st.Outcome, &st.Error, &us, timeScanner{&st.At}, &roles); err != nil {
			return st, err
		}
		st.Duration = time.Duration(us) * time.Microsecond
		if err := json.Unmarshal([]byte(roles), &st.Roles); err != nil {
			return st, fmt.Errorf("statement %d: decoding roles: %w", st.Seq, err)
		}
		if len(st.Roles) == 0 {
			st.Roles = nil
		}
		return st, nil
	}, `SELECT seq, resource, role, database_name, sql, outcome, error, duration_us, ran_at, roles
		FROM session_statements WHERE sid = $1 ORDER BY seq`, sid)
}

// ListSessions returns the sessions matching every set field of f, newest
// first (by StartedAt, then SID), at most f.Limit (0: 100).
func (s *sqlStore) ListSessions(ctx context.Context, f Filter) ([]Session, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("listing sessions: negative limit %d", f.Limit)
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Kind != "" {
		where = append(where, "s.kind = "+arg(string(f.Kind)))
	}
	if f.Status != "" {
		where = append(where, "s.status = "+arg(string(f.Status)))
	}
	if f.Actor != "" {
		where = append(where, "s.actor = "+arg(f.Actor))
	}
	for _, k := range f.ExcludeKinds {
		where = append(where, "s.kind <> "+arg(string(k)))
	}
	if !f.Since.IsZero() {
		where = append(where, "s.started_at >= "+arg(s.d.timeArg(normTime(f.Since))))
	}
	if !f.Until.IsZero() {
		where = append(where, "s.started_at < "+arg(s.d.timeArg(normTime(f.Until))))
	}
	if f.Role != "" {
		where = append(where, "EXISTS (SELECT 1 FROM session_roles o WHERE o.sid = s.sid AND o.role = "+arg(f.Role)+")")
	}
	if f.Resource != "" {
		where = append(where, "EXISTS (SELECT 1 FROM session_resources r WHERE r.sid = s.sid AND r.resource = "+arg(f.Resource)+")")
	}
	query := `SELECT ` + s.sessionColumns() + ` FROM sessions s`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit == 0 {
		limit = defaultLimit
	}
	query += " ORDER BY s.started_at DESC, s.sid DESC LIMIT " + arg(limit)

	return queryAll(ctx, s.read, "listing sessions", scanSession, query, args...)
}
