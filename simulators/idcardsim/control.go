package idcardsim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/qingshan-gov/veinkiosk/simulators/internal/loopback"
)

// Handler returns the HTTP control API (JSON in and out):
//
//	GET    /state                      simulator state
//	GET    /residents                  the deck: id_number, name, card_type, valid
//	POST   /card   {"id_number": ID}   put a resident's card on the reader
//	DELETE /card                       take the card away
//	POST   /fault  {"kind": K, "count": N}   arm a fault (see FaultKinds)
//	DELETE /fault                      disarm every fault
//	GET    /faults                     the fault kinds with descriptions
//	POST   /unplug                     close the pty
//	POST   /replug                     open a new pty; returns the state
//
// Errors come back as {"error": "..."} with a 4xx status. Serve it on
// 127.0.0.1 only: it has no authentication.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("GET /residents", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.residents())
	})
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, FaultKinds)
	})
	mux.HandleFunc("POST /card", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			IDNumber string `json:"id_number"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if err := s.Insert(req.IDNumber); err != nil {
			code := http.StatusBadRequest
			if errors.Is(err, ErrUnknownResident) {
				code = http.StatusNotFound
			}
			writeError(w, code, err)
			return
		}
		writeJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("DELETE /card", func(w http.ResponseWriter, r *http.Request) {
		s.Remove()
		writeJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("POST /fault", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Kind  FaultKind `json:"kind"`
			Count int       `json:"count"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if err := s.InjectFault(req.Kind, req.Count); err != nil && !errors.Is(err, ErrUnplugged) {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("DELETE /fault", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		writeJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("POST /unplug", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Unplug(); err != nil && !errors.Is(err, ErrUnplugged) {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("POST /replug", func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.Replug(); err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, s.State())
	})
	return mux
}

// ResidentInfo is one row of GET /residents and of the console's list.
type ResidentInfo struct {
	IDNumber string `json:"id_number"`
	Name     string `json:"name"`
	CardType string `json:"card_type"`
	Valid    bool   `json:"valid"` // the card passes validation on the deck's date
}

func (s *Sim) residents() []ResidentInfo {
	at := s.deck.AsOfTime()
	out := make([]ResidentInfo, 0, len(s.deck.Residents))
	for _, r := range s.deck.Residents {
		info := ResidentInfo{IDNumber: r.IDNumber, Name: r.Name, CardType: r.CardType}
		if c, err := r.Card(); err == nil {
			info.Valid = c.Validate(at) == nil
		}
		out = append(out, info)
	}
	return out
}

const maxBody = 4 << 10

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("bad request body: %w", err))
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, errors.New("bad request body: trailing data"))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

// ServeHTTP serves the control API on addr (e.g. 127.0.0.1:7301, or
// 127.0.0.1:0 for any port) until ctx ends. It refuses addresses that are
// not loopback. ready, if not nil, receives the
// bound address.
func (s *Sim) ServeHTTP(ctx context.Context, addr string, ready func(addr string)) error {
	return loopback.Serve(ctx, "idcardsim", addr, s.Handler(), ready)
}

const consoleHelp = `commands:
  insert ID          put the card of resident ID on the reader
  remove             take the card away
  fault KIND [N]     arm a fault for N responses (default 1, -1 until clear)
  clear              disarm every fault
  faults             list the fault kinds
  unplug | replug    close the pty | open a new one
  list               list the deck's residents
  state              show the state
  help`

// Console reads commands from in, one a line, and answers on out ("ok ..."
// or "error: ...") until in ends or ctx is done.
func (s *Sim) Console(ctx context.Context, in io.Reader, out io.Writer) error {
	lines := make(chan string)
	errc := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		errc <- sc.Err()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errc:
			return err
		case l := <-lines:
			if reply := s.command(l); reply != "" {
				fmt.Fprintln(out, reply)
			}
		}
	}
}

// command runs one console line and returns the reply.
func (s *Sim) command(line string) string {
	f := strings.Fields(line)
	if len(f) == 0 {
		return ""
	}
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	switch strings.ToLower(f[0]) {
	case "insert", "i":
		if err := s.Insert(arg(1)); err != nil {
			return "error: " + err.Error()
		}
		return "ok inserted " + arg(1)
	case "remove", "r":
		s.Remove()
		return "ok removed"
	case "fault", "f":
		n := 1
		if a := arg(2); a != "" {
			var err error
			if n, err = strconv.Atoi(a); err != nil {
				return "error: count " + strconv.Quote(a) + " is not a number"
			}
		}
		if err := s.InjectFault(FaultKind(arg(1)), n); err != nil {
			return "error: " + err.Error()
		}
		return "ok fault " + arg(1)
	case "clear":
		s.ClearFaults()
		return "ok faults cleared"
	case "faults":
		kinds := make([]string, 0, len(FaultKinds))
		for k, d := range FaultKinds {
			kinds = append(kinds, fmt.Sprintf("  %-18s %s", k, d))
		}
		sort.Strings(kinds)
		return "ok\n" + strings.Join(kinds, "\n")
	case "unplug":
		if err := s.Unplug(); err != nil {
			return "error: " + err.Error()
		}
		return "ok unplugged"
	case "replug":
		path, err := s.Replug()
		if err != nil {
			return "error: " + err.Error()
		}
		return "ok device: " + path
	case "list", "ls":
		var b strings.Builder
		b.WriteString("ok")
		for _, r := range s.residents() {
			valid := "valid"
			if !r.Valid {
				valid = "INVALID"
			}
			fmt.Fprintf(&b, "\n  %-18s %-8s %-17s %s", r.IDNumber, r.Name, r.CardType, valid)
		}
		return b.String()
	case "state":
		j, _ := json.Marshal(s.State())
		return "ok " + string(j)
	case "help", "?":
		return consoleHelp
	}
	return fmt.Sprintf("error: unknown command %q (try help)", f[0])
}
