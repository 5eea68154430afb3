package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/conntest"
	"github.com/qingshan-gov/veinkiosk/devices/idcard"
	"github.com/qingshan-gov/veinkiosk/devices/idcard/sam"
	"github.com/qingshan-gov/veinkiosk/devices/serialport"
	"github.com/qingshan-gov/veinkiosk/identity"
)

func init() {
	register(command{
		name:    "card",
		summary: "ID-card reader: read a card, SAM id, SAM reset",
		run:     runCard,
	})
}

func cardUsage(w io.Writer) {
	fmt.Fprint(w, `usage: veinctl card SUBCOMMAND --port PATH [flags]

subcommands:
  read     read the card on the reader (--wait to poll for one, --json, --record FILE,
           --replay FILE to decode a recording instead of a reader)
  samid    print the reader's SAM id
  reset    reset the reader's SAM

Try it without hardware: go run ./cmd/devsim idcard (prints the pty path).
`)
}

func runCard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		cardUsage(stderr)
		return fmt.Errorf("%w: missing subcommand", errUsage)
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "read", "samid", "reset":
		return cardRun(ctx, sub, rest, stdout, stderr)
	case "-h", "--help", "help":
		cardUsage(stdout)
		return nil
	}
	cardUsage(stderr)
	return fmt.Errorf("%w: unknown subcommand %q", errUsage, sub)
}

type cardFlags struct {
	port        string
	baud        int
	wait        time.Duration
	timeout     time.Duration
	retries     int
	jsonOut     bool
	record      string
	replay      string
	fingerprint bool
	at          string
	verbose     bool
}

func cardRun(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("card "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f cardFlags
	fs.StringVar(&f.port, "port", "", "serial device of the reader, e.g. /dev/ttyUSB0 or the pty of devsim idcard")
	fs.IntVar(&f.baud, "baud", serialport.DefaultBaud, "line speed (some older readers use 9600)")
	fs.DurationVar(&f.timeout, "timeout", idcard.DefaultOptions.CommandTimeout, "wait for the answer to one command (card reads get 4x)")
	fs.IntVar(&f.retries, "retries", idcard.DefaultOptions.Retries, "times a command is sent again after a timeout or a corrupted answer")
	fs.StringVar(&f.record, "record", "", "record the byte stream to FILE (conntest format) for replay tests")
	fs.StringVar(&f.replay, "replay", "", "instead of a port, replay a recording made with --record (checks that it decodes)")
	fs.BoolVar(&f.jsonOut, "json", false, "print JSON")
	fs.BoolVar(&f.verbose, "v", false, "print the full error chain")
	if sub == "read" {
		fs.DurationVar(&f.wait, "wait", 0, "poll for a card this long (default: one attempt)")
		fs.BoolVar(&f.fingerprint, "fingerprint", false, "read fingerprint data too (30 10)")
		fs.StringVar(&f.at, "at", "", "check expiry on this date YYYY-MM-DD (default: today)")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if f.port == "" && f.replay == "" {
		return fmt.Errorf("%w: --port is required", errUsage)
	}
	at := time.Now()
	if f.at != "" {
		t, err := time.Parse(time.DateOnly, f.at)
		if err != nil {
			return fmt.Errorf("%w: --at %q is not YYYY-MM-DD", errUsage, f.at)
		}
		at = t
	}

	var conn idcard.Port
	switch {
	case f.replay != "" && (f.port != "" || f.record != ""):
		return fmt.Errorf("%w: --replay excludes --port and --record", errUsage)
	case f.replay != "":
		ops, err := conntest.ReadFile(f.replay)
		if err != nil {
			return err
		}
		pb := conntest.NewPlayback(ops)
		defer func() {
			if err := pb.Done(); err != nil {
				fmt.Fprintf(stderr, "veinctl card: replay: %v\n", err)
			}
		}()
		conn = pb
	default:
		port, err := serialport.Open(serialport.Options{Port: f.port, Baud: f.baud, ReadTimeout: serialport.MinReadTimeout})
		switch {
		case errors.Is(err, os.ErrNotExist):
			return cardError(f, fmt.Errorf("%w: %w", idcard.ErrDisconnected, err), "no device at "+f.port)
		case errors.Is(err, os.ErrPermission):
			return fmt.Errorf("cannot open %s: permission denied (is the user in the dialout group?)", f.port)
		case err != nil:
			return fmt.Errorf("cannot open %s: %v", f.port, err)
		}
		defer port.Close()
		conn = port
	}
	if f.record != "" {
		rec := conntest.NewRecorder(conn)
		conn = rec
		defer func() {
			comment := fmt.Sprintf("veinctl card %s --port %s --baud %d, %s", sub, f.port, f.baud, time.Now().Format(time.RFC3339))
			if err := rec.WriteFile(f.record, comment); err != nil {
				fmt.Fprintf(stderr, "veinctl card: recording: %v\n", err)
			} else {
				fmt.Fprintf(stderr, "veinctl card: recorded %d operations to %s\n", len(rec.Ops()), f.record)
			}
		}()
	}
	dev, err := idcard.New(conn, &idcard.Options{
		Port:           f.port,
		CommandTimeout: f.timeout,
		ReadTimeout:    4 * f.timeout,
		Retries:        f.retries,
		Fingerprint:    f.fingerprint,
	})
	if err != nil {
		return err
	}

	switch sub {
	case "samid":
		id, err := dev.ReadSAMID(ctx)
		if err != nil {
			return cardError(f, err, "")
		}
		if f.jsonOut {
			return writeCardJSON(stdout, map[string]string{"sam_id": id.String(), "raw": fmt.Sprintf("%X", id[:])})
		}
		fmt.Fprintln(stdout, id.String())
		return nil
	case "reset":
		if err := dev.ResetSAM(ctx); err != nil {
			return cardError(f, err, "")
		}
		if f.jsonOut {
			return writeCardJSON(stdout, map[string]bool{"reset": true})
		}
		fmt.Fprintln(stdout, "SAM reset")
		return nil
	}

	var c *identity.Card
	if f.wait > 0 {
		rctx, cancel := context.WithTimeout(ctx, f.wait)
		defer cancel()
		c, err = dev.Read(rctx)
	} else {
		c, err = dev.ReadOnce(ctx)
	}
	if err != nil {
		hint := ""
		if errors.Is(err, sam.ErrNoCard) && f.wait > 0 {
			hint = fmt.Sprintf("waited %v", f.wait)
		}
		return cardError(f, err, hint)
	}
	out := cardOutput(c, at)
	if f.jsonOut {
		return writeCardJSON(stdout, out)
	}
	printCard(stdout, c, out)
	return nil
}

// cardError makes the one-line message of a failure: what happened, in the
// words a kiosk would show, plus the detail with -v.
func cardError(f cardFlags, err error, hint string) error {
	msg := err.Error()
	if p, ok := sam.Explain(err); ok {
		msg = p.English
		if f.verbose {
			msg += " [" + err.Error() + "]"
		}
	}
	if errors.Is(err, context.Canceled) {
		msg = "interrupted"
	}
	if hint != "" {
		msg += " (" + hint + ")"
	}
	return errors.New(strings.ReplaceAll(msg, "\n", "; "))
}

// cardJSON is the output of "card read --json".
type cardJSON struct {
	CardType         string   `json:"card_type"`
	Name             string   `json:"name"`
	Gender           string   `json:"gender"`
	GenderName       string   `json:"gender_name"`
	NationCode       string   `json:"nation_code"`
	Nation           string   `json:"nation"`
	BirthDate        string   `json:"birth_date"`
	Address          string   `json:"address"`
	IDNumber         string   `json:"id_number"`
	Authority        string   `json:"authority"`
	ValidFrom        string   `json:"valid_from"`
	ValidUntil       string   `json:"valid_until"`
	PhotoBytes       int      `json:"photo_bytes"`
	FingerprintBytes int      `json:"fingerprint_bytes"`
	EnglishName      string   `json:"english_name,omitempty"`
	Nationality      string   `json:"nationality,omitempty"`
	CardVersion      string   `json:"card_version,omitempty"`
	PassNumber       string   `json:"pass_number,omitempty"`
	IssueCount       int      `json:"issue_count,omitempty"`
	IDNumberValid    bool     `json:"id_number_valid"`
	Expired          bool     `json:"expired"`
	NotYetValid      bool     `json:"not_yet_valid"`
	Problems         []string `json:"problems"`
	CheckedOn        string   `json:"checked_on"`
}

func cardOutput(c *identity.Card, at time.Time) cardJSON {
	out := cardJSON{
		CardType:         c.Type.String(),
		Name:             c.Name,
		Gender:           c.Gender.Code(),
		GenderName:       c.Gender.Name(),
		NationCode:       c.Nation.Code(),
		Nation:           c.Nation.Name(),
		BirthDate:        c.Birth.String(),
		Address:          c.Address,
		IDNumber:         c.IDNumber,
		Authority:        c.Authority,
		ValidFrom:        c.From.String(),
		ValidUntil:       c.Until.String(), // 长期 for a long-term card
		PhotoBytes:       len(c.Photo),
		FingerprintBytes: len(c.Fingerprint),
		EnglishName:      c.EnglishName,
		Nationality:      c.Nationality,
		CardVersion:      c.CardVersion,
		PassNumber:       c.PassNumber,
		IssueCount:       c.IssueCount,
		IDNumberValid:    c.CheckIDNumber() == nil,
		Expired:          c.Expired(at),
		NotYetValid:      c.NotYetValid(at),
		Problems:         []string{},
		CheckedOn:        at.Format(time.DateOnly),
	}
	if out.Nation == "" && out.NationCode != "" {
		out.Nation = "unknown code " + out.NationCode
	}
	verr := c.Validate(at)
	for _, p := range identity.Problems() {
		if errors.Is(verr, p) {
			out.Problems = append(out.Problems, p.Code)
		}
	}
	return out
}

func writeCardJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func printCard(w io.Writer, c *identity.Card, o cardJSON) {
	row := func(label, value string) {
		if value != "" {
			fmt.Fprintf(w, "  %-22s %s\n", label, value)
		}
	}
	fmt.Fprintf(w, "%s (%s)\n", c.Type.ChineseName(), o.CardType)
	row("姓名 name", o.Name)
	row("English name", o.EnglishName)
	row("性别 gender", fmt.Sprintf("%s (%s)", o.GenderName, o.Gender))
	if o.NationCode != "" {
		row("民族 nation", fmt.Sprintf("%s (%s)", o.Nation, o.NationCode))
	}
	row("国籍 nationality", o.Nationality)
	row("出生 birth date", o.BirthDate)
	row("住址 address", o.Address)
	check := "check digit OK"
	if !o.IDNumberValid {
		check = "INVALID"
	}
	row("号码 ID number", fmt.Sprintf("%s (%s)", o.IDNumber, check))
	row("通行证 pass number", o.PassNumber)
	if o.IssueCount > 0 {
		row("签发次数 issue count", fmt.Sprint(o.IssueCount))
	}
	row("签发机关 authority", o.Authority)
	status := "valid on " + o.CheckedOn
	switch {
	case o.Expired:
		status = "EXPIRED on " + o.CheckedOn
	case o.NotYetValid:
		status = "NOT YET VALID on " + o.CheckedOn
	}
	row("有效期限 validity", fmt.Sprintf("%s - %s (%s)", o.ValidFrom, o.ValidUntil, status))
	row("photo", fmt.Sprintf("%d bytes WLT (not decoded)", o.PhotoBytes))
	if o.FingerprintBytes > 0 {
		row("fingerprint", fmt.Sprintf("%d bytes", o.FingerprintBytes))
	}
	if len(o.Problems) > 0 {
		row("problems", strings.Join(o.Problems, ", "))
	}
}

var _ idcard.Port = (*conntest.Recorder)(nil)
var _ idcard.Port = (*serialport.Port)(nil)
