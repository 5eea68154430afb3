package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/simulators/veinsim"
)

func init() {
	register(simulator{
		name:    "vein",
		summary: "finger-vein scanner on a pseudo-terminal (--serial) or emulated USB (--usb), with an HTTP control channel",
		run:     runVein,
	})
}

// veinConfig are the flags of "devsim vein".
type veinConfig struct {
	serial    bool
	usb       bool
	control   string
	deckPath  string
	deckSeed  int64
	deckSize  int
	resident  string
	finger    int
	fault     string
	quality   float64
	serialNo  string
	seed      uint64
	chunkSize int
	writeDeck string
	writeCSV  string
	listDeck  bool

	placed string // what is on the window at start, for the hint
}

// attachUSB emulates dev as a USB device under umockdev and returns the
// environment that lets other programs open it, its device node and how
// to remove the testbed. It is set only in devsim built with -tags
// umockdev (vein_umockdev.go): the emulation links libumockdev through cgo,
// which "devsim idcard" and "devsim vein --serial" do not need.
var attachUSB func(dev *veinsim.Device) (env, devNode string, remove func(), err error)

var errNoUSBEmulation = errors.New("--usb needs devsim built with USB emulation: sudo apt install umockdev libumockdev-dev pkg-config, then run it under umockdev-wrapper: umockdev-wrapper go run -tags umockdev ./cmd/devsim vein --usb")

func runVein(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devsim vein", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c veinConfig
	fs.BoolVar(&c.serial, "serial", false, "serve the scanner on a pseudo-terminal and print its path (the driver opens serial:PATH)")
	fs.BoolVar(&c.usb, "usb", false, "emulate the scanner as USB device 1209:0001 with umockdev and print the environment that lets other programs open it (devsim built with -tags umockdev)")
	fs.StringVar(&c.control, "control", "127.0.0.1:0", "loopback address of the HTTP control channel (empty: none)")
	fs.StringVar(&c.deckPath, "deck", "", "resident deck JSON file (default: the generated deck of --seed and --residents)")
	fs.Int64Var(&c.deckSeed, "seed", veinsim.DefaultDeckSeed, "seed of the generated resident deck (devsim idcard's default is the same)")
	fs.IntVar(&c.deckSize, "residents", veinsim.DefaultDeckSize, "residents in the generated deck")
	fs.StringVar(&c.resident, "resident", "first", "whose finger is on the window at start: an ID number (any valid one; deck residents have the deck's fingers), \"first\" (the deck's first resident) or \"none\"")
	fs.IntVar(&c.finger, "finger", 2, "ISO finger position 1..10 of --resident (2 = right index)")
	fs.StringVar(&c.fault, "fault", "none", "fault to show from the start (see the control channel's /fault)")
	fs.Float64Var(&c.quality, "quality", 0, "image quality 0..1 (default fingerimg's)")
	fs.StringVar(&c.serialNo, "serial-number", veinsim.DefaultSerial, "device serial number")
	fs.Uint64Var(&c.seed, "capture-seed", 0, "seed of capture-to-capture variation")
	fs.IntVar(&c.chunkSize, "chunk-size", veinsim.DefaultChunkSize, "image bytes per READ_CHUNK answer")
	fs.StringVar(&c.writeDeck, "write-deck", "", "write the resident deck as JSON to this file (--deck loads it)")
	fs.StringVar(&c.writeCSV, "write-csv", "", "write the resident deck as CSV (id_number, name, ...) to this file")
	fs.BoolVar(&c.listDeck, "list-deck", false, "print the resident deck as CSV on stdout and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: devsim vein --serial|--usb [flags]\n\nThe simulator's certificate is signed with the test maker key %x\n(maker ID %s; veinctl --maker-key sim; docs/scanner-protocol.md, \"Simulator\").\n\n",
			[]byte(veinsim.TestMakerPublicKey()), veinsim.DefaultMakerID)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.listDeck {
		dk, err := veinsim.LoadDeck(c.deckPath, c.deckSeed, c.deckSize)
		if err != nil {
			return err
		}
		return dk.WriteCSV(stdout)
	}
	if !c.serial && !c.usb {
		return errors.New("choose a transport: --serial (pseudo-terminal) and/or --usb (umockdev emulation)")
	}
	dev, err := c.device()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "devsim vein: certificate by the TEST maker key %x, maker ID %s (veinctl --maker-key sim; never trust it for real devices)\n",
		[]byte(veinsim.TestMakerPublicKey()), veinsim.DefaultMakerID)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	defer wg.Wait()
	simControl := ""
	if c.control != "" {
		ln, err := veinsim.ListenControl(c.control)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: dev.Handler(), ReadHeaderTimeout: 5 * time.Second}
		wg.Add(2)
		go func() { defer wg.Done(); srv.Serve(ln) }()
		go func() {
			defer wg.Done()
			<-ctx.Done()
			sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer scancel()
			srv.Shutdown(sctx)
		}()
		fmt.Fprintf(stderr, "devsim vein: control channel http://%s (GET /status, /deck, /deck.csv; POST /finger, /fault, /quality, /unplug, /replug with Content-Type: application/json)\n", ln.Addr())
		fmt.Fprintf(stderr, "devsim vein: %s; place another with\n  curl -s -H 'Content-Type: application/json' -d '{\"resident\":\"ID\",\"finger\":2}' http://%s/finger\n", c.placed, ln.Addr())
		simControl = fmt.Sprintf(" --sim-control http://%s", ln.Addr())
	}
	conformanceHint := func(prefix, tags, device string) {
		fmt.Fprintf(stderr, "devsim vein: conformance check (no operator needed with --sim-control):\n  %sgo run %s./cmd/veinctl scanner conformance --device %s --maker-key sim%s\n", prefix, tags, device, simControl)
	}
	if c.usb {
		if attachUSB == nil {
			return errNoUSBEmulation
		}
		env, devNode, remove, err := attachUSB(dev)
		if err != nil {
			return err
		}
		defer remove()
		fmt.Fprintln(stdout, env)
		fmt.Fprintf(stderr, "devsim vein: scanner %s emulated as USB %04x:%04x at %s; open it with\n  %s go run -tags usb ./cmd/veinctl scanner info --device usb\n",
			c.serialNo, veinsim.USBVendorID, veinsim.USBProductID, devNode, env)
		conformanceHint(env+" ", "-tags usb ", "usb")
		if !c.serial {
			<-ctx.Done()
			return ctx.Err()
		}
	}
	first := true
	return dev.ServePTY(ctx, func(path string) {
		if first {
			// stdout carries only the path, for scripts
			fmt.Fprintln(stdout, path)
			first = false
		}
		fmt.Fprintf(stderr, "devsim vein: scanner %s on %s (veinctl scanner info --device serial:%s)\n", c.serialNo, path, path)
		conformanceHint("", "", "serial:"+path)
	})
}

func (c *veinConfig) device() (*veinsim.Device, error) {
	deck, err := veinsim.LoadDeck(c.deckPath, c.deckSeed, c.deckSize)
	if err != nil {
		return nil, err
	}
	if c.writeDeck != "" {
		if err := deck.SaveFile(c.writeDeck); err != nil {
			return nil, err
		}
	}
	if c.writeCSV != "" {
		f, err := os.Create(c.writeCSV)
		if err != nil {
			return nil, err
		}
		err = deck.WriteCSV(f)
		if err := errors.Join(err, f.Close()); err != nil {
			return nil, err
		}
	}
	f, err := veinsim.ParseFault(c.fault)
	if err != nil {
		return nil, err
	}
	dev, err := veinsim.New(veinsim.Config{Serial: c.serialNo, Residents: veinsim.DeckResidents{Deck: deck},
		Quality: c.quality, Seed: c.seed, ChunkSize: c.chunkSize})
	if err != nil {
		return nil, err
	}
	id := c.resident
	switch id {
	case "none":
		c.placed = "no finger on the window"
		id = ""
	case "first", "":
		if len(deck.Residents) == 0 {
			return nil, errors.New("--resident first: the deck has no residents")
		}
		id = deck.Residents[0].IDNumber
		c.placed = fmt.Sprintf("finger %d of the deck's first resident (%s) on the window", c.finger, identity.MaskIDNumber(id))
	default:
		c.placed = fmt.Sprintf("finger %d of resident %s on the window", c.finger, identity.MaskIDNumber(id))
	}
	if id != "" {
		if err := dev.PlaceResident(id, c.finger); err != nil {
			return nil, err
		}
	}
	if err := dev.SetFault(f); err != nil {
		return nil, err
	}
	return dev, nil
}
