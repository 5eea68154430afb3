package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// ---- reading and checking anchor files ----

// ReadAnchors reads an anchor file (one JSON line per anchor, as the
// Anchorer writes them) and checks every line's signature with pub. name
// names the file in errors and in each Anchor's Where ("name:line"). A
// line that does not decode or whose signature fails is an *AnchorError:
// the whole file is refused, since a verifier cannot tell which of its
// other lines to believe. Blank lines are skipped; a last line without
// its newline is an append in progress (or torn by a crash) and is
// skipped too.
func ReadAnchors(r io.Reader, name string, pub ed25519.PublicKey) ([]Anchor, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: anchor public key has %d bytes", ErrAnchor, len(pub))
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var out []Anchor
	for n := 1; ; n++ {
		line, err := readLine(br)
		if errors.Is(err, io.EOF) {
			// An unterminated last line (line != nil) is skipped.
			return out, nil
		}
		where := fmt.Sprintf("%s:%d", name, n)
		if errors.Is(err, errLongLine) {
			return out, &AnchorError{Where: where, Problem: err.Error()}
		}
		if err != nil {
			return out, fmt.Errorf("audit: reading %s: %w", name, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		a, err := ParseAnchorLine(line)
		if err != nil {
			return out, &AnchorError{Where: where, Problem: err.Error()}
		}
		if err := a.Check(pub); err != nil {
			return out, &AnchorError{Where: where, Problem: err.Error()}
		}
		a.Where = where
		out = append(out, a)
	}
}

var errLongLine = fmt.Errorf("line longer than %d bytes", MaxAnchorLine)

// readLine returns the next newline-terminated line (without reading more
// than MaxAnchorLine+1 bytes of it), or io.EOF at the end, with a last
// unterminated line dropped.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxAnchorLine+1 {
			return nil, errLongLine
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, err // io.EOF drops an unterminated line
		}
	}
}

// ReadAnchorFiles reads the files in the order given (a rotated file
// before its successor) and checks the links of each replica's anchors
// (CheckAnchorLinks).
func ReadAnchorFiles(pub ed25519.PublicKey, paths ...string) ([]Anchor, error) {
	var all []Anchor
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("audit: anchors: %w", err)
		}
		as, err := ReadAnchors(f, p, pub)
		f.Close()
		if err != nil {
			return nil, err
		}
		all = append(all, as...)
	}
	return all, CheckAnchorLinks(all)
}

// CheckAnchorLinks checks that each replica's anchors, in the order read,
// follow one another: each names the digest of the one before it. The
// first anchor of a replica may name any (the file may have been rotated
// after it). A gap means lines were removed, or that an old copy of the
// file was put back and the replica has written to it since.
func CheckAnchorLinks(anchors []Anchor) error {
	last := map[string]*Anchor{}
	for i := range anchors {
		a := &anchors[i]
		if p, ok := last[a.Replica]; ok && a.Prev != p.Digest() {
			return &AnchorError{Where: a.Where, Problem: fmt.Sprintf("does not follow the previous anchor of replica %s (%s): anchors between them are missing (lines deleted, or an old copy of the file put back)", a.Replica, p.Where)}
		}
		last[a.Replica] = a
	}
	return nil
}

// CheckAnchorAge fails with ErrAnchorStale when the newest anchor is older
// than maxAge at now (or there is none): the file handed to the verifier
// is an old copy, or the servers stopped anchoring. Anchors of an old
// copy are genuine and cannot show a rewrite after them; their age can.
func CheckAnchorAge(anchors []Anchor, now time.Time, maxAge time.Duration) error {
	var newest *Anchor
	for i := range anchors {
		if newest == nil || anchors[i].Time.After(newest.Time) {
			newest = &anchors[i]
		}
	}
	if newest == nil {
		return fmt.Errorf("%w: no anchors", ErrAnchorStale)
	}
	if age := now.Sub(newest.Time); age > maxAge {
		return fmt.Errorf("%w: the newest, %s, is %s old (more than %s): an old copy of the file, or anchoring stopped", ErrAnchorStale, newest, age.Round(time.Second), maxAge)
	}
	return nil
}

// ---- keys ----

// GenerateAnchorKey creates an Ed25519 anchor key: the private key in
// path (PKCS #8 PEM, mode 0600, never overwritten) and the public key
// that verifiers hold in path+".pub" (PKIX PEM).
func GenerateAnchorKey(path string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	if err := writeNew(path+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		return nil, err
	}
	if err := writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		os.Remove(path + ".pub")
		return nil, err
	}
	return pub, nil
}

func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("audit: anchor key: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("audit: anchor key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("audit: anchor key: %w", err)
	}
	return f.Close()
}

// LoadAnchorKey reads the private anchor key written by
// GenerateAnchorKey. Like the key ring, the file must not be accessible
// by group or others.
func LoadAnchorKey(path string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("audit: anchor key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("audit: anchor key %s is accessible by group or others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: anchor key: %w", err)
	}
	defer clear(b)
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("audit: anchor key %s: not a PEM PRIVATE KEY", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit: anchor key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("audit: anchor key %s: %T, want Ed25519", path, k)
	}
	return priv, nil
}

// LoadAnchorPublicKey reads the public anchor key (PKIX PEM, the ".pub"
// file GenerateAnchorKey writes).
func LoadAnchorPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: anchor public key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("audit: anchor public key %s: not a PEM PUBLIC KEY", path)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit: anchor public key %s: %w", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("audit: anchor public key %s: %T, want Ed25519", path, k)
	}
	return pub, nil
}

// ---- writing ----

// HeadSource reads the chain head (store.Store implements it).
type HeadSource interface {
	AuditHead(ctx context.Context) (int64, Hash, error)
}

// Anchorer signs the chain head and appends it to an anchor file.
type Anchorer struct {
	src     HeadSource
	key     ed25519.PrivateKey
	replica string
	path    string
	now     func() time.Time

	mu   sync.Mutex
	last *Anchor // the last anchor written (or found in the file at start)
}

// NewAnchorer prepares anchoring of src's head to the file path, signed by
// key as replica. The replica's last anchor already in the file (if any,
// and if it verifies with key) is the one the next anchor follows.
func NewAnchorer(src HeadSource, key ed25519.PrivateKey, replica, path string, now func() time.Time) (*Anchorer, error) {
	if !ValidReplica(replica) {
		return nil, fmt.Errorf("audit: anchor replica id %q: 1..64 letters, digits, '.', '_' or '-'", replica)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("audit: no anchor key")
	}
	if now == nil {
		now = time.Now
	}
	a := &Anchorer{src: src, key: key, replica: replica, path: path, now: now}
	f, err := os.Open(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return a, nil
	case err != nil:
		return nil, fmt.Errorf("audit: anchor file: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := readLine(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errLongLine) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("audit: anchor file: %w", err)
		}
		an, err := ParseAnchorLine(line)
		if err != nil || an.Replica != replica || an.Check(a.PublicKey()) != nil {
			continue // another replica's, or not ours: not a link of our chain
		}
		a.last = &an
	}
	return a, nil
}

// PublicKey is the key that verifies this anchorer's anchors.
func (a *Anchorer) PublicKey() ed25519.PublicKey { return a.key.Public().(ed25519.PublicKey) }

// Path is the anchor file.
func (a *Anchorer) Path() string { return a.path }

// Last returns the last anchor written (or found at start).
func (a *Anchorer) Last() (Anchor, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == nil {
		return Anchor{}, false
	}
	return *a.last, true
}

// Anchor reads the head, signs it and appends it to the file: opened for
// each anchor with O_APPEND (so a file moved away by log rotation is
// followed by a new one), written in one write and fsync'd before it
// counts as written.
func (a *Anchorer) Anchor(ctx context.Context) (Anchor, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	seq, h, err := a.src.AuditHead(ctx)
	if err != nil {
		return Anchor{}, fmt.Errorf("audit: anchor: reading the head: %w", err)
	}
	an := Anchor{Replica: a.replica, Seq: seq, Hash: h, Records: seq, Time: a.now()}
	if a.last != nil {
		an.Prev = a.last.Digest()
	}
	if err := an.Sign(a.key); err != nil {
		return Anchor{}, err
	}
	line, err := an.MarshalLine()
	if err != nil {
		return Anchor{}, err
	}
	f, err := os.OpenFile(a.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return Anchor{}, fmt.Errorf("audit: anchor file: %w", err)
	}
	out := append(line, '\n')
	// After a torn write (a full disk, a crash) the file does not end with
	// a newline: end that line, so that this one stays whole.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			out = append([]byte{'\n'}, out...)
		}
	}
	_, werr := f.Write(out)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return Anchor{}, fmt.Errorf("audit: writing anchor: %w", werr)
	}
	a.last = &an
	return an, nil
}
