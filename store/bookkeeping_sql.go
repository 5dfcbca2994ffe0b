package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// defaultDueLimit is how many reports DueReports returns when limit is 0.
const defaultDueLimit = 100

// isPostgres tells the backends apart where their SQL differs.
func (s *sqlStore) isPostgres() bool { return s.d.migrations == "migrations/postgres" }

// RecordDelivery stores d as pending unless its ID is known. A zero
// ReceivedAt is now; State, Attempts, Error and ProcessedAt are ignored.
func (s *sqlStore) RecordDelivery(ctx context.Context, d Delivery) (bool, error) {
	if d.ID == "" || d.Event == "" {
		return false, errors.New("recording delivery: id and event are required")
	}
	payload, err := detailArg(d.Payload)
	if err != nil || payload == nil {
		return false, fmt.Errorf("recording delivery %q: payload is not a JSON document", d.ID)
	}
	res, err := s.write.ExecContext(ctx, `INSERT INTO webhook_deliveries
		(id, event, payload, state, attempts, error, received_at, processed_at)
		VALUES ($1, $2, $3, $4, 0, '', $5, NULL)
		ON CONFLICT (id) DO NOTHING`,
		d.ID, d.Event, payload, string(DeliveryPending), s.d.timeArg(nowIfZero(d.ReceivedAt)))
	if err != nil {
		return false, fmt.Errorf("recording delivery %q: %w", d.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("recording delivery %q: %w", d.ID, err)
	}
	return n == 1, nil
}

const deliveryColumns = `id, event, payload, state, attempts, error, received_at, processed_at`

func scanDelivery(row rowScanner) (Delivery, error) {
	var (
		d       Delivery
		payload []byte
	)
	err := row.Scan(&d.ID, &d.Event, &payload, &d.State, &d.Attempts, &d.Error,
		timeScanner{&d.ReceivedAt}, timeScanner{&d.ProcessedAt})
	d.Payload = json.RawMessage(payload)
	return d, err
}

// GetDelivery returns delivery id, or ErrNotFound.
func (s *sqlStore) GetDelivery(ctx context.Context, id string) (Delivery, error) {
	d, err := scanDelivery(s.read.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("reading delivery %q: %w", id, err)
	}
	return d, nil
}

// PendingDeliveries returns the pending deliveries, oldest first.
func (s *sqlStore) PendingDeliveries(ctx context.Context) ([]Delivery, error) {
	return queryAll(ctx, s.read, "listing pending deliveries", scanDelivery, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE state = $1 ORDER BY received_at, id`, string(DeliveryPending))
}

// DeliveryFailed counts a failed attempt of a pending delivery.
func (s *sqlStore) DeliveryFailed(ctx context.Context, id, errMsg string) error {
	err := s.updateOne(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, error = $2
		WHERE id = $1 AND state = $3`, id, errMsg, string(DeliveryPending))
	if errors.Is(err, errNoRow) {
		// Processed meanwhile, or unknown.
		if _, gerr := s.GetDelivery(ctx, id); gerr != nil {
			return fmt.Errorf("recording failed delivery %q: %w", id, gerr)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("recording failed delivery %q: %w", id, err)
	}
	return nil
}

// FinishDelivery marks delivery id processed.
func (s *sqlStore) FinishDelivery(ctx context.Context, id, errMsg string, at time.Time) error {
	err := s.updateOne(ctx, `UPDATE webhook_deliveries SET state = $2, error = $3, processed_at = $4
		WHERE id = $1 AND state = $5`, id, string(DeliveryProcessed), errMsg, s.d.timeArg(nowIfZero(at)), string(DeliveryPending))
	if errors.Is(err, errNoRow) {
		if _, gerr := s.GetDelivery(ctx, id); gerr != nil {
			return fmt.Errorf("finishing delivery %q: %w", id, gerr)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("finishing delivery %q: %w", id, err)
	}
	return nil
}

// errNoRow is updateOne's "no row matched".
var errNoRow = errors.New("no matching row")

// updateOne runs an UPDATE and returns errNoRow when it matched nothing.
func (s *sqlStore) updateOne(ctx context.Context, query string, args ...any) error {
	res, err := s.write.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return errNoRow
	}
	return nil
}

const prColumns = `number, state, head_sha, planned_sha, plan_sid, digest, checksums, merge_sha, merge_plan_sid, merge_digest, apply_sid, updated_at`

func scanPR(row rowScanner) (PullRequest, error) {
	var (
		pr        PullRequest
		checksums []byte
	)
	if err := row.Scan(&pr.Number, &pr.State, &pr.HeadSHA, &pr.PlannedSHA, &pr.PlanSID, &pr.Digest, &checksums,
		&pr.MergeSHA, &pr.MergePlanSID, &pr.MergeDigest, &pr.ApplySID, timeScanner{&pr.UpdatedAt}); err != nil {
		return PullRequest{}, err
	}
	if err := json.Unmarshal(checksums, &pr.Checksums); err != nil {
		return PullRequest{}, fmt.Errorf("decoding checksums: %w", err)
	}
	if len(pr.Checksums) == 0 {
		pr.Checksums = nil
	}
	return pr, nil
}

// GetPullRequest returns pull request n, or ErrNotFound.
func (s *sqlStore) GetPullRequest(ctx context.Context, n int) (PullRequest, error) {
	pr, err := scanPR(s.read.QueryRowContext(ctx, `SELECT `+prColumns+` FROM pull_requests WHERE number = $1`, n))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return PullRequest{}, fmt.Errorf("reading pull request #%d: %w", n, err)
	}
	return pr, nil
}

// checkFence fails with a *FencedError unless fence's lease is still at
// its generation. On PostgreSQL it takes the lease row FOR SHARE, so a
// takeover (an UPDATE of that row) waits until this transaction ends and a
// write that follows a takeover sees it; SQLite's write transactions are
// exclusive already.
func (s *sqlStore) checkFence(ctx context.Context, tx *sql.Tx, fence Fence) error {
	if !fence.Fenced() {
		return nil
	}
	lock := ""
	if s.isPostgres() {
		lock = " FOR SHARE"
	}
	var gen int64
	err := tx.QueryRowContext(ctx, `SELECT generation FROM leases WHERE name = $1`+lock, fence.Lease).Scan(&gen)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return &FencedError{Lease: fence.Lease, Generation: fence.Generation}
	case err != nil:
		return fmt.Errorf("checking lease %q: %w", fence.Lease, err)
	case gen != fence.Generation:
		return &FencedError{Lease: fence.Lease, Generation: fence.Generation, Current: gen}
	}
	return nil
}

// CheckFence fails with a *FencedError unless fence holds.
func (s *sqlStore) CheckFence(ctx context.Context, fence Fence) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return s.checkFence(ctx, tx, fence) })
}

// PutPullRequest creates or replaces pull request pr.Number if fence holds.
func (s *sqlStore) PutPullRequest(ctx context.Context, pr *PullRequest, fence Fence) error {
	if pr == nil || pr.Number <= 0 || pr.State == "" {
		return errors.New("storing pull request: a positive number and a state are required")
	}
	checksums := pr.Checksums
	if checksums == nil {
		checksums = map[string]string{}
	}
	cs, err := json.Marshal(checksums)
	if err != nil {
		return fmt.Errorf("storing pull request #%d: %w", pr.Number, err)
	}
	updated := nowIfZero(pr.UpdatedAt)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.checkFence(ctx, tx, fence); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO pull_requests (`+prColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (number) DO UPDATE SET state = excluded.state, head_sha = excluded.head_sha,
			planned_sha = excluded.planned_sha, plan_sid = excluded.plan_sid, digest = excluded.digest,
			checksums = excluded.checksums, merge_sha = excluded.merge_sha, merge_plan_sid = excluded.merge_plan_sid,
			merge_digest = excluded.merge_digest, apply_sid = excluded.apply_sid, updated_at = excluded.updated_at`,
			pr.Number, string(pr.State), pr.HeadSHA, pr.PlannedSHA, pr.PlanSID, pr.Digest, string(cs),
			pr.MergeSHA, pr.MergePlanSID, pr.MergeDigest, pr.ApplySID, s.d.timeArg(updated))
		return err
	})
	if err != nil {
		return fmt.Errorf("storing pull request #%d: %w", pr.Number, err)
	}
	pr.UpdatedAt = updated
	return nil
}

// ListPullRequests returns the pull requests in any of states, by number.
func (s *sqlStore) ListPullRequests(ctx context.Context, states ...PRState) ([]PullRequest, error) {
	query := `SELECT ` + prColumns + ` FROM pull_requests`
	var args []any
	if len(states) > 0 {
		ph := make([]string, len(states))
		for i, st := range states {
			args = append(args, string(st))
			ph[i] = fmt.Sprintf("$%d", i+1)
		}
		query += ` WHERE state IN (` + strings.Join(ph, ", ") + `)`
	}
	return queryAll(ctx, s.read, "listing pull requests", scanPR, query+` ORDER BY number`, args...)
}

const reportColumns = `key, seq, kind, payload, attempts, next_attempt, last_error, created_at, updated_at, done_at`

func scanReport(row rowScanner) (OutboxReport, error) {
	var (
		r       OutboxReport
		payload []byte
	)
	err := row.Scan(&r.Key, &r.Seq, &r.Kind, &payload, &r.Attempts, timeScanner{&r.NextAttempt}, &r.LastError,
		timeScanner{&r.CreatedAt}, timeScanner{&r.UpdatedAt}, timeScanner{&r.DoneAt})
	r.Payload = json.RawMessage(payload)
	return r, err
}

// EnqueueReport adds r to the outbox or replaces the payload under its key.
// Enqueuing the payload a report already has (same kind, same bytes)
// changes nothing: it is not posted again.
func (s *sqlStore) EnqueueReport(ctx context.Context, r *OutboxReport, fence Fence) error {
	if r == nil || r.Key == "" || r.Kind == "" {
		return errors.New("enqueuing report: key and kind are required")
	}
	payload, err := detailArg(r.Payload)
	if err != nil || payload == nil {
		return fmt.Errorf("enqueuing report %q: payload is not a JSON document", r.Key)
	}
	now := normTime(time.Now())
	due := now
	if !r.NextAttempt.IsZero() {
		due = normTime(r.NextAttempt)
	}
	// The new seq of an updated report is taken once its row is locked, so
	// the last writer always holds the highest seq (on PostgreSQL a nextval
	// in VALUES is drawn before waiting on a concurrent insert of the key).
	seq, updSeq := `(SELECT COALESCE(MAX(seq), 0) + 1 FROM report_outbox)`, `excluded.seq`
	if s.isPostgres() {
		seq, updSeq = `nextval('report_outbox_seq')`, `nextval('report_outbox_seq')`
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.checkFence(ctx, tx, fence); err != nil {
			return err
		}
		old, err := scanReport(tx.QueryRowContext(ctx, `SELECT `+reportColumns+` FROM report_outbox WHERE key = $1`+s.d.forUpdate, r.Key))
		switch {
		case err == nil && old.Kind == r.Kind && bytes.Equal(old.Payload, r.Payload):
			*r = old
			return nil
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var out OutboxReport
		out, err = scanReport(tx.QueryRowContext(ctx, `INSERT INTO report_outbox (`+reportColumns+`)
			VALUES ($1, `+seq+`, $2, $3, 0, $5, '', $4, $4, NULL)
			ON CONFLICT (key) DO UPDATE SET seq = `+updSeq+`, kind = excluded.kind, payload = excluded.payload,
				attempts = 0, next_attempt = excluded.next_attempt, last_error = '', updated_at = excluded.updated_at, done_at = NULL
			RETURNING `+reportColumns, r.Key, r.Kind, payload, s.d.timeArg(now), s.d.timeArg(due)))
		if err != nil {
			return err
		}
		*r = out
		return nil
	})
	if err != nil {
		return fmt.Errorf("enqueuing report %q: %w", r.Key, err)
	}
	return nil
}

// GetReport returns report key, or ErrNotFound.
func (s *sqlStore) GetReport(ctx context.Context, key string) (OutboxReport, error) {
	r, err := scanReport(s.read.QueryRowContext(ctx, `SELECT `+reportColumns+` FROM report_outbox WHERE key = $1`, key))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return OutboxReport{}, fmt.Errorf("reading report %q: %w", key, err)
	}
	return r, nil
}

// DueReports returns the reports to post now, in seq order.
func (s *sqlStore) DueReports(ctx context.Context, now time.Time, limit int) ([]OutboxReport, error) {
	if limit < 0 {
		return nil, fmt.Errorf("listing due reports: negative limit %d", limit)
	}
	if limit == 0 {
		limit = defaultDueLimit
	}
	return queryAll(ctx, s.read, "listing due reports", scanReport, `SELECT `+reportColumns+` FROM report_outbox
		WHERE done_at IS NULL AND next_attempt <= $1 ORDER BY seq LIMIT $2`, s.d.timeArg(normTime(now)), limit)
}

// ReportDone marks report key done when its seq is still seq.
func (s *sqlStore) ReportDone(ctx context.Context, key string, seq int64, at time.Time) (bool, error) {
	at = nowIfZero(at)
	err := s.updateOne(ctx, `UPDATE report_outbox SET done_at = $3, updated_at = $3
		WHERE key = $1 AND seq = $2 AND done_at IS NULL`, key, seq, s.d.timeArg(at))
	if errors.Is(err, errNoRow) {
		if _, gerr := s.GetReport(ctx, key); gerr != nil {
			return false, fmt.Errorf("marking report %q done: %w", key, gerr)
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("marking report %q done: %w", key, err)
	}
	return true, nil
}

// ReportFailed counts a failed attempt and sets the next one.
func (s *sqlStore) ReportFailed(ctx context.Context, key string, seq int64, next time.Time, errMsg string) error {
	err := s.updateOne(ctx, `UPDATE report_outbox SET attempts = attempts + 1, next_attempt = $3, last_error = $4, updated_at = $5
		WHERE key = $1 AND seq = $2 AND done_at IS NULL`,
		key, seq, s.d.timeArg(normTime(next)), errMsg, s.d.timeArg(normTime(time.Now())))
	if errors.Is(err, errNoRow) {
		if _, gerr := s.GetReport(ctx, key); gerr != nil {
			return fmt.Errorf("recording failed report %q: %w", key, gerr)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("recording failed report %q: %w", key, err)
	}
	return nil
}

const leaseColumns = `name, holder, generation, expires_at`

func scanLease(row rowScanner) (Lease, error) {
	var l Lease
	err := row.Scan(&l.Name, &l.Holder, &l.Generation, timeScanner{&l.ExpiresAt})
	return l, err
}

// TryLease takes or renews lease name for holder, by the database clock.
func (s *sqlStore) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (Lease, bool, error) {
	if name == "" || holder == "" || ttl <= 0 {
		return Lease{}, false, errors.New("taking lease: name, holder and a positive ttl are required")
	}
	now := s.d.dbNow
	l, err := scanLease(s.write.QueryRowContext(ctx, `INSERT INTO leases (name, holder, generation, expires_at)
		VALUES ($1, $2, 1, `+s.d.dbNowPlus("$3")+`)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
			generation = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > `+now+`
				THEN leases.generation ELSE leases.generation + 1 END
		WHERE leases.holder = excluded.holder OR leases.expires_at <= `+now+`
		RETURNING `+leaseColumns, name, holder, ttl.Microseconds()))
	if errors.Is(err, sql.ErrNoRows) {
		return Lease{}, false, nil
	}
	if err != nil {
		return Lease{}, false, fmt.Errorf("taking lease %q: %w", name, err)
	}
	return l, true, nil
}

// GetLease returns lease name, or ErrNotFound.
func (s *sqlStore) GetLease(ctx context.Context, name string) (Lease, error) {
	l, err := scanLease(s.read.QueryRowContext(ctx, `SELECT `+leaseColumns+` FROM leases WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Lease{}, fmt.Errorf("reading lease %q: %w", name, err)
	}
	return l, nil
}

// ReleaseLease gives up lease name if holder has it: the row stays, with
// no holder, expired, at its generation.
func (s *sqlStore) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.write.ExecContext(ctx, `UPDATE leases SET holder = '', expires_at = `+s.d.dbNow+`
		WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return fmt.Errorf("releasing lease %q: %w", name, err)
	}
	return nil
}

const driftColumns = `resource, roles, digest, commit_sha, sid, since, checked_at`

func scanDrift(row rowScanner) (Drift, error) {
	var (
		d     Drift
		roles []byte
	)
	if err := row.Scan(&d.Resource, &roles, &d.Digest, &d.Commit, &d.SID, timeScanner{&d.Since}, timeScanner{&d.CheckedAt}); err != nil {
		return Drift{}, err
	}
	if err := json.Unmarshal(roles, &d.Roles); err != nil {
		return Drift{}, fmt.Errorf("decoding roles: %w", err)
	}
	d.Roles = sortedSet(d.Roles)
	return d, nil
}

// GetDrift returns the drift state of resource, or ErrNotFound.
func (s *sqlStore) GetDrift(ctx context.Context, resource string) (Drift, error) {
	d, err := scanDrift(s.read.QueryRowContext(ctx, `SELECT `+driftColumns+` FROM drift_state WHERE resource = $1`, resource))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Drift{}, fmt.Errorf("reading drift of %q: %w", resource, err)
	}
	return d, nil
}

// PutDrift creates or replaces the drift state of d.Resource. A zero
// CheckedAt is now.
func (s *sqlStore) PutDrift(ctx context.Context, d Drift) error {
	if d.Resource == "" {
		return errors.New("storing drift: resource is required")
	}
	roles := sortedSet(d.Roles)
	if roles == nil {
		roles = []string{}
	}
	rb, err := json.Marshal(roles)
	if err != nil {
		return fmt.Errorf("storing drift of %q: %w", d.Resource, err)
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO drift_state (`+driftColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (resource) DO UPDATE SET roles = excluded.roles, digest = excluded.digest, commit_sha = excluded.commit_sha,
			sid = excluded.sid, since = excluded.since, checked_at = excluded.checked_at`,
		d.Resource, string(rb), d.Digest, d.Commit, d.SID, s.d.nullTime(normTime(d.Since)), s.d.timeArg(nowIfZero(d.CheckedAt)))
	if err != nil {
		return fmt.Errorf("storing drift of %q: %w", d.Resource, err)
	}
	return nil
}

// ListDrift returns every resource's drift state, by resource.
func (s *sqlStore) ListDrift(ctx context.Context) ([]Drift, error) {
	return queryAll(ctx, s.read, "listing drift", scanDrift, `SELECT `+driftColumns+` FROM drift_state ORDER BY resource`)
}

// GetCursor returns the value of cursor name, or ErrNotFound.
func (s *sqlStore) GetCursor(ctx context.Context, name string) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, `SELECT value FROM cursors WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("reading cursor %q: %w", name, err)
	}
	return v, nil
}

// PutCursor sets cursor name to value.
func (s *sqlStore) PutCursor(ctx context.Context, name, value string) error {
	if name == "" {
		return errors.New("storing cursor: name is required")
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO cursors (name, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		name, value, s.d.timeArg(normTime(time.Now())))
	if err != nil {
		return fmt.Errorf("storing cursor %q: %w", name, err)
	}
	return nil
}

// Ping checks that the database answers a query.
func (s *sqlStore) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Compile-time check: the one implementation is both a Store and Bookkeeping.
var _ interface {
	Store
	Bookkeeping
} = (*sqlStore)(nil)
