package kiosk

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/qingshan-gov/veinkiosk/kiosk/session"
	"github.com/qingshan-gov/veinkiosk/kiosk/ui"
)

// Handler serves the touchscreen UI, its event stream, the touch endpoint,
// /metrics and /healthz.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(ui.FS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServer(http.FS(static))))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		b, err := ui.FS.ReadFile("static/index.html")
		if err != nil {
			http.Error(w, "UI missing", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:")
		w.Write(b)
	})
	mux.HandleFunc("GET /events", d.serveEvents)
	mux.HandleFunc("GET /view", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(d.hub.latest())
	})
	mux.HandleFunc("POST /touch", d.serveTouch)
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(struct {
			ServerUp bool     `json:"server_up"`
			Devices  []Health `json:"devices"`
		}{d.up.Load(), d.devices.Health()})
	})
	return mux
}

func (d *Daemon) serveEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	ch, done := d.hub.subscribe()
	defer done()
	d.metrics.uiClients.Inc()
	defer d.metrics.uiClients.Dec()
	fmt.Fprint(w, "retry: 1000\n\n")
	fl.Flush()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case b := <-ch:
			fmt.Fprintf(w, "event: view\ndata: %s\n\n", b)
			fl.Flush()
		case <-keep.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			fl.Flush()
		}
	}
}

// touchRequest is the body of POST /touch.
type touchRequest struct {
	Action string            `json:"action"`
	Arg    string            `json:"arg"`
	Values map[string]string `json:"values"`
}

func (d *Daemon) serveTouch(w http.ResponseWriter, r *http.Request) {
	// Only the kiosk's own page may act: a same-origin JSON request.
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		http.Error(w, "want application/json", http.StatusUnsupportedMediaType)
		return
	}
	var t touchRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		http.Error(w, "bad touch: "+err.Error(), http.StatusBadRequest)
		return
	}
	if t.Action == "" || len(t.Action) > 32 || len(t.Arg) > 128 || len(t.Values) > 8 || strings.ContainsAny(t.Action, " \n") {
		http.Error(w, "bad touch", http.StatusBadRequest)
		return
	}
	for k, v := range t.Values {
		if len(k) > 32 || len(v) > 512 {
			http.Error(w, "bad touch value", http.StatusBadRequest)
			return
		}
	}
	d.Touch(session.Touch{Action: t.Action, Arg: t.Arg, Values: t.Values})
	w.WriteHeader(http.StatusNoContent)
}
