package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rolecd/rolecd/store"
)

func testSessionRoundTrip(t *testing.T, s store.Store) {
	tests := []store.Session{{
		SID:         "plan-1",
		Kind:        store.KindPlan,
		Status:      store.StatusChanges,
		Actor:       "alice@laptop",
		Commit:      "0123456789abcdef0123456789abcdef01234567",
		PullRequest: 42,
		Resources:   []string{"analytics", "billing"},
		Roles:       []string{"rolecd_analytics_ro_6075a443", "rolecd_billing_rw_0a1b2c3d"},
		Checksum:    strings.Repeat("ab", 32),
		Detail:      json.RawMessage(`{"version":1,"sid":"plan-1"}`),
		StartedAt:   at(0),
		FinishedAt:  at(2 * time.Second),
	}, {
		SID:        "apply-1",
		Kind:       store.KindApply,
		Status:     store.StatusFailed,
		Actor:      "daemon",
		Resources:  []string{"analytics"},
		PlanSID:    "plan-1",
		Checksum:   strings.Repeat("cd", 32),
		Error:      `live state drifted since plan: role "x"`,
		StartedAt:  at(time.Minute),
		FinishedAt: at(time.Minute + 1500*time.Millisecond),
	}, {
		SID:       "health-1",
		Kind:      store.KindHealth,
		Status:    store.StatusOK,
		StartedAt: at(2 * time.Minute),
	}}
	for _, want := range tests {
		t.Run(want.SID, func(t *testing.T) {
			in := want
			// Unsorted, with a duplicate: the store sorts and deduplicates.
			in.Resources = append(slices.Clone(want.Resources), want.Resources...)
			slices.Reverse(in.Resources)
			in = create(t, s, in)
			equal(t, "session as written back by CreateSession", in, want)
			equal(t, "GetSession", *get(t, s, want.SID), want)
		})
	}
	list, err := s.ListSessions(t.Context(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "ListSessions", list, []store.Session{tests[2], tests[1], tests[0]})
}

func testCreateFillsDefaults(t *testing.T, s store.Store) {
	before := time.Now().Add(-time.Millisecond)
	in := create(t, s, store.Session{Kind: store.KindDrift, Status: store.StatusNoChanges})
	after := time.Now().Add(time.Millisecond)
	if in.SID == "" {
		t.Fatal("CreateSession left SID empty")
	}
	if in.StartedAt.Before(before) || in.StartedAt.After(after) || in.StartedAt.Location() != time.UTC {
		t.Errorf("StartedAt = %v, want now in UTC (between %v and %v)", in.StartedAt, before, after)
	}
	equal(t, "GetSession", *get(t, s, in.SID), in)
	other := create(t, s, store.Session{Kind: store.KindDrift, Status: store.StatusNoChanges})
	if other.SID == in.SID {
		t.Errorf("two sessions got the same generated SID %q", in.SID)
	}

	for _, bad := range []store.Session{
		{SID: "no-kind", Status: store.StatusOK},
		{SID: "no-status", Kind: store.KindHealth},
	} {
		if err := s.CreateSession(t.Context(), &bad); err == nil {
			t.Errorf("CreateSession(%q) succeeded, want an error", bad.SID)
		}
	}
}

func testDuplicateSID(t *testing.T, s store.Store) {
	first := create(t, s, store.Session{SID: "dup", Kind: store.KindPlan, Status: store.StatusChanges, StartedAt: at(0)})
	err := s.CreateSession(t.Context(), &store.Session{SID: "dup", Kind: store.KindApply, Status: store.StatusApplied, StartedAt: at(time.Hour)})
	wantOtherError(t, "CreateSession with an existing SID", err)
	equal(t, "the first session, unchanged", *get(t, s, "dup"), first)
}

func testDetailJSON(t *testing.T, s store.Store) {
	tests := []struct {
		name   string
		detail json.RawMessage
	}{
		{"redacted", json.RawMessage(`{"sql":"ALTER ROLE \"r\" PASSWORD '<redacted>'"}`)},
		{"formatting kept", json.RawMessage("{\n  \"b\": 1,\n  \"a\": [1, 2.50, \"x\"]\n}")},
		{"html and unicode", json.RawMessage(`{"t":"a<b>&c \u00e9 é 🙂","u":"\u003cx\u003e"}`)},
		{"array", json.RawMessage(`[1,2,3]`)},
		{"none", nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sid := fmt.Sprintf("created-%d", i)
			create(t, s, store.Session{SID: sid, Kind: store.KindPlan, Status: store.StatusChanges, Detail: tc.detail, StartedAt: at(0)})
			equal(t, "detail of a created session", string(get(t, s, sid).Detail), string(tc.detail))
			if got := get(t, s, sid).Detail; (got == nil) != (tc.detail == nil) {
				t.Errorf("detail nil = %t, want %t", got == nil, tc.detail == nil)
			}

			sid = fmt.Sprintf("finished-%d", i)
			create(t, s, store.Session{SID: sid, Kind: store.KindApply, Status: store.StatusRunning, StartedAt: at(0)})
			if err := s.FinishSession(t.Context(), sid, store.StatusApplied, tc.detail, "", at(time.Second)); err != nil {
				t.Fatal(err)
			}
			equal(t, "detail of a finished session", string(get(t, s, sid).Detail), string(tc.detail))

			list, err := s.ListSessions(t.Context(), store.Filter{Kind: store.KindApply})
			if err != nil {
				t.Fatal(err)
			}
			for _, got := range list {
				if got.SID == sid {
					equal(t, "detail listed", string(got.Detail), string(tc.detail))
				}
			}
		})
	}

	bad := store.Session{SID: "bad", Kind: store.KindPlan, Status: store.StatusChanges, Detail: json.RawMessage(`{"a":`)}
	if err := s.CreateSession(t.Context(), &bad); err == nil {
		t.Error("CreateSession with invalid detail JSON succeeded")
	}
	create(t, s, store.Session{SID: "run", Kind: store.KindApply, Status: store.StatusRunning})
	if err := s.FinishSession(t.Context(), "run", store.StatusApplied, json.RawMessage(`nope`), "", time.Time{}); err == nil {
		t.Error("FinishSession with invalid detail JSON succeeded")
	}
}

func testTimeRoundTrip(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		in   time.Time
	}{
		{"utc", at(0)},
		{"nanoseconds truncated", time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC)},
		{"other zone", time.Date(2025, 1, 2, 3, 4, 5, 999999999, time.FixedZone("IST", 5*3600+1800))},
		{"local with monotonic clock", time.Now()},
		{"before the epoch", time.Date(1969, 12, 31, 23, 59, 59, 999999500, time.UTC)},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			want := tc.in.UTC().Truncate(time.Microsecond)
			wantLater := want.Add(time.Hour)
			sid := fmt.Sprintf("time-%d", i)
			in := create(t, s, store.Session{SID: sid, Kind: store.KindApply, Status: store.StatusRunning, StartedAt: tc.in})
			if in.StartedAt != want {
				t.Errorf("StartedAt written back = %v, want %v", in.StartedAt, want)
			}
			if err := s.AppendStatement(ctx, sid, store.Statement{Seq: 1, SQL: "SELECT 1", Outcome: "ok", At: tc.in,
				Duration: 1234567 * time.Nanosecond}); err != nil {
				t.Fatal(err)
			}
			if err := s.FinishSession(ctx, sid, store.StatusApplied, nil, "", tc.in.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			got := get(t, s, sid)
			if got.StartedAt != want || got.FinishedAt != wantLater {
				t.Errorf("StartedAt, FinishedAt = %v, %v; want %v, %v", got.StartedAt, got.FinishedAt, want, wantLater)
			}
			if len(got.Statements) != 1 || got.Statements[0].At != want || got.Statements[0].Duration != 1234*time.Microsecond {
				t.Errorf("statements = %s, want one at %v lasting 1.234ms", dump(got.Statements), want)
			}

			role := fmt.Sprintf("role-%d", i)
			if _, err := s.PutPendingCredential(ctx, store.Credential{RoleName: role, Resource: "a", Ciphertext: []byte("x"), CreatedAt: tc.in}); err != nil {
				t.Fatal(err)
			}
			creds, err := s.Credentials(ctx, role)
			if err != nil {
				t.Fatal(err)
			}
			if creds[0].CreatedAt != want {
				t.Errorf("credential CreatedAt = %v, want %v", creds[0].CreatedAt, want)
			}

			if err := s.PutAdmin(ctx, store.AdminCredential{Resource: role, User: "u", Ciphertext: []byte("x"), UpdatedAt: tc.in}); err != nil {
				t.Fatal(err)
			}
			admin, err := s.GetAdmin(ctx, role)
			if err != nil {
				t.Fatal(err)
			}
			if admin.UpdatedAt != want {
				t.Errorf("admin UpdatedAt = %v, want %v", admin.UpdatedAt, want)
			}

			list, err := s.ListSessions(ctx, store.Filter{Since: tc.in})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(list, func(l store.Session) bool { return l.SID == sid && l.StartedAt == want }) {
				t.Errorf("ListSessions(Since: its own start) = %s, want it to include %s", sids(list), sid)
			}
		})
	}
}

// sids returns the SIDs of list.
func sids(list []store.Session) []string {
	out := []string{}
	for _, s := range list {
		out = append(out, s.SID)
	}
	return out
}

func testListOrder(t *testing.T, s store.Store) {
	for _, in := range []store.Session{
		{SID: "a", StartedAt: at(0)},
		{SID: "c", StartedAt: at(time.Second)},
		{SID: "b", StartedAt: at(time.Second)}, // same time as c: SID breaks the tie
		{SID: "d", StartedAt: at(time.Second + time.Microsecond)},
	} {
		in.Kind, in.Status = store.KindPlan, store.StatusNoChanges
		create(t, s, in)
	}
	list, err := s.ListSessions(t.Context(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "ListSessions order", sids(list), []string{"d", "c", "b", "a"})
}

func testListFilter(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, in := range []store.Session{
		{SID: "s1", Kind: store.KindPlan, Status: store.StatusChanges, Resources: []string{"analytics"}, Roles: []string{"r_a"}, Actor: "alice", StartedAt: at(0)},
		{SID: "s2", Kind: store.KindApply, Status: store.StatusApplied, Resources: []string{"analytics", "billing"}, Roles: []string{"r_a", "r_b"}, Actor: "daemon", StartedAt: at(time.Minute)},
		{SID: "s3", Kind: store.KindPlan, Status: store.StatusNoChanges, Resources: []string{"billing"}, StartedAt: at(2 * time.Minute)},
		{SID: "s4", Kind: store.KindHealth, Status: store.StatusOK, StartedAt: at(3 * time.Minute)},
		{SID: "s5", Kind: store.KindApply, Status: store.StatusRunning, Resources: []string{"billing"}, StartedAt: at(4 * time.Minute)},
	} {
		create(t, s, in)
	}
	tests := []struct {
		name   string
		filter store.Filter
		want   []string
	}{
		{"all", store.Filter{}, []string{"s5", "s4", "s3", "s2", "s1"}},
		{"kind", store.Filter{Kind: store.KindPlan}, []string{"s3", "s1"}},
		{"kind without sessions", store.Filter{Kind: store.KindDrift}, []string{}},
		{"resource", store.Filter{Resource: "billing"}, []string{"s5", "s3", "s2"}},
		{"resource matches exactly", store.Filter{Resource: "analytic"}, []string{}},
		{"status", store.Filter{Status: store.StatusApplied}, []string{"s2"}},
		{"status running", store.Filter{Status: store.StatusRunning}, []string{"s5"}},
		{"since is inclusive", store.Filter{Since: at(2 * time.Minute)}, []string{"s5", "s4", "s3"}},
		{"since after all", store.Filter{Since: at(time.Hour)}, []string{}},
		{"limit", store.Filter{Limit: 2}, []string{"s5", "s4"}},
		{"kind and resource", store.Filter{Kind: store.KindApply, Resource: "analytics"}, []string{"s2"}},
		{"kind and since", store.Filter{Kind: store.KindPlan, Since: at(time.Minute)}, []string{"s3"}},
		{"resource, status and limit", store.Filter{Resource: "billing", Status: store.StatusNoChanges, Limit: 1}, []string{"s3"}},
		{"role", store.Filter{Role: "r_a"}, []string{"s2", "s1"}},
		{"role matches exactly", store.Filter{Role: "r_"}, []string{}},
		{"actor", store.Filter{Actor: "alice"}, []string{"s1"}},
		{"until is exclusive", store.Filter{Until: at(2 * time.Minute)}, []string{"s2", "s1"}},
		{"since and until", store.Filter{Since: at(time.Minute), Until: at(3 * time.Minute)}, []string{"s3", "s2"}},
		{"exclude kinds", store.Filter{ExcludeKinds: []store.Kind{store.KindPlan, store.KindHealth}}, []string{"s5", "s2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			list, err := s.ListSessions(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			equal(t, "SIDs", sids(list), tc.want)
			for _, got := range list {
				if got.Statements != nil {
					t.Errorf("session %s listed with statements", got.SID)
				}
				if got.SID == "s2" {
					equal(t, "resources of s2", got.Resources, []string{"analytics", "billing"})
				}
			}
		})
	}
}

func testListLimit(t *testing.T, s store.Store) {
	const n = 105
	for i := range n {
		create(t, s, store.Session{SID: fmt.Sprintf("s%03d", i), Kind: store.KindHealth, Status: store.StatusOK,
			StartedAt: at(time.Duration(i) * time.Second)})
	}
	var want []string
	for i := n - 1; i >= n-100; i-- {
		want = append(want, fmt.Sprintf("s%03d", i))
	}
	list, err := s.ListSessions(t.Context(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "ListSessions without a limit: the newest 100", sids(list), want)
	list, err = s.ListSessions(t.Context(), store.Filter{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "ListSessions(Limit: 3)", sids(list), want[:3])
	if _, err := s.ListSessions(t.Context(), store.Filter{Limit: -1}); err == nil {
		t.Error("ListSessions(Limit: -1) succeeded")
	}
}

func testRunningFinishOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	created := create(t, s, store.Session{SID: "apply", Kind: store.KindApply, Status: store.StatusRunning,
		Detail: json.RawMessage(`{"started":true}`), StartedAt: at(0)})
	if got := get(t, s, "apply"); got.Status != store.StatusRunning || !got.FinishedAt.IsZero() {
		t.Fatalf("running session: status %q, finished %v", got.Status, got.FinishedAt)
	}
	for seq := 1; seq <= 2; seq++ {
		if err := s.AppendStatement(ctx, "apply", store.Statement{Seq: seq, SQL: "SELECT 1", Outcome: "ok", At: at(time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	// Several in one call, in order, numbered on from the last one.
	if err := s.AppendStatements(ctx, "apply", []store.Statement{{SQL: "SELECT 2", Outcome: "ok", At: at(time.Second)},
		{SQL: "GRANT x TO a, b", Role: "a, b", Roles: []string{"a", "b"}, Outcome: "ok", At: at(time.Second)}}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, s, "apply").Statements; len(got) != 4 || got[2].Seq != 3 || got[3].Seq != 4 || got[3].SQL != "GRANT x TO a, b" ||
		!slices.Equal(got[3].Roles, []string{"a", "b"}) || got[2].Roles != nil {
		t.Fatalf("statements after AppendStatements = %+v", got)
	}
	wantOtherError(t, "FinishSession with status running", s.FinishSession(ctx, "apply", store.StatusRunning, nil, "", at(time.Minute)))

	// A nil detail keeps the session's detail.
	if err := s.FinishSession(ctx, "apply", store.StatusFailed, nil, "boom", at(time.Minute)); err != nil {
		t.Fatalf("FinishSession: %v", err)
	}
	want := created
	want.Status, want.Error, want.FinishedAt = store.StatusFailed, "boom", at(time.Minute)
	got := get(t, s, "apply")
	want.Statements = got.Statements
	equal(t, "finished session", *got, want)
	if len(got.Statements) != 4 {
		t.Errorf("got %d statements, want 4", len(got.Statements))
	}

	wantOtherError(t, "second FinishSession", s.FinishSession(ctx, "apply", store.StatusApplied, json.RawMessage(`{}`), "", at(time.Hour)))
	wantOtherError(t, "AppendStatement to a finished session", s.AppendStatement(ctx, "apply", store.Statement{Seq: 5, SQL: "SELECT 2", Outcome: "ok"}))
	equal(t, "session after the refused calls", *get(t, s, "apply"), *got)

	create(t, s, store.Session{SID: "plan", Kind: store.KindPlan, Status: store.StatusChanges, StartedAt: at(0), FinishedAt: at(time.Second)})
	wantOtherError(t, "FinishSession of a session created finished", s.FinishSession(ctx, "plan", store.StatusApplied, nil, "", at(time.Hour)))
	wantOtherError(t, "AppendStatement to a session created finished", s.AppendStatement(ctx, "plan", store.Statement{Seq: 1, SQL: "SELECT 1"}))
}

func testStatementsOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	create(t, s, store.Session{SID: "apply", Kind: store.KindApply, Status: store.StatusRunning, StartedAt: at(0)})
	if got := get(t, s, "apply").Statements; len(got) != 0 {
		t.Errorf("new session has statements %s", dump(got))
	}
	stmt := func(seq int, outcome string) store.Statement {
		return store.Statement{
			Seq: seq, Resource: "analytics", Role: fmt.Sprintf("role_%d", seq), Database: "analytics",
			SQL:     fmt.Sprintf(`GRANT SELECT ON "public"."t%d" TO "role_%d"`, seq, seq),
			Outcome: outcome, Duration: time.Duration(seq) * 1500 * time.Microsecond, At: at(time.Duration(seq) * time.Second),
		}
	}
	failed := stmt(2, "failed")
	failed.Error = `permission denied for table "t2"`
	// Appended out of order; the last one is numbered by the store.
	for _, st := range []store.Statement{stmt(3, "skipped"), stmt(1, "ok"), failed, stmt(0, "rolled-back")} {
		if err := s.AppendStatement(ctx, "apply", st); err != nil {
			t.Fatalf("AppendStatement(seq %d): %v", st.Seq, err)
		}
	}
	wantOtherError(t, "AppendStatement with a used Seq", s.AppendStatement(ctx, "apply", stmt(2, "ok")))
	last := stmt(0, "rolled-back")
	last.Seq = 4
	equal(t, "statements", get(t, s, "apply").Statements, []store.Statement{stmt(1, "ok"), failed, stmt(3, "skipped"), last})

	// Statements given to CreateSession are stored too, numbered by position.
	first, second := stmt(1, "ok"), stmt(2, "ok")
	first.Seq, second.Seq = 0, 0
	created := create(t, s, store.Session{SID: "imported", Kind: store.KindApply, Status: store.StatusApplied,
		StartedAt: at(0), FinishedAt: at(time.Minute), Statements: []store.Statement{first, second}})
	equal(t, "statements of a created session", get(t, s, "imported").Statements, []store.Statement{stmt(1, "ok"), stmt(2, "ok")})
	equal(t, "statements written back by CreateSession", created.Statements, []store.Statement{stmt(1, "ok"), stmt(2, "ok")})
}
