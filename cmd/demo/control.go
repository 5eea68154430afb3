package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/http"
	"time"

	"github.com/qingshan-gov/veinkiosk/simulators/deck"
	"github.com/qingshan-gov/veinkiosk/simulators/veinsim"
)

//go:embed control.html
var controlPage []byte

type residentRow struct {
	IDNumber string `json:"id_number"`
	Name     string `json:"name"`
	Dibao    bool   `json:"dibao"`
	Enrolled bool   `json:"enrolled"`
	Valid    bool   `json:"valid"`
}

// startControl serves the simulator control page: the two simulators'
// control APIs under /idcard/, /vein/ and /printer/, and the list of residents.
func (w *world) startControl(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		rw.Write(controlPage)
	})
	mux.Handle("/idcard/", http.StripPrefix("/idcard", w.id.Handler()))
	mux.Handle("/vein/", http.StripPrefix("/vein", w.vein.Handler()))
	mux.Handle("/printer/", http.StripPrefix("/printer", w.printer.Handler()))
	mux.HandleFunc("GET /residents", func(rw http.ResponseWriter, r *http.Request) {
		now := time.Now()
		var rows []residentRow
		for _, p := range w.people {
			rows = append(rows, residentRow{IDNumber: p.IDNumber, Name: p.Name, Dibao: p.HasCategory(deck.CategoryDibao),
				Enrolled: w.enrolled(p.IDNumber), Valid: validCard(p, now)})
		}
		rw.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rw).Encode(rows)
	})
	mux.HandleFunc("/network", func(rw http.ResponseWriter, r *http.Request) { w.net.handle(rw, r) })
	mux.HandleFunc("GET /vein-faults", func(rw http.ResponseWriter, r *http.Request) {
		var names []string
		for _, f := range veinsim.Faults() {
			names = append(names, f.String())
		}
		json.NewEncoder(rw).Encode(names)
	})
	ln := w.controlLn
	w.controlURL = "http://" + ln.Addr().String()
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	w.shutdown = append(w.shutdown, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	})
	w.goRun("control", func() error { return hs.Serve(ln) })
	return nil
}
