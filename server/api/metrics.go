package api

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus metrics, on a registry of its own (so
// tests can build many servers).
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.HistogramVec
	match        *prometheus.HistogramVec
	verifies     *prometheus.CounterVec
	lockouts     prometheus.Counter
	authFailures *prometheus.CounterVec
	rateLimited  prometheus.Counter
	// checkBudget counts enrolment checks refused by a kiosk's budget.
	checkBudget prometheus.Counter
	enrolments  *prometheus.CounterVec
	filings     *prometheus.CounterVec
	changes     *prometheus.CounterVec
	changeLag   prometheus.Histogram
	// staleRefusals and staleVerifies count the staleness rule at work
	// (follow.go): 1:N searches refused, 1:1 verifications read from the
	// database.
	staleRefusals prometheus.Counter
	staleVerifies prometheus.Counter
	connRefused   *prometheus.CounterVec
	// Audit anchors (anchor.go): the last one written and the failures.
	anchorTime     prometheus.Gauge
	anchorSeq      prometheus.Gauge
	anchorFailures prometheus.Counter
	gallery        *Gallery
	// galleryLag and galleryStale are the server's (set by New).
	galleryLag   func() float64
	galleryStale func() bool
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "veinkiosk", Name: "http_request_duration_seconds",
		Help:    "HTTP request latency by method, route and status.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route", "status"})
	m.match = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "veinkiosk", Name: "match_duration_seconds",
		Help:    "Matcher latency: verify (1:1), dedup and identify (1:N).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}, []string{"op"})
	m.verifies = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "veinkiosk", Name: "verifications_total",
		Help: "Card + vein verifications by result (match, no_match, error, locked_out).",
	}, []string{"result"})
	m.lockouts = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "veinkiosk", Name: "lockouts_total",
		Help: "ID numbers locked after repeated verification failures.",
	})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "veinkiosk", Name: "kiosk_auth_failures_total",
		Help: "Rejected kiosk requests by reason.",
	}, []string{"reason"})
	m.rateLimited = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "veinkiosk", Name: "rate_limited_total",
		Help: "Requests refused by a rate limit.",
	})
	m.checkBudget = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "veinkiosk", Name: "enrolment_check_budget_exceeded_total",
		Help: "Enrolment checks refused because the kiosk had too many unanswered ones in the window (an enumeration with a kiosk's key?).",
	})
	m.enrolments = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "veinkiosk", Name: "enrolments_total",
		Help: "Enrolments by outcome (enrolled, replaced, duplicate, inconsistent).",
	}, []string{"outcome"})
	m.filings = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "veinkiosk", Name: "filings_total",
		Help: "Filings created, by service.",
	}, []string{"service"})
	m.changes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "veinkiosk", Name: "changes_applied_total",
		Help: "Changes of the change log (other replicas' enrolments, kiosk status) applied to this replica's memory, by kind.",
	}, []string{"kind"})
	m.changeLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "veinkiosk", Name: "change_lag_seconds",
		Help:    "From a change's write (its transaction's clock) to its application to this replica's memory.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	})
	m.connRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "veinkiosk", Name: "connections_refused_total",
		Help: "Connections closed before their first request, by reason (per_address: over --max-conns-per-ip; proxy_header: a PROXY header refused, malformed, missing from a trusted proxy or too slow).",
	}, []string{"reason"})
	m.staleRefusals = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "veinkiosk", Name: "gallery_stale_refusals_total",
		Help: "1:N searches (deduplication, identification) refused with gallery_stale because the gallery had not followed the change log within its bound.",
	})
	m.staleVerifies = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "veinkiosk", Name: "gallery_stale_verifications_total",
		Help: "1:1 verifications compared with templates read from the database because the gallery was stale.",
	})
	m.anchorTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "veinkiosk", Name: "audit_anchor_last_timestamp_seconds",
		Help: "When this server last wrote a signed audit anchor (Unix time; 0: none since start or anchoring off).",
	})
	m.anchorSeq = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "veinkiosk", Name: "audit_anchor_last_seq",
		Help: "Sequence number of the audit record the last anchor signed.",
	})
	m.anchorFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "veinkiosk", Name: "audit_anchor_failures_total",
		Help: "Audit anchors that could not be written (head unreadable, file not writable, disk full); the service goes on.",
	})
	m.reg.MustRegister(m.requests, m.match, m.verifies, m.lockouts, m.authFailures, m.rateLimited, m.checkBudget, m.enrolments, m.filings, m.changes, m.changeLag,
		m.staleRefusals, m.staleVerifies, m.connRefused, m.anchorTime, m.anchorSeq, m.anchorFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "veinkiosk", Name: "gallery_templates", Help: "Templates in the in-memory 1:N gallery.",
		}, func() float64 { return float64(m.gallery.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "veinkiosk", Name: "gallery_residents", Help: "Residents with templates in the gallery.",
		}, func() float64 { return float64(m.gallery.Residents()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "veinkiosk", Name: "gallery_lag_seconds",
			Help: "How long ago this replica's gallery was last known to hold every committed change (the start of its last complete read of the change log); 0 when it does not follow one.",
		}, func() float64 { return m.galleryLag() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "veinkiosk", Name: "gallery_stale",
			Help: "1 while the gallery lag exceeds its bound (--gallery-max-lag): no 1:N search, not ready.",
		}, func() float64 {
			if m.galleryStale() {
				return 1
			}
			return 0
		}),
	)
	return m
}

// registerBulkMode exports the bulk enrolment mode in force
// (veinkiosk_bulk_enrolment_mode{mode} 1), so an unchecked server shows.
func (m *metrics) registerBulkMode(mode string) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "veinkiosk", Name: "bulk_enrolment_mode",
		Help: "1 for the administrators' bulk enrolment mode in force (--bulk-enrolment: off, migrate, unchecked).",
	}, []string{"mode"})
	g.WithLabelValues(mode).Set(1)
	m.reg.MustRegister(g)
}
