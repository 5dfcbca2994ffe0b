package reconciler

import (
	"fmt"
	"testing"
)

func TestQueueCoalesces(t *testing.T) {
	q := newQueue()
	a := prTask(1)
	a.deliveries = []string{"d1"}
	q.add(a)
	q.add(branchTask())
	b := prTask(1)
	b.force, b.deliveries = true, []string{"d2", "d1"}
	q.add(b)
	q.add(driftTask(false))
	q.add(driftTask(true))
	if n := q.len(); n != 3 {
		t.Fatalf("len = %d, want 3 (pr/1, branch, drift)", n)
	}
	tests := []struct {
		key       string
		force     bool
		remediate bool
		delivered string
	}{
		{"pr/1", true, false, "[d1 d2]"},
		{"branch", false, false, "[]"},
		{"drift", false, true, "[]"},
	}
	for _, tc := range tests {
		got, ok := q.next()
		if !ok || got.key != tc.key || got.force != tc.force || got.remediate != tc.remediate || fmt.Sprint(got.deliveries) != tc.delivered {
			t.Errorf("next = %+v, want key %s force %v remediate %v deliveries %s", got, tc.key, tc.force, tc.remediate, tc.delivered)
		}
	}
	if _, ok := q.next(); ok {
		t.Error("the queue is not empty")
	}
	// A key taken off the queue can be queued again.
	q.add(prTask(1))
	if got, ok := q.next(); !ok || got.key != "pr/1" || got.force {
		t.Errorf("re-queued task = %+v", got)
	}
	// wake holds one signal however many adds.
	for range 5 {
		q.add(pollTask())
	}
	select {
	case <-q.wake:
	default:
		t.Error("no wake signal")
	}
	select {
	case <-q.wake:
		t.Error("more than one wake signal")
	default:
	}
}
