package printersim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/simulators/internal/loopback"
	"github.com/qingshan-gov/veinkiosk/simulators/pty"
)

// Serve runs the printer on a connection (a pty master, a pipe) until ctx
// ends or the connection fails: it reads what the driver sends and writes
// the status answers back at once.
func (s *Sim) Serve(ctx context.Context, conn io.ReadWriter) error {
	type deadliner interface{ SetReadDeadline(time.Time) error }
	dl, _ := conn.(deadliner)
	buf := make([]byte, 4096)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if dl != nil {
			dl.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		}
		n, err := conn.Read(buf)
		if n > 0 {
			if ans := s.Write(buf[:n]); len(ans) > 0 {
				if _, werr := conn.Write(ans); werr != nil {
					return werr
				}
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return err
		}
	}
}

// PTY is a simulator serving on a pseudo-terminal.
type PTY struct {
	*Sim
	p    *pty.PTY
	done chan struct{}
}

// StartPTY serves a new simulator on a pseudo-terminal until Close; Path
// is the device a driver opens ("serial:" + Path).
func StartPTY(opt Options) (*PTY, error) {
	p, err := pty.Open()
	if err != nil {
		return nil, err
	}
	t := &PTY{Sim: New(opt), p: p, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(t.done)
		defer cancel()
		if err := t.Serve(ctx, p.Master); !errors.Is(err, os.ErrClosed) && !errors.Is(err, context.Canceled) {
			t.log.Warn("printer: pty", "err", err.Error())
		}
	}()
	return t, nil
}

// Path is the slave device path.
func (t *PTY) Path() string { return t.p.Path }

// Close stops serving.
func (t *PTY) Close() error {
	err := t.p.Close()
	<-t.done
	return err
}

// Handler is the HTTP control API (JSON), for 127.0.0.1 only:
//
//	GET  /state                       the State
//	POST /paper  {"out": B, "lines": N}  end the roll, or load one (N lines left; 0 endless)
//	POST /cover  {"open": B}          open or close the cover
//	GET  /receipts                    the receipts cut so far (lines, QR payloads, files)
//	GET  /receipts/N.png              receipt N (1-based) as PNG
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.State()) })
	mux.HandleFunc("POST /paper", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Out   bool `json:"out"`
			Lines int  `json:"lines"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if req.Out {
			s.SetPaperOut(true)
		} else {
			s.SetPaperLines(req.Lines)
		}
		writeJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("POST /cover", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Open bool `json:"open"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		s.SetCoverOpen(req.Open)
		writeJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("GET /receipts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Receipts())
	})
	mux.HandleFunc("GET /receipts/{n}", func(w http.ResponseWriter, r *http.Request) {
		ns, ok := strings.CutSuffix(r.PathValue("n"), ".png")
		n, err := strconv.Atoi(ns)
		rs := s.Receipts()
		if !ok || err != nil || n < 1 || n > len(rs) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such receipt"})
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(rs[n-1].PNG)
	})
	return mux
}

// ServeHTTP serves Handler on a loopback address until ctx ends.
func (s *Sim) ServeHTTP(ctx context.Context, addr string, ready func(addr string)) error {
	return loopback.Serve(ctx, "printersim", addr, s.Handler(), ready)
}

// ConsoleHelp lists the console commands.
const ConsoleHelp = `commands: paper out | paper in [LINES] | cover open | cover closed | state | receipts | help`

// Console reads commands from in until ctx ends or in is exhausted.
func (s *Sim) Console(ctx context.Context, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Fprintln(out, s.Command(sc.Text()))
	}
	return sc.Err()
}

// Command runs one console line and returns the reply.
func (s *Sim) Command(line string) string {
	f := strings.Fields(line)
	switch {
	case len(f) == 0:
		return ""
	case len(f) == 2 && f[0] == "paper" && f[1] == "out":
		s.SetPaperOut(true)
	case len(f) >= 2 && len(f) <= 3 && f[0] == "paper" && f[1] == "in":
		n := 0
		if len(f) == 3 {
			var err error
			if n, err = strconv.Atoi(f[2]); err != nil || n < 0 {
				return "paper in: LINES must be a number >= 0"
			}
		}
		s.SetPaperLines(n)
	case len(f) == 2 && f[0] == "cover" && (f[1] == "open" || f[1] == "closed"):
		s.SetCoverOpen(f[1] == "open")
	case len(f) == 1 && f[0] == "receipts":
		var b strings.Builder
		for i, r := range s.Receipts() {
			fmt.Fprintf(&b, "#%d %d lines, QR %q, incomplete %v %s\n", i+1, len(r.Lines), r.QR, r.Incomplete, r.File)
		}
		return strings.TrimSuffix(b.String(), "\n")
	case len(f) == 1 && f[0] == "help":
		return ConsoleHelp
	case len(f) == 1 && f[0] == "state":
	default:
		return "unknown command; " + ConsoleHelp
	}
	st := s.State()
	return fmt.Sprintf("paper out %v, cover open %v, paper lines %d (0: endless), receipts %d", st.PaperOut, st.CoverOpen, st.PaperLines, st.Receipts)
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
