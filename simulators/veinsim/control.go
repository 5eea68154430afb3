package veinsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"

	"github.com/qingshan-gov/veinkiosk/simulators/deck"
	"github.com/qingshan-gov/veinkiosk/simulators/internal/loopback"
)

// deckLister is a ResidentLookup that can show its deck.
type deckLister interface{ Residents() *deck.Deck }

// deck returns the resident deck, or nil.
func (d *Device) deck() *deck.Deck {
	if l, ok := d.cfg.Residents.(deckLister); ok {
		return l.Residents()
	}
	return nil
}

// Handler returns the HTTP control channel of the device, JSON in and out:
//
//	GET    /status                       the Status
//	POST   /finger  {"resident":"ID","finger":N} or {"seed":S}   place a finger
//	POST   /finger  {"again":true}       place the finger again: the one lifted last, or the one on the window lifted and put back (a new placement)
//	DELETE /finger                       lift the finger off the window
//	POST   /fault   {"fault":"corrupt-frame"}                  choose a fault ("none" heals)
//	DELETE /fault                        heal
//	POST   /quality {"quality":0.5}      fingerimg quality 0..1
//	POST   /unplug, POST /replug
//	GET    /deck                         the resident deck as JSON (devsim vein --deck FILE loads it)
//	GET    /deck.csv                     the deck as CSV (id_number, name, ...)
//
// Every answer but /deck's is the Status after the change, or {"error":
// "..."} with a 4xx code. Every POST must carry Content-Type:
// application/json, with or without a body (415 otherwise): a web page
// cannot send that without a CORS preflight, which this channel never
// grants, so no page a browser shows can drive it. Bodies are limited to
// 4 KiB and unknown fields are rejected.
func (d *Device) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { d.reply(w, nil) })
	mux.HandleFunc("GET /deck", func(w http.ResponseWriter, r *http.Request) {
		dk := d.deck()
		if dk == nil {
			d.reply(w, &httpError{http.StatusNotFound, "this simulator has no resident deck"})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		dk.Save(w)
	})
	mux.HandleFunc("GET /deck.csv", func(w http.ResponseWriter, r *http.Request) {
		dk := d.deck()
		if dk == nil {
			d.reply(w, &httpError{http.StatusNotFound, "this simulator has no resident deck"})
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		dk.WriteCSV(w)
	})
	mux.HandleFunc("POST /finger", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Resident string  `json:"resident"`
			Finger   int     `json:"finger"`
			Seed     *uint64 `json:"seed"`
			Again    bool    `json:"again"`
		}
		if err := decode(r, &req); err != nil {
			d.reply(w, err)
			return
		}
		switch {
		case req.Again && (req.Resident != "" || req.Seed != nil):
			d.reply(w, badRequest("again puts the lifted finger back: no resident or seed with it"))
		case req.Again:
			if !d.PutBackFinger() {
				d.reply(w, badRequest("no finger to place again: place one by resident or seed"))
				return
			}
			d.reply(w, nil)
		case req.Resident != "" && req.Seed != nil:
			d.reply(w, badRequest("give resident and finger, or seed, not both"))
		case req.Resident != "":
			if req.Finger == 0 {
				req.Finger = 2 // right index finger
			}
			err := d.PlaceResident(req.Resident, req.Finger)
			if err != nil && !errors.Is(err, ErrUnknownResident) && !errors.Is(err, ErrInvalidID) {
				err = badRequest(err.Error())
			}
			d.reply(w, err)
		case req.Seed != nil:
			d.PlaceFinger(*req.Seed)
			d.reply(w, nil)
		default:
			d.reply(w, badRequest("need resident (and finger), seed, or again"))
		}
	})
	mux.HandleFunc("DELETE /finger", func(w http.ResponseWriter, r *http.Request) { d.LiftFinger(); d.reply(w, nil) })
	mux.HandleFunc("POST /fault", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Fault string `json:"fault"`
		}
		if err := decode(r, &req); err != nil {
			d.reply(w, err)
			return
		}
		f, err := ParseFault(req.Fault)
		if err != nil {
			d.reply(w, badRequest(err.Error()))
			return
		}
		d.reply(w, d.SetFault(f))
	})
	mux.HandleFunc("DELETE /fault", func(w http.ResponseWriter, r *http.Request) { d.reply(w, d.SetFault(FaultNone)) })
	mux.HandleFunc("POST /quality", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Quality *float64 `json:"quality"`
		}
		if err := decode(r, &req); err != nil {
			d.reply(w, err)
			return
		}
		if req.Quality == nil {
			d.reply(w, badRequest("need quality"))
			return
		}
		if err := d.SetQuality(*req.Quality); err != nil {
			d.reply(w, badRequest(err.Error()))
			return
		}
		d.reply(w, nil)
	})
	mux.HandleFunc("POST /unplug", func(w http.ResponseWriter, r *http.Request) { d.Unplug(); d.reply(w, nil) })
	mux.HandleFunc("POST /replug", func(w http.ResponseWriter, r *http.Request) { d.Replug(); d.reply(w, nil) })
	return loopbackHost(jsonPosts(mux))
}

// jsonPosts refuses a POST whose Content-Type is not application/json
// (also one without a body or a Content-Type), so that no page in a
// browser can post to the channel: browsers send a cross-origin POST
// with that type only after a CORS preflight, which is never granted.
// DELETE needs no check: browsers always preflight it.
func jsonPosts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnsupportedMediaType)
				json.NewEncoder(w).Encode(map[string]string{"error": "POST needs Content-Type: application/json (also without a body)"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost refuses requests whose Host is not a loopback name or
// address: a web page that rebinds its DNS name to 127.0.0.1 cannot drive
// the simulator from a browser.
func loopbackHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			http.Error(w, `{"error":"the control channel answers only loopback hosts"}`, http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(msg string) error { return &httpError{http.StatusBadRequest, msg} }

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest(fmt.Sprintf("bad JSON body: %v", err))
	}
	if dec.More() {
		return badRequest("bad JSON body: trailing data")
	}
	return nil
}

func (d *Device) reply(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		code := http.StatusBadRequest
		var he *httpError
		switch {
		case errors.As(err, &he):
			code = he.code
		case errors.Is(err, ErrUnknownResident):
			code = http.StatusNotFound
		case errors.Is(err, ErrInvalidID):
			code = http.StatusBadRequest
		}
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	json.NewEncoder(w).Encode(d.Status())
}

// ListenControl listens on addr (default 127.0.0.1:0) for the control
// channel. It refuses addresses that are not loopback: the channel has no
// authentication.
func ListenControl(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	return loopback.Listen("veinsim", addr)
}
