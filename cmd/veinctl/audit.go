package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/storeopen"
)

func init() {
	register(command{
		name:    "audit",
		summary: "verify and read the server's tamper-evident audit chain",
		run:     runAudit,
	})
}

const auditUsage = `usage:
  veinctl audit verify (--data DIR | --database-url URL) [--anchors FILE]... [--anchor-key PUBFILE]
                       [--max-anchor-age DUR] [--anchor SEQ:HASH]... [--json]
  veinctl audit list   (--data DIR | --database-url URL) [--after SEQ] [--limit N] [--json]
  veinctl audit anchor-key --out FILE

verify walks the whole chain and exits 1 when it is broken (a record edited,
deleted or reordered, or the head row not matching the last record). It
prints the head (sequence number and hash): keep it outside the database
and pass it back later with --anchor to detect a rewritten chain.

With --anchors (the files centrald writes with --audit-anchor-file, a
rotated file before its successor) and --anchor-key (the public key, FILE.pub
of anchor-key), every anchor's signature and links are checked, and the
chain must still hold each anchored hash at its record and reach every
anchored record: a rewritten or truncated chain is reported with the first
anchor it contradicts. --max-anchor-age also fails when the newest anchor is
older than DUR (an old copy of the file, or anchoring stopped).

anchor-key writes a new Ed25519 anchor key to FILE (mode 0600, for
centrald's --audit-anchor-key) and its public key to FILE.pub (for
verifiers). It never overwrites a key.`

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, auditUsage)
		if len(args) == 0 {
			return fmt.Errorf("%w: missing sub-command", errUsage)
		}
		return flag.ErrHelp
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(ctx, args[1:], stdout, stderr)
	case "list":
		return runAuditList(ctx, args[1:], stdout, stderr)
	case "anchor-key":
		return runAuditAnchorKey(args[1:], stdout, stderr)
	default:
		return fmt.Errorf("%w: unknown sub-command %q", errUsage, args[0])
	}
}

// anchors collects repeated --anchor SEQ:HASH flags.
type anchors map[int64]audit.Hash

func (a anchors) String() string { return fmt.Sprint(map[int64]audit.Hash(a)) }

func (a anchors) Set(v string) error {
	seqStr, hashStr, ok := strings.Cut(v, ":")
	if !ok {
		return errors.New("want SEQ:HASH")
	}
	seq, err := strconv.ParseInt(seqStr, 10, 64)
	if err != nil || seq < 1 {
		return fmt.Errorf("sequence number %q", seqStr)
	}
	h, err := audit.ParseHash(hashStr)
	if err != nil {
		return err
	}
	a[seq] = h
	return nil
}

func storeFlags(fs *flag.FlagSet) *storeopen.Config {
	var c storeopen.Config
	fs.StringVar(&c.DataDir, "data", "", "data directory of the embedded database")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL (postgres://...)")
	return &c
}

// openForAudit opens an existing store; audit commands never need the
// biometric keys, so an ephemeral ring stands in for them.
func openForAudit(ctx context.Context, c *storeopen.Config) (store.Store, error) {
	ring, err := storeopen.EphemeralKeyring()
	if err != nil {
		return nil, err
	}
	return storeopen.OpenExisting(ctx, *c, store.Options{Keyring: ring, AuditOnly: true})
}

type verifyOutput struct {
	OK       bool   `json:"ok"`
	Records  int64  `json:"records"`
	FirstSeq int64  `json:"first_seq"`
	LastSeq  int64  `json:"last_seq"`
	Head     string `json:"head"`
	// Signed anchors checked (--anchors) and the newest of them.
	Anchors    int    `json:"anchors,omitempty"`
	LastAnchor string `json:"last_anchor,omitempty"`
	BrokenAt   int64  `json:"broken_at,omitempty"`
	Problem    string `json:"problem,omitempty"`
	// Reconciliation of the business state with the chain (only when the
	// chain is intact).
	Reconciled bool            `json:"reconciled"`
	StateRows  int             `json:"state_rows"`
	Findings   []findingOutput `json:"findings,omitempty"`
}

type findingOutput struct {
	Kind    string            `json:"kind"`
	ID      string            `json:"id"`
	Problem string            `json:"problem"`
	Want    map[string]string `json:"want,omitempty"`
	Got     map[string]string `json:"got,omitempty"`
	Text    string            `json:"text"`
}

// errUnexplained: the chain is intact but rows of the business state are
// not explained by it.
var errUnexplained = errors.New("business state not explained by the audit chain")

func runAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := storeFlags(fs)
	anc := anchors{}
	fs.Var(anc, "anchor", "SEQ:HASH recorded earlier; the record must still have that hash (repeatable)")
	var anchorFiles stringList
	fs.Var(&anchorFiles, "anchors", "anchor file written by centrald --audit-anchor-file (repeatable, oldest first)")
	anchorKey := fs.String("anchor-key", "", "public anchor key (the .pub of veinctl audit anchor-key) that signed --anchors")
	maxAge := fs.Duration("max-anchor-age", 0, "with --anchors: fail when the newest anchor is older than this (0: no limit)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := auditParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if (len(anchorFiles) == 0) != (*anchorKey == "") {
		return fmt.Errorf("%w: --anchors and --anchor-key go together", errUsage)
	}
	if *maxAge != 0 && len(anchorFiles) == 0 {
		return fmt.Errorf("%w: --max-anchor-age needs --anchors", errUsage)
	}
	var signed []audit.Anchor
	var anchorErr error
	if len(anchorFiles) > 0 {
		pub, err := audit.LoadAnchorPublicKey(*anchorKey)
		if err != nil {
			return err
		}
		signed, anchorErr = audit.ReadAnchorFiles(pub, anchorFiles...)
		if anchorErr == nil && *maxAge > 0 {
			anchorErr = audit.CheckAnchorAge(signed, time.Now(), *maxAge)
		}
		if anchorErr != nil && !errors.Is(anchorErr, audit.ErrAnchor) && !errors.Is(anchorErr, audit.ErrAnchorStale) {
			return anchorErr // could not read a file: not a verdict
		}
	}
	s, err := openForAudit(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	var rep audit.Report
	verr := anchorErr
	if verr == nil {
		rep, verr = audit.Verify(ctx, s, audit.VerifyOptions{Anchors: anc, Signed: signed})
	}
	out := verifyOutput{OK: verr == nil, Records: rep.Records, FirstSeq: rep.FirstSeq, LastSeq: rep.LastSeq, Head: rep.Head.String(), Anchors: len(signed)}
	if len(signed) > 0 {
		out.LastAnchor = signed[len(signed)-1].String()
	}
	var ce *audit.ChainError
	switch {
	case verr == nil:
	case errors.As(verr, &ce):
		out.BrokenAt, out.Problem = ce.Seq, ce.Problem
	case anchorErr != nil:
		out.Problem = anchorErr.Error()
	default:
		return verr // could not read the chain: not a verdict
	}
	var rec audit.ReconcileReport
	if verr == nil {
		// An intact chain is replayed against the tables it describes.
		var err error
		if rec, err = audit.Reconcile(ctx, s, s); err != nil {
			return err
		}
		out.Reconciled, out.StateRows = len(rec.Findings) == 0, rec.Rows
		for _, f := range rec.Findings {
			out.Findings = append(out.Findings, findingOutput{Kind: f.Kind, ID: f.ID, Problem: f.Problem, Want: f.Want, Got: f.Got, Text: f.String()})
		}
		if len(rec.Findings) > 0 {
			out.OK = false
			verr = fmt.Errorf("%w: %d rows", errUnexplained, len(rec.Findings))
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else if anchorErr != nil {
		fmt.Fprintf(stdout, "AUDIT ANCHORS REFUSED: %v\n", anchorErr)
	} else if ce == nil {
		fmt.Fprintf(stdout, "audit chain intact: %d records", rep.Records)
		if rep.Records > 0 {
			fmt.Fprintf(stdout, " (%d..%d)", rep.FirstSeq, rep.LastSeq)
		}
		fmt.Fprintf(stdout, "\nhead: %d:%s\n", rep.LastSeq, rep.Head)
		if len(signed) > 0 {
			fmt.Fprintf(stdout, "anchors: %d hold (the newest: %s)\n", len(signed), out.LastAnchor)
		}
		if len(rec.Findings) == 0 {
			fmt.Fprintf(stdout, "business state reconciled: %d rows explained by the chain\n", rec.Rows)
		} else {
			fmt.Fprintf(stdout, "BUSINESS STATE NOT EXPLAINED BY THE CHAIN: %d of %d rows\n", len(rec.Findings), rec.Rows)
			for _, f := range rec.Findings {
				fmt.Fprintf(stdout, "  %s\n", f)
			}
		}
	} else {
		fmt.Fprintf(stdout, "AUDIT CHAIN BROKEN: %v\n", verr)
		fmt.Fprintf(stdout, "verified before the break: %d records\n", rep.Records)
	}
	if verr != nil {
		return verr
	}
	return nil
}

type listRecord struct {
	Seq     int64             `json:"seq"`
	Time    string            `json:"time"`
	Actor   string            `json:"actor"`
	Action  string            `json:"action"`
	Target  string            `json:"target,omitempty"`
	Details map[string]string `json:"details,omitempty"`
	Hash    string            `json:"hash"`
}

func runAuditList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := storeFlags(fs)
	after := fs.Int64("after", 0, "list records after this sequence number")
	limit := fs.Int("limit", 100, "at most this many records")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if err := auditParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *limit <= 0 || *limit > 100000 {
		return fmt.Errorf("%w: --limit must be 1..100000", errUsage)
	}
	s, err := openForAudit(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	recs, err := s.ListAudit(ctx, *after, *limit)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, r := range recs {
		lr := listRecord{Seq: r.Seq, Time: r.Time.Format("2006-01-02T15:04:05.000000Z07:00"), Actor: r.Actor.String(), Action: r.Action,
			Target: r.Target, Details: r.Details, Hash: r.Hash.String()}
		if *asJSON {
			if err := enc.Encode(lr); err != nil {
				return err
			}
			continue
		}
		var kv []string
		for _, k := range auditSortedKeys(r.Details) {
			kv = append(kv, k+"="+r.Details[k])
		}
		fmt.Fprintf(stdout, "%6d  %s  %-14s %-22s %-18s %s\n", lr.Seq, lr.Time, lr.Actor, lr.Action, lr.Target, strings.Join(kv, " "))
	}
	return nil
}

// auditParseFlags parses and turns flag errors into usage errors (exit 2).
func auditParseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return fmt.Errorf("%w: %v", errUsage, err)
}

func auditSortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// stringList collects a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func runAuditAnchorKey(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit anchor-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "file for the private key (FILE.pub gets the public key)")
	if err := auditParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *out == "" {
		return fmt.Errorf("%w: want --out FILE", errUsage)
	}
	if _, err := audit.GenerateAnchorKey(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "anchor key: %s (mode 0600, for centrald --audit-anchor-key)\npublic key: %s.pub (for veinctl audit verify --anchor-key; keep a copy off the host)\n", *out, *out)
	return nil
}
