package reconciler

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the daemon's Prometheus metrics, registered on a registry of
// their own (never the global one).
type metrics struct {
	registry   *prometheus.Registry
	plans      *prometheus.CounterVec
	applies    *prometheus.CounterVec
	refusals   *prometheus.CounterVec
	drift      *prometheus.GaugeVec
	duration   *prometheus.HistogramVec
	deliveries *prometheus.CounterVec
	forgeErrs  *prometheus.CounterVec
	outbox     prometheus.Gauge
	leader     prometheus.Gauge
	// overdue is set by New: how long the running task is past its
	// deadline (0: none is).
	overdue prometheus.Collector
}

func newMetrics(overdue func() float64) *metrics {
	m := &metrics{
		overdue: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rolecd_task_overdue_seconds", Help: "How long the running task is past its deadline (0 when none is).",
		}, overdue),
		registry: prometheus.NewRegistry(),
		plans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rolecd_plans_total", Help: "Plans made, by trigger (pr, merge, drift) and outcome (changes, no-changes, invalid, error).",
		}, []string{"trigger", "outcome"}),
		applies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rolecd_applies_total", Help: "Applies run, by trigger (merge, approval, drift, push) and session status (applied, refused, failed).",
		}, []string{"trigger", "status"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rolecd_refusals_total", Help: "Applies not run, by reason (checksum-mismatch, permission, digest, not-waiting, invalid-merge).",
		}, []string{"reason"}),
		drift: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rolecd_drift_roles", Help: "Roles whose live state differs from the branch head, per resource, at the last drift check.",
		}, []string{"resource"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rolecd_reconcile_duration_seconds", Help: "Duration of reconcile tasks, by task (poll, pr, branch, drift, command) and result (ok, stalled, waiting).",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 10),
		}, []string{"task", "result"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rolecd_webhook_deliveries_total", Help: "Webhook deliveries received, by event and result (accepted, duplicate, ignored, foreign, unauthorized, invalid, error).",
		}, []string{"event", "result"}),
		forgeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rolecd_github_api_errors_total", Help: "Failed calls to the forge API (GitHub) after the client's own retries, by operation.",
		}, []string{"op"}),
		outbox: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rolecd_outbox_due", Help: "Reports due for posting that the last flush could not post.",
		}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rolecd_leader", Help: "1 when this daemon holds the reconciler lease.",
		}),
	}
	m.registry.MustRegister(m.plans, m.applies, m.refusals, m.drift, m.duration, m.deliveries, m.forgeErrs, m.outbox, m.leader, m.overdue,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
