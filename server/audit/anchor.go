package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Anchors: signed checkpoints of the chain head kept outside the database.
//
// The chain has no key: someone who can write the database can change a
// record (or a business row and the event that should explain it) and
// recompute every later hash and the head row, and Verify then finds the
// chain intact. An Anchor is the server's signature (an Ed25519 key the
// database never holds) over the head it saw at some time: the sequence
// number and hash of the last record. Appended to a file that is shipped
// off the database host, anchors pin the chain: a rewrite at or before an
// anchored record changes that record's hash, and a truncation leaves the
// chain shorter than an anchor (VerifyOptions.Signed).
//
// What anchors cannot see: a change to records after the newest anchor,
// until the next anchor is written (one interval), and an anchor file that
// is itself an old copy (check its age: CheckAnchorAge).

// AnchorVersion is the version of the anchor line format.
const AnchorVersion = 1

// anchorDomain separates anchor signatures from every other signature.
const anchorDomain = "veinkiosk-audit-anchor-v1"

// MaxAnchorLine bounds the length of one anchor line (an honest one has
// about 330 bytes).
const MaxAnchorLine = 4096

// Anchor is one signed checkpoint of the chain head.
type Anchor struct {
	// Replica names the server that signed it (each replica of a shared
	// database anchors on its own, with its own id).
	Replica string
	Seq     int64 // the last record's sequence number (0: empty chain)
	Hash    Hash  // its hash
	// Records is the number of records in the chain up to Seq (equal to
	// Seq: sequence numbers run 1, 2, 3, ... without gaps).
	Records int64
	Time    time.Time // when it was signed (UTC, microseconds)
	// Prev is the Digest of the previous anchor this replica wrote (zero
	// for its first): the anchors of a replica form a chain of their own,
	// so lines removed from a file, or an old copy of the file put back,
	// are found once the replica writes its next anchor.
	Prev Hash
	Sig  []byte // Ed25519 signature over the canonical form

	// Where is the file and line it was read from (not signed).
	Where string
}

// Errors of anchors.
var (
	// ErrAnchor reports an anchor line that does not decode or whose
	// signature does not verify, and an anchor file whose lines do not
	// follow one another (see *AnchorError).
	ErrAnchor = errors.New("audit: bad anchor")
	// ErrAnchorStale reports an anchor file whose newest anchor is older
	// than allowed (CheckAnchorAge).
	ErrAnchorStale = errors.New("audit: anchors stale")
)

// AnchorError says which anchor line is wrong and how. It matches
// ErrAnchor.
type AnchorError struct {
	Where   string // file:line
	Problem string
}

func (e *AnchorError) Error() string {
	return fmt.Sprintf("audit: bad anchor at %s: %s", e.Where, e.Problem)
}

// Is makes errors.Is(err, ErrAnchor) true.
func (e *AnchorError) Is(target error) bool { return target == ErrAnchor }

var replicaRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidReplica reports whether id may name a replica in anchors: 1..64
// letters, digits, '.', '_' or '-', starting with a letter or digit.
func ValidReplica(id string) bool { return replicaRE.MatchString(id) }

// canonical is the signed form: every field fixed-size or length-prefixed.
func (a *Anchor) canonical() []byte {
	b := make([]byte, 0, 160)
	b = appendStr(b, anchorDomain)
	b = appendStr(b, a.Replica)
	b = binary.BigEndian.AppendUint64(b, uint64(a.Seq))
	b = append(b, a.Hash[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(a.Records))
	b = binary.BigEndian.AppendUint64(b, uint64(a.Time.UnixMicro()))
	b = append(b, a.Prev[:]...)
	return b
}

// Digest identifies a signed anchor: the SHA-256 of its canonical form and
// signature. The next anchor of the same replica names it in Prev.
func (a *Anchor) Digest() Hash {
	h := sha256.New()
	h.Write(a.canonical())
	h.Write(a.Sig)
	var out Hash
	h.Sum(out[:0])
	return out
}

// Sign normalises the time and signs the anchor with key.
func (a *Anchor) Sign(key ed25519.PrivateKey) error {
	if !ValidReplica(a.Replica) {
		return fmt.Errorf("%w: replica id %q", ErrAnchor, a.Replica)
	}
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: anchor key has %d bytes", ErrAnchor, len(key))
	}
	a.Time = a.Time.UTC().Truncate(time.Microsecond)
	a.Sig = ed25519.Sign(key, a.canonical())
	return nil
}

// Check verifies the anchor's signature with pub.
func (a *Anchor) Check(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || len(a.Sig) != ed25519.SignatureSize || !ed25519.Verify(pub, a.canonical(), a.Sig) {
		return errors.New("signature does not verify with the anchor key (forged or edited line, or another key)")
	}
	return nil
}

// anchorLine is the JSON form of one line.
type anchorLine struct {
	V       int    `json:"v"`
	Replica string `json:"replica"`
	Seq     int64  `json:"seq"`
	Hash    string `json:"hash"`
	Records int64  `json:"records"`
	Time    string `json:"time"`
	Prev    string `json:"prev"`
	Sig     string `json:"sig"`
}

const anchorTimeLayout = "2006-01-02T15:04:05.000000Z"

// MarshalLine returns the anchor as one JSON line, without the newline.
func (a *Anchor) MarshalLine() ([]byte, error) {
	if len(a.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: unsigned", ErrAnchor)
	}
	return json.Marshal(anchorLine{
		V: AnchorVersion, Replica: a.Replica, Seq: a.Seq, Hash: a.Hash.String(), Records: a.Records,
		Time: a.Time.UTC().Format(anchorTimeLayout), Prev: a.Prev.String(), Sig: base64.StdEncoding.EncodeToString(a.Sig),
	})
}

// ParseAnchorLine decodes one line written by MarshalLine. It is strict:
// unknown or missing fields, another version, malformed values and
// trailing data are refused. It does not check the signature (Check).
func ParseAnchorLine(line []byte) (Anchor, error) {
	var a Anchor
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) > MaxAnchorLine {
		return a, fmt.Errorf("line longer than %d bytes", MaxAnchorLine)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return a, fmt.Errorf("not a JSON object: %w", err)
	}
	for _, k := range []string{"v", "replica", "seq", "hash", "records", "time", "prev", "sig"} {
		if _, ok := raw[k]; !ok {
			return a, fmt.Errorf("field %q missing", k)
		}
	}
	var l anchorLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return a, fmt.Errorf("malformed: %w", err)
	}
	if dec.More() {
		return a, errors.New("data after the object")
	}
	if l.V != AnchorVersion {
		return a, fmt.Errorf("version %d (this verifier reads %d)", l.V, AnchorVersion)
	}
	if !ValidReplica(l.Replica) {
		return a, fmt.Errorf("replica id %q", l.Replica)
	}
	if l.Seq < 0 || l.Records < 0 || l.Records > l.Seq {
		return a, fmt.Errorf("seq %d, records %d", l.Seq, l.Records)
	}
	var err error
	if a.Hash, err = ParseHash(l.Hash); err != nil {
		return a, err
	}
	if a.Prev, err = ParseHash(l.Prev); err != nil {
		return a, err
	}
	t, err := time.Parse(anchorTimeLayout, l.Time)
	if err != nil {
		return a, fmt.Errorf("time %q: want %s", l.Time, anchorTimeLayout)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(l.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return a, fmt.Errorf("signature: want %d bytes of base64", ed25519.SignatureSize)
	}
	a.Replica, a.Seq, a.Records, a.Time, a.Sig = l.Replica, l.Seq, l.Records, t.UTC(), sig
	return a, nil
}

// String is a short description naming where the anchor was read.
func (a *Anchor) String() string {
	where := ""
	if a.Where != "" {
		where = a.Where + " "
	}
	return fmt.Sprintf("anchor %s(replica %s, %s, record %d)", where, a.Replica, a.Time.Format(time.RFC3339), a.Seq)
}
