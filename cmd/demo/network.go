package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
)

// errNetworkDown is what the kiosk's server calls get while the control
// page's "server down" switch is on.
var errNetworkDown = errors.New("demo: the network to the server is cut (control page switch)")

// netSwitch is the kiosk's HTTP transport to the central server with a
// switch on the control page: while down, every call fails at once as if
// the cable were pulled, so outages can be tried by hand (the server
// itself keeps running).
type netSwitch struct {
	down atomic.Bool
	next http.RoundTripper
}

func (n *netSwitch) RoundTrip(r *http.Request) (*http.Response, error) {
	if n.down.Load() {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, errNetworkDown
	}
	return n.next.RoundTrip(r)
}

type networkState struct {
	Down bool `json:"down"`
}

// handle serves GET and POST /network ({"down": true|false}).
func (n *netSwitch) handle(rw http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var s networkState
		if err := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 1<<10)).Decode(&s); err != nil {
			http.Error(rw, "want {\"down\": true|false}", http.StatusBadRequest)
			return
		}
		n.down.Store(s.Down)
	}
	rw.Header().Set("Content-Type", "application/json")
	json.NewEncoder(rw).Encode(networkState{Down: n.down.Load()})
}
