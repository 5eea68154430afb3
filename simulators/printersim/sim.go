// Package printersim simulates an 80 mm ESC/POS receipt printer
// (docs/printer-protocol.md): it decodes what it receives with
// devices/escpos, answers the real-time status queries (DLE EOT) as a
// printer does, draws each receipt into a PNG (576 dots wide at 203 dpi,
// the embedded character ROM of package font, QR codes through
// github.com/skip2/go-qrcode) and logs what it printed as structured lines
// (printed lines, QR payloads, cuts, faults), which tests read instead of
// the picture. Faults: paper out (now, or after a given number of lines),
// cover open.
//
// While paper is out or the cover is open the printer is offline: it keeps
// answering status queries and drops print data, as a printer whose buffer
// is discarded on error recovery.
package printersim

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/qingshan-gov/veinkiosk/devices/escpos"
	"github.com/qingshan-gov/veinkiosk/simulators/printersim/font"
)

// Paper geometry of the simulated printer.
const (
	Width          = 576 // printable dots per line (80 mm paper at 203 dpi)
	defaultSpacing = 30  // dots from one line to the next (ESC 2)
	margin         = 24  // blank dots above the first line of a receipt
)

// Options configure a simulator.
type Options struct {
	// Dir, when set, receives each cut receipt as receipt-NNN.png.
	Dir string
	// Logger receives the structured record of what was printed (info) and
	// of bad input (warn). Nil: discarded.
	Logger *slog.Logger
	// PaperLines is the paper left, in printed lines and fed lines, before
	// the roll ends; 0 is an endless roll.
	PaperLines int
}

// Line is one printed line of text.
type Line struct {
	Text   string `json:"text"`
	Align  string `json:"align"`
	Bold   bool   `json:"bold,omitempty"`
	Width  int    `json:"width"`  // magnification
	Height int    `json:"height"` // magnification
}

// Receipt is what came out between two cuts.
type Receipt struct {
	Lines      []Line   `json:"lines"`
	QR         []string `json:"qr"`                   // payloads of the QR codes, in order
	Missing    []string `json:"missing,omitempty"`    // characters not in the ROM, printed as boxes
	Incomplete bool     `json:"incomplete,omitempty"` // cut short by a fault
	File       string   `json:"file,omitempty"`
	PNG        []byte   `json:"-"`
}

// Text is the receipt's lines joined by newlines (for tests and logs).
func (r Receipt) Text() string {
	var b strings.Builder
	for _, l := range r.Lines {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// State is the simulator's state for its control API.
type State struct {
	PaperOut   bool `json:"paper_out"`
	CoverOpen  bool `json:"cover_open"`
	PaperLines int  `json:"paper_lines"` // 0: endless
	Receipts   int  `json:"receipts"`
	Dropped    int  `json:"dropped_bytes"`
	Invalid    int  `json:"invalid_commands"`
}

type run struct {
	text       string
	bold       bool
	w, h       int
	missing    []rune
	glyphWidth int
}

// Sim is one simulated printer. Its methods are safe for concurrent use.
type Sim struct {
	mu  sync.Mutex
	opt Options
	log *slog.Logger
	dec *escpos.Decoder

	paperOut, coverOpen bool
	dropped, invalid    int

	// print modes
	align   escpos.Align
	bold    bool
	w, h    int
	spacing int
	qrSize  int
	qrLevel escpos.ECLevel
	qrData  []byte

	line     []run
	strips   []*image.Gray // the receipt so far, top to bottom
	cur      Receipt
	receipts []Receipt
	notify   chan struct{}
}

// New returns a printer with paper and the cover closed.
func New(opt Options) *Sim {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sim{opt: opt, log: opt.Logger, dec: escpos.NewDecoder(), notify: make(chan struct{})}
	s.reset()
	return s
}

func (s *Sim) reset() {
	s.align, s.bold, s.w, s.h, s.spacing = escpos.Left, false, 1, 1, defaultSpacing
	s.qrSize, s.qrLevel, s.qrData = 3, escpos.ECLow, nil
}

func (s *Sim) ready() bool { return !s.paperOut && !s.coverOpen }

func (s *Sim) status() escpos.Status {
	return escpos.Status{
		Offline:   !s.ready(),
		CoverOpen: s.coverOpen,
		PaperStop: s.paperOut,
		PaperEnd:  s.paperOut,
		// Near end: the last 20 lines of a finite roll.
		PaperNearEnd: s.paperOut || (s.opt.PaperLines > 0 && s.opt.PaperLines <= 20),
	}
}

// Write takes bytes as the printer receives them and returns the bytes it
// sends back (the answers to DLE EOT).
func (s *Sim) Write(p []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var answers []byte
	for _, c := range s.dec.Decode(p) {
		if c.Op == escpos.OpStatus {
			b, _ := escpos.StatusByte(byte(c.N), s.status())
			answers = append(answers, b)
			continue
		}
		if c.Op == escpos.OpInvalid {
			s.invalid++
			s.log.Warn("printer: bad input", "err", c.Err.Error(), "bytes", fmt.Sprintf("% x", c.Data))
			continue
		}
		if !s.ready() {
			s.dropped++
			continue
		}
		s.apply(c)
	}
	return answers
}

func (s *Sim) apply(c escpos.Command) {
	switch c.Op {
	case escpos.OpInit:
		s.reset()
	case escpos.OpAlign:
		s.align = escpos.Align(c.N)
	case escpos.OpBold:
		s.bold = c.N == 1
	case escpos.OpSize:
		s.w, s.h = c.N, c.M
	case escpos.OpLineSpacing:
		s.spacing = c.N
		if c.N < 0 {
			s.spacing = defaultSpacing
		}
	case escpos.OpText:
		s.addText(c.Text)
	case escpos.OpLF:
		s.printLine()
	case escpos.OpFeed:
		s.printLine()
		for range c.N {
			if !s.usePaper() {
				return
			}
			s.strips = append(s.strips, blank(s.spacing))
		}
	case escpos.OpQRSize:
		s.qrSize = c.N
	case escpos.OpQRLevel:
		s.qrLevel = escpos.ECLevel(c.N)
	case escpos.OpQRStore:
		s.qrData = c.Data
	case escpos.OpQRPrint:
		s.printQR()
	case escpos.OpCut:
		s.printLine()
		s.cut(false)
	}
	// OpChinese and OpCodeTable change only how the decoder reads text;
	// OpQRModel: model 2 is the only one drawn.
}

// usePaper takes one line of paper; false when the roll just ended.
func (s *Sim) usePaper() bool {
	if s.opt.PaperLines == 0 {
		return true
	}
	s.opt.PaperLines--
	if s.opt.PaperLines == 0 {
		s.paperOut = true
		s.log.Info("printer: paper out", "during", "printing")
		s.cut(true)
		return false
	}
	return true
}

func (s *Sim) addText(t string) {
	s.line = append(s.line, run{text: t, bold: s.bold, w: s.w, h: s.h})
}

func (s *Sim) printLine() {
	if len(s.line) == 0 {
		return // an empty line buffer: LF only feeds
	}
	runs := s.line
	s.line = nil
	// Text wider than the paper wraps onto the next line, as printed.
	var phys [][]run
	cur, width := []run(nil), 0
	for _, r := range runs {
		piece := run{bold: r.bold, w: r.w, h: r.h}
		for _, ch := range r.text {
			g, ok := font.Lookup(ch)
			if !ok {
				g = font.Missing(ch)
				piece.missing = append(piece.missing, ch)
			}
			gw := g.Width * r.w
			if width+gw > Width && width > 0 {
				if piece.text != "" {
					cur = append(cur, piece)
				}
				phys = append(phys, cur)
				cur, width = nil, 0
				piece = run{bold: r.bold, w: r.w, h: r.h}
			}
			piece.text += string(ch)
			piece.glyphWidth += gw
			width += gw
		}
		if piece.text != "" {
			cur = append(cur, piece)
		}
	}
	phys = append(phys, cur)
	for _, p := range phys {
		if !s.printPhysical(p) {
			return
		}
	}
}

// printPhysical prints one line that fits the paper; false when the paper
// ran out.
func (s *Sim) printPhysical(runs []run) bool {
	if !s.usePaper() {
		return false
	}
	hmax, width := 1, 0
	var text strings.Builder
	bold := false
	for _, r := range runs {
		hmax = max(hmax, r.h)
		width += r.glyphWidth
		text.WriteString(r.text)
		bold = bold || r.bold
		for _, m := range r.missing {
			s.cur.Missing = append(s.cur.Missing, string(m))
		}
	}
	lineH := max(s.spacing, font.Height*hmax+6)
	img := image.NewGray(image.Rect(0, 0, Width, lineH))
	fill(img, 255)
	x := s.x(width)
	base := font.Height * hmax // glyphs stand on a common baseline
	for _, r := range runs {
		for _, ch := range r.text {
			g, ok := font.Lookup(ch)
			if !ok {
				g = font.Missing(ch)
			}
			drawGlyph(img, g, x, base-font.Height*r.h, r.w, r.h, r.bold)
			x += g.Width * r.w
		}
	}
	s.strips = append(s.strips, img)
	l := Line{Text: text.String(), Align: alignName(s.align), Bold: bold, Width: runs[0].w, Height: hmax}
	s.cur.Lines = append(s.cur.Lines, l)
	s.log.Info("printer: line", "text", l.Text, "align", l.Align, "bold", l.Bold, "size", fmt.Sprintf("%dx%d", l.Width, l.Height))
	return true
}

// x is where a line of width dots (at most Width) starts under the
// current alignment.
func (s *Sim) x(width int) int {
	switch s.align {
	case escpos.Center:
		return max(0, (Width-width)/2)
	case escpos.Right:
		return max(0, Width-width)
	}
	return 0
}

func alignName(a escpos.Align) string {
	return [...]string{"left", "center", "right"}[a]
}

func (s *Sim) printQR() {
	s.printLine()
	if len(s.qrData) == 0 {
		s.log.Warn("printer: QR print with no data stored")
		return
	}
	level := map[escpos.ECLevel]qrcode.RecoveryLevel{escpos.ECLow: qrcode.Low, escpos.ECMedium: qrcode.Medium,
		escpos.ECQuartile: qrcode.High, escpos.ECHigh: qrcode.Highest}[s.qrLevel]
	q, err := qrcode.New(string(s.qrData), level)
	if err != nil {
		s.log.Warn("printer: QR data not encodable", "err", err.Error())
		return
	}
	q.DisableBorder = true
	bm := q.Bitmap()
	side := len(bm) * s.qrSize
	if !s.usePaper() {
		return
	}
	img := image.NewGray(image.Rect(0, 0, Width, side+2*s.qrSize))
	fill(img, 255)
	x0 := s.x(side)
	for my, row := range bm {
		for mx, black := range row {
			if !black {
				continue
			}
			for dy := range s.qrSize {
				for dx := range s.qrSize {
					if px := x0 + mx*s.qrSize + dx; px < Width {
						img.SetGray(px, s.qrSize+my*s.qrSize+dy, color.Gray{})
					}
				}
			}
		}
	}
	s.strips = append(s.strips, img)
	s.cur.QR = append(s.cur.QR, string(s.qrData))
	s.log.Info("printer: qr", "payload", string(s.qrData), "modules", len(bm), "module_dots", s.qrSize)
}

// cut ends the receipt: its picture is composed, kept and written to Dir.
func (s *Sim) cut(incomplete bool) {
	if len(s.strips) == 0 && len(s.cur.Lines) == 0 {
		return
	}
	h := margin
	for _, st := range s.strips {
		h += st.Rect.Dy()
	}
	img := image.NewGray(image.Rect(0, 0, Width, h+margin))
	fill(img, 255)
	y := margin
	for _, st := range s.strips {
		for row := range st.Rect.Dy() {
			copy(img.Pix[(y+row)*img.Stride:], st.Pix[row*st.Stride:row*st.Stride+Width])
		}
		y += st.Rect.Dy()
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		s.log.Error("printer: PNG", "err", err.Error())
	}
	r := s.cur
	r.Incomplete = incomplete
	r.PNG = buf.Bytes()
	if s.opt.Dir != "" {
		r.File = filepath.Join(s.opt.Dir, fmt.Sprintf("receipt-%03d.png", len(s.receipts)+1))
		if err := os.WriteFile(r.File, r.PNG, 0o644); err != nil {
			s.log.Error("printer: writing the receipt", "err", err.Error())
			r.File = ""
		}
	}
	s.receipts = append(s.receipts, r)
	s.cur, s.strips = Receipt{}, nil
	s.log.Info("printer: cut", "lines", len(r.Lines), "qr", len(r.QR), "incomplete", incomplete, "file", r.File)
	close(s.notify)
	s.notify = make(chan struct{})
}

func blank(h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, Width, h))
	fill(img, 255)
	return img
}

func fill(img *image.Gray, v uint8) {
	for i := range img.Pix {
		img.Pix[i] = v
	}
}

// drawGlyph draws g magnified w x h with its top-left at (x, y); bold is
// double-strike shifted one dot right, as thermal printers emphasise.
func drawGlyph(img *image.Gray, g font.Glyph, x, y, w, h int, bold bool) {
	for gy := range font.Height {
		for gx := range g.Width {
			if !g.Set(gx, gy) {
				continue
			}
			for dy := range h {
				for dx := range w + boolInt(bold) {
					px, py := x+gx*w+dx, y+gy*h+dy
					if px >= 0 && px < Width && py >= 0 && py < img.Rect.Dy() {
						img.Pix[py*img.Stride+px] = 0
					}
				}
			}
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SetPaperOut ends the roll (true) or loads a new endless roll (false).
func (s *Sim) SetPaperOut(out bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if out && !s.paperOut && (len(s.strips) > 0 || len(s.cur.Lines) > 0) {
		s.cut(true)
	}
	s.paperOut = out
	if !out {
		s.opt.PaperLines = 0
	}
	s.log.Info("printer: paper", "out", out)
}

// SetPaperLines loads a roll with n lines left (0: endless).
func (s *Sim) SetPaperLines(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opt.PaperLines, s.paperOut = max(n, 0), false
}

// SetCoverOpen opens or closes the cover.
func (s *Sim) SetCoverOpen(open bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if open && !s.coverOpen && (len(s.strips) > 0 || len(s.cur.Lines) > 0) {
		s.cut(true)
	}
	s.coverOpen = open
	s.log.Info("printer: cover", "open", open)
}

// State returns the state.
func (s *Sim) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return State{PaperOut: s.paperOut, CoverOpen: s.coverOpen, PaperLines: s.opt.PaperLines,
		Receipts: len(s.receipts), Dropped: s.dropped, Invalid: s.invalid}
}

// Receipts returns the receipts cut so far.
func (s *Sim) Receipts() []Receipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Receipt(nil), s.receipts...)
}

// WaitReceipts waits until n receipts were cut or the timeout passes.
func (s *Sim) WaitReceipts(n int, timeout time.Duration) ([]Receipt, bool) {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, ch := len(s.receipts), s.notify
		s.mu.Unlock()
		if got >= n {
			return s.Receipts(), true
		}
		select {
		case <-ch:
		case <-deadline:
			return s.Receipts(), false
		}
	}
}
