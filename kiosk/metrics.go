package kiosk

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the daemon's Prometheus metrics. They carry no personal data:
// labels are phases, outcomes and device names only.
type Metrics struct {
	Registry    *prometheus.Registry
	sessions    *prometheus.CounterVec
	transitions *prometheus.CounterVec
	captures    *prometheus.CounterVec
	quality     prometheus.Histogram
	serverCalls *prometheus.HistogramVec
	serverUp    prometheus.Gauge
	deviceUpG   *prometheus.GaugeVec
	cardEvents  *prometheus.CounterVec
	filings     *prometheus.CounterVec
	receipts    *prometheus.CounterVec
	uiClients   prometheus.Gauge
}

// NewMetrics registers the metrics on a fresh registry (with the Go and
// process collectors).
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "veinkiosk", Name: "sessions_ended_total",
			Help: "Resident sessions ended, by the phase they ended in.",
		}, []string{"phase"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "veinkiosk", Name: "phase_entered_total",
			Help: "Times each session phase was entered.",
		}, []string{"phase"}),
		captures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "veinkiosk", Name: "captures_total",
			Help: "Finger captures by purpose and outcome.",
		}, []string{"purpose", "outcome"}),
		quality: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "veinkiosk", Name: "capture_quality",
			Help: "Quality score (0-100) of successful captures.", Buckets: prometheus.LinearBuckets(10, 10, 9),
		}),
		serverCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "veinkiosk", Name: "server_call_seconds",
			Help: "Central server calls by operation and outcome.", Buckets: prometheus.DefBuckets,
		}, []string{"op", "outcome"}),
		serverUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "veinkiosk", Name: "server_up",
			Help: "1 when the last health probe of the central server succeeded.",
		}),
		deviceUpG: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "veinkiosk", Name: "device_up",
			Help: "1 when the device is connected.",
		}, []string{"device"}),
		cardEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "veinkiosk", Name: "card_events_total",
			Help: "ID-card reader events (read, removed, failed).",
		}, []string{"event"}),
		filings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "veinkiosk", Name: "filings_total",
			Help: "Filings submitted from this kiosk by outcome.",
		}, []string{"outcome"}),
		receipts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "veinkiosk", Name: "receipts_total",
			Help: "Receipt print jobs by outcome (printed, paper_out, cover_open, failed).",
		}, []string{"outcome"}),
		uiClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "veinkiosk", Name: "ui_clients",
			Help: "Browsers connected to the live event stream.",
		}),
	}
	r.MustRegister(m.sessions, m.transitions, m.captures, m.quality, m.serverCalls, m.serverUp,
		m.deviceUpG, m.cardEvents, m.filings, m.receipts, m.uiClients,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) deviceUp(name string, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.deviceUpG.WithLabelValues(name).Set(v)
}

func (m *Metrics) cardEvent(ev string) {
	if m != nil {
		m.cardEvents.WithLabelValues(ev).Inc()
	}
}

func (m *Metrics) serverCall(op string, start time.Time, err error) {
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.serverCalls.WithLabelValues(op, outcome).Observe(time.Since(start).Seconds())
}
