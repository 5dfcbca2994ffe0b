package reconciler

import (
	"slices"
	"strconv"
	"sync"
)

// taskKind is what a task does.
type taskKind int

const (
	// taskPoll fetches the repository, lists open pull requests and queues
	// what changed.
	taskPoll taskKind = iota
	// taskPR reconciles one pull request: plan its head, or its merge.
	taskPR
	// taskBranch handles a new branch head: merges first, then a drift
	// check of the new head (a direct push).
	taskBranch
	// taskDrift re-plans the branch head against every resource.
	taskDrift
	// taskCommand runs a /rolecd comment command.
	taskCommand
)

// task is one unit of work. Tasks with the same key coalesce: ten
// deliveries for one pull request become one task, planned once at the
// latest head.
type task struct {
	key  string
	kind taskKind
	pr   int
	// force re-plans a pull request whose head was planned already (/rolecd plan).
	force bool
	// remediate applies what a drift check finds.
	remediate bool
	cmd       *command
	// deliveries are the webhook deliveries this task answers: marked
	// processed when it is done.
	deliveries []string
}

func prTask(n int) task { return task{key: "pr/" + strconv.Itoa(n), kind: taskPR, pr: n} }

func pollTask() task { return task{key: "poll", kind: taskPoll} }

func branchTask() task { return task{key: "branch", kind: taskBranch} }

func driftTask(remediate bool) task { return task{key: "drift", kind: taskDrift, remediate: remediate} }

// queue is a FIFO of tasks keyed for coalescing: adding a task whose key is
// queued merges into the queued one (and keeps its place).
type queue struct {
	mu    sync.Mutex
	order []string
	tasks map[string]*task
	// wake has a buffer of one: a send means "there may be work".
	wake chan struct{}
}

func newQueue() *queue {
	return &queue{tasks: map[string]*task{}, wake: make(chan struct{}, 1)}
}

// add queues t, or merges it into the queued task with its key.
func (q *queue) add(t task) {
	q.mu.Lock()
	if old, ok := q.tasks[t.key]; ok {
		old.force = old.force || t.force
		old.remediate = old.remediate || t.remediate
		for _, d := range t.deliveries {
			if !slices.Contains(old.deliveries, d) {
				old.deliveries = append(old.deliveries, d)
			}
		}
	} else {
		c := t
		c.deliveries = slices.Clone(t.deliveries)
		q.tasks[t.key] = &c
		q.order = append(q.order, t.key)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// next removes and returns the oldest task.
func (q *queue) next() (task, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return task{}, false
	}
	key := q.order[0]
	q.order = q.order[1:]
	t := q.tasks[key]
	delete(q.tasks, key)
	return *t, true
}

// len is the number of queued tasks.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}
