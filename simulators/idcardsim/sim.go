// Package idcardsim plays a SAM resident ID-card reader on a pseudo-terminal,
// speaking the real wire protocol through the shared codec
// (devices/idcard/sam), so that the real driver, serial code included, runs
// against it without hardware.
//
// Cards come from a resident deck (simulators/deck) and are inserted and
// removed by ID number. Timing is realistic by default (a find with no card
// answers in tens of milliseconds, a full read takes about a second) and
// configurable, so tests run fast. Faults can be injected: no card, SAM and
// authentication errors (31, 32, 33, 41, 60), a card pulled out mid-read,
// bad checksums, garbage before the preamble, truncated frames, a slow or
// hung reader, and unplugging (the pty closes; Replug opens a new one).
//
// Control it in process (Insert, Remove, InjectFault, Unplug, Replug,
// State), over HTTP (Handler: GET /state, POST /card, DELETE /card, POST
// /fault, DELETE /fault, POST /unplug, POST /replug, GET /residents) or with
// a line protocol (Console: insert ID, remove, fault KIND [COUNT], clear,
// unplug, replug, list, state, help).
package idcardsim

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/idcard/sam"
	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
	"github.com/qingshan-gov/veinkiosk/simulators/pty"
)

// Timing sets how long the simulated reader takes to answer.
type Timing struct {
	FindNoCard time.Duration // find with an empty field
	Find       time.Duration // find with a card
	Select     time.Duration
	Read       time.Duration // 30 01: RF exchange and SAM authentication
	ReadFinger time.Duration // 30 10
	SAM        time.Duration // 10 FF, 11 FF, 12 FF, 61 FF, unknown commands
	Slow       time.Duration // added to an answer by the "slow" fault
}

// DefaultTiming is close to real readers.
func DefaultTiming() Timing {
	return Timing{
		FindNoCard: 30 * time.Millisecond,
		Find:       45 * time.Millisecond,
		Select:     60 * time.Millisecond,
		Read:       900 * time.Millisecond,
		ReadFinger: 1200 * time.Millisecond,
		SAM:        20 * time.Millisecond,
		Slow:       3 * time.Second,
	}
}

// FastTiming answers at once (the slow fault still adds 300 ms), for tests.
func FastTiming() Timing {
	return Timing{Slow: 300 * time.Millisecond}
}

// FaultKind names an injectable fault.
type FaultKind string

// Faults. Status faults hit the next response to the command they concern;
// frame faults hit the next response of any command.
const (
	FaultNoCard           FaultKind = "nocard"            // find answers 80 although a card is in the field
	FaultCardAuth         FaultKind = "card_auth"         // read answers 31
	FaultSAMAuth          FaultKind = "sam_auth"          // read answers 32
	FaultDataVerification FaultKind = "data_verification" // read answers 33
	FaultReadFailed       FaultKind = "read_failed"       // read answers 41
	FaultPull             FaultKind = "pull"              // card pulled out mid-read: 41, and the card is gone
	FaultSAM              FaultKind = "sam"               // any command answers 60 (SAM self-test failed)
	FaultChecksum         FaultKind = "checksum"          // the response's CHK is wrong
	FaultGarbage          FaultKind = "garbage"           // random bytes before the preamble
	FaultTruncated        FaultKind = "truncated"         // only part of the response is sent
	FaultSlow             FaultKind = "slow"              // the response comes Timing.Slow late
	FaultHang             FaultKind = "hang"              // no response at all
	FaultUnplug           FaultKind = "unplug"            // the device disappears at once (count ignored)
)

// FaultKinds lists every fault with a description.
var FaultKinds = map[FaultKind]string{
	FaultNoCard:           "find answers 80 (no card) although a card is present",
	FaultCardAuth:         "read answers 31: the card failed to authenticate the SAM",
	FaultSAMAuth:          "read answers 32: the SAM failed to authenticate the card",
	FaultDataVerification: "read answers 33: data verification error",
	FaultReadFailed:       "read answers 41: read failed",
	FaultPull:             "the card is pulled out during the read: 41, and the field is empty",
	FaultSAM:              "any command answers 60: SAM self-test failed",
	FaultChecksum:         "the next response carries a wrong checksum",
	FaultGarbage:          "random bytes precede the next response",
	FaultTruncated:        "the next response is cut short",
	FaultSlow:             "the next response is late by the slow delay",
	FaultHang:             "the next command gets no response",
	FaultUnplug:           "the device is unplugged now (the pty closes)",
}

// ErrUnknownResident is returned by Insert for an ID number not in the deck.
var ErrUnknownResident = errors.New("idcardsim: no such resident in the deck")

// ErrUnplugged is returned by operations that need the device plugged in.
var ErrUnplugged = errors.New("idcardsim: device unplugged")

// Options configure a simulator.
type Options struct {
	Timing Timing
	// Logger receives one line per command (never card contents); nil
	// discards.
	Logger *slog.Logger
	// Seed makes the garbage bytes and the SAM id reproducible.
	Seed uint64
	// OnPlug, if set, is called with the device path each time a pty is
	// opened (Start, Replug).
	OnPlug func(path string)
}

// Sim is a simulated reader.
type Sim struct {
	deck   *deck.Deck
	timing Timing
	log    *slog.Logger
	samID  [16]byte
	onPlug func(string)

	mu       sync.Mutex
	rng      *rand.Rand
	card     *identity.Card // in the field, or nil
	cardID   string
	cardGen  int // bumps whenever the card changes
	found    bool
	selected bool
	faults   map[FaultKind]int // remaining count; <0 until cleared
	pty      *pty.PTY
	path     string
	gen      int // pty generation, bumps on unplug/replug
	commands int
	closed   bool

	wg   sync.WaitGroup
	stop chan struct{}
}

// Start opens a pseudo-terminal and serves the reader on it. The driver
// opens Path().
func Start(d *deck.Deck, opts Options) (*Sim, error) {
	s := New(d, opts)
	if _, err := s.Replug(); err != nil {
		return nil, err
	}
	return s, nil
}

// New returns a simulator that is not plugged in: call Replug to open a pty,
// or Serve to run it on any byte stream.
func New(d *deck.Deck, opts Options) *Sim {
	if d == nil {
		d = &deck.Deck{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sim{
		deck:   d,
		timing: opts.Timing,
		log:    log,
		rng:    rand.New(rand.NewPCG(opts.Seed, 0x1DCA)),
		faults: map[FaultKind]int{},
		stop:   make(chan struct{}),
		onPlug: opts.OnPlug,
	}
	// A SAM id as SDKs print it: "05.01-YYYYMMDD-NNNNNNNNNN-NNNNNNNNNN".
	h := sha256.Sum256(fmt.Appendf(nil, "sam %d", opts.Seed))
	le := binary.LittleEndian
	le.PutUint16(s.samID[0:], 5)
	le.PutUint16(s.samID[2:], 1)
	le.PutUint32(s.samID[4:], 20190315)
	le.PutUint32(s.samID[8:], le.Uint32(h[0:])%1_000_000_000)
	le.PutUint32(s.samID[12:], le.Uint32(h[4:])%1_000_000_000)
	return s
}

// Path returns the current device path ("" while unplugged).
func (s *Sim) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.path
}

// Deck returns the simulator's deck.
func (s *Sim) Deck() *deck.Deck { return s.deck }

// Insert puts the card of the resident with this ID number on the reader,
// replacing any card there.
func (s *Sim) Insert(id string) error {
	r, ok := s.deck.Lookup(strings.TrimSpace(id))
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownResident, id)
	}
	c, err := r.Card()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.card, s.cardID = c, r.IDNumber
	s.cardGen++
	s.found, s.selected = false, false
	return nil
}

// InsertCard puts an arbitrary card on the reader (for tests of odd cards).
func (s *Sim) InsertCard(c *identity.Card) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.card, s.cardID = c, c.IDNumber
	s.cardGen++
	s.found, s.selected = false, false
}

// Remove takes the card away.
func (s *Sim) Remove() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.card, s.cardID = nil, ""
	s.cardGen++
	s.found, s.selected = false, false
}

// InjectFault arms a fault for the next count responses it applies to
// (count 0 means 1; a negative count keeps it until ClearFaults). The
// unplug fault acts at once.
func (s *Sim) InjectFault(kind FaultKind, count int) error {
	if _, ok := FaultKinds[kind]; !ok {
		return fmt.Errorf("idcardsim: unknown fault %q", kind)
	}
	if kind == FaultUnplug {
		return s.Unplug()
	}
	if count == 0 {
		count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[kind] = count
	return nil
}

// ClearFaults disarms every fault.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// Unplug closes the pty: a driver holding it sees the device disappear.
func (s *Sim) Unplug() error {
	s.mu.Lock()
	p := s.pty
	s.pty, s.path = nil, ""
	s.gen++
	s.found, s.selected = false, false
	s.mu.Unlock()
	if p == nil {
		return ErrUnplugged
	}
	return p.Close()
}

// Replug opens a new pty (after Unplug, or the first time) and returns its
// path, which usually differs from the old one as a USB device's would.
func (s *Sim) Replug() (string, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return "", errors.New("idcardsim: closed")
	}
	if s.pty != nil {
		path := s.path
		s.mu.Unlock()
		return path, nil
	}
	s.mu.Unlock()
	p, err := pty.Open()
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	if s.closed || s.pty != nil {
		path := s.path
		s.mu.Unlock()
		p.Close()
		return path, nil
	}
	s.pty, s.path = p, p.Path
	s.gen++
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := s.Serve(ctx, p.Master)
		s.log.Debug("pty session ended", "device", p.Path, "err", err)
	}()
	if s.onPlug != nil {
		s.onPlug(p.Path)
	}
	return p.Path, nil
}

// Close unplugs the device and waits for the serving goroutines to end.
func (s *Sim) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	err := s.Unplug()
	if errors.Is(err, ErrUnplugged) {
		err = nil
	}
	s.wg.Wait()
	return err
}

// CardState describes the card on the reader.
type CardState struct {
	IDNumber string `json:"id_number"`
	Name     string `json:"name"`
	CardType string `json:"card_type"`
}

// FaultState is an armed fault.
type FaultState struct {
	Kind  FaultKind `json:"kind"`
	Count int       `json:"count"` // remaining; -1 until cleared
}

// State is a snapshot of the simulator.
type State struct {
	Device    string       `json:"device"` // "" while unplugged
	Plugged   bool         `json:"plugged"`
	Card      *CardState   `json:"card"`
	Faults    []FaultState `json:"faults"`
	Residents int          `json:"residents"`
	Commands  int          `json:"commands"` // commands answered so far
}

// State returns a snapshot.
func (s *Sim) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Device: s.path, Plugged: s.pty != nil, Residents: len(s.deck.Residents), Commands: s.commands, Faults: []FaultState{}}
	if s.card != nil {
		st.Card = &CardState{IDNumber: s.cardID, Name: s.card.Name, CardType: s.card.Type.String()}
	}
	for k, n := range s.faults {
		st.Faults = append(st.Faults, FaultState{Kind: k, Count: max(n, -1)})
	}
	sort.Slice(st.Faults, func(i, j int) bool { return st.Faults[i].Kind < st.Faults[j].Kind })
	return st
}

// take consumes one use of fault k if armed. Call with s.mu held.
func (s *Sim) take(k FaultKind) bool {
	n, ok := s.faults[k]
	if !ok {
		return false
	}
	if n > 0 {
		n--
		if n == 0 {
			delete(s.faults, k)
		} else {
			s.faults[k] = n
		}
	}
	return true
}

// Serve answers commands read from conn until ctx ends or conn fails. It is
// what Start runs on the pty master; tests may run it on any stream.
func (s *Sim) Serve(ctx context.Context, conn io.ReadWriter) error {
	fr := sam.NewFrameReader(conn, 0)
	for {
		frame, err := fr.Next()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var resp []byte
		var delay time.Duration
		switch {
		case errors.Is(err, sam.ErrChecksum):
			resp, _ = sam.Response{Status: sam.StatusCommandChecksum}.Append(nil)
			delay = s.timing.SAM
		case errors.Is(err, sam.ErrLength):
			resp, _ = sam.Response{Status: sam.StatusCommandLength}.Append(nil)
			delay = s.timing.SAM
		case err != nil:
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		default:
			cmd, derr := sam.DecodeCommand(frame)
			if derr != nil {
				resp, _ = sam.Response{Status: sam.StatusCommandLength}.Append(nil)
				break
			}
			gen := s.generation()
			resp, delay = s.answer(cmd)
			if cmd.Op == sam.OpReadText || cmd.Op == sam.OpReadTextFinger {
				if err := sleep(ctx, delay); err != nil {
					return err
				}
				delay = 0
				if s.generation() != gen {
					// The card was taken away (or swapped) during the
					// RF exchange.
					resp = status(sam.StatusReadFailed, nil)
				}
			}
		}
		out, wait, hang := s.faultify(resp)
		if err := sleep(ctx, delay+wait); err != nil {
			return err
		}
		if hang {
			continue
		}
		if _, err := conn.Write(out); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

func (s *Sim) generation() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cardGen
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func status(st sam.Status, data []byte) []byte {
	b, err := sam.Response{Status: st, Data: data}.Append(nil)
	if err != nil {
		panic(err) // our own responses always fit
	}
	return b
}

// answer runs one command against the card state.
func (s *Sim) answer(cmd sam.Command) ([]byte, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commands++
	t := s.timing
	if s.take(FaultSAM) {
		s.log.Info("command", "op", cmd.Op.String(), "status", "60 (injected)")
		return status(sam.StatusSelfTestFailed, nil), t.SAM
	}
	var resp []byte
	var delay time.Duration
	switch cmd.Op {
	case sam.OpFindCard:
		if s.card == nil || s.take(FaultNoCard) {
			s.found, s.selected = false, false
			resp, delay = status(sam.StatusNoCard, nil), t.FindNoCard
		} else {
			s.found = true
			resp, delay = status(sam.StatusFindOK, make([]byte, 4)), t.Find
		}
	case sam.OpSelectCard:
		if s.card == nil || !s.found {
			resp, delay = status(sam.StatusSelectFailed, nil), t.Select
		} else {
			s.selected = true
			resp, delay = status(sam.StatusOK, make([]byte, 8)), t.Select
		}
	case sam.OpReadText, sam.OpReadTextFinger:
		delay = t.Read
		if cmd.Op == sam.OpReadTextFinger {
			delay = t.ReadFinger
		}
		resp = s.read(cmd.Op)
	case sam.OpReadNewAddress:
		if s.card == nil || !s.selected {
			resp, delay = status(sam.StatusReadFailed, nil), t.Select
		} else {
			resp, delay = status(sam.StatusNoItem, nil), t.Select
		}
	case sam.OpResetSAM:
		s.found, s.selected = false, false
		resp, delay = status(sam.StatusOK, nil), t.SAM
	case sam.OpSAMStatus, sam.OpSetMaxRFBytes:
		resp, delay = status(sam.StatusOK, nil), t.SAM
	case sam.OpReadSAMID:
		resp, delay = status(sam.StatusOK, s.samID[:]), t.SAM
	default:
		resp, delay = status(sam.StatusUnknownCommand, nil), t.SAM
	}
	r, _ := sam.DecodeResponse(resp)
	s.log.Info("command", "op", cmd.Op.String(), "status", r.Status.String())
	return resp, delay
}

// read answers 30 01 / 30 10. Call with s.mu held.
func (s *Sim) read(op sam.Op) []byte {
	if s.card == nil || !s.selected {
		return status(sam.StatusReadFailed, nil)
	}
	for k, st := range map[FaultKind]sam.Status{
		FaultCardAuth:         sam.StatusCardAuthSAM,
		FaultSAMAuth:          sam.StatusSAMAuthCard,
		FaultDataVerification: sam.StatusDataVerification,
		FaultReadFailed:       sam.StatusReadFailed,
	} {
		if s.take(k) {
			return status(st, nil)
		}
	}
	if s.take(FaultPull) {
		s.card, s.cardID, s.found, s.selected = nil, "", false, false
		s.cardGen++
		return status(sam.StatusReadFailed, nil)
	}
	data, err := sam.EncodeCard(s.card, op)
	if err != nil {
		// A card that cannot be encoded (InsertCard with bad fields)
		// reads as a failed read, as a damaged card would.
		s.log.Warn("card does not encode", "err", err)
		return status(sam.StatusReadFailed, nil)
	}
	return status(sam.StatusOK, data)
}

// faultify applies the frame faults to a response.
func (s *Sim) faultify(resp []byte) (out []byte, delay time.Duration, hang bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.take(FaultHang) {
		return nil, 0, true
	}
	if s.take(FaultSlow) {
		delay = s.timing.Slow
	}
	if s.take(FaultGarbage) {
		n := 4 + s.rng.IntN(28)
		for i := 0; i < n; i++ {
			// Anything but AA, so no preamble can form.
			out = append(out, byte(s.rng.IntN(0xAA)))
		}
	}
	switch {
	case s.take(FaultTruncated):
		cut := sam.HeaderLen + 1 + s.rng.IntN(len(resp)-sam.HeaderLen-1)
		out = append(out, resp[:cut]...)
	case s.take(FaultChecksum):
		out = append(out, resp...)
		out[len(out)-1] ^= 0x5A
	default:
		out = append(out, resp...)
	}
	return out, delay, false
}
