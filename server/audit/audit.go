// Package audit defines the tamper-evident audit trail of the central server.
//
// Every sensitive action (enrolment, verification, filing, staff and device
// administration) appends one Event inside the same database transaction as
// the action itself. Events form a hash chain: each Record stores
//
//	Hash = SHA-256(PrevHash || canonical(Record without hashes))
//
// where PrevHash is the Hash of the record before it (32 zero bytes for the
// first). Editing, deleting or reordering any record breaks the chain, and
// Verify reports where.
//
// Events carry identifiers only: the actor (staff id, kiosk id, ...), an
// action name, a target such as "filing:123" or "resident:42" (the resident's
// internal number, never the ID-card number) and a flat map of details. They
// never hold names, ID-card numbers, addresses or biometric data; Validate
// rejects values that look like a citizen ID number.
package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"
)

// ActorType says what kind of principal acted.
type ActorType string

// Actor types.
const (
	ActorStaff   ActorType = "staff"
	ActorKiosk   ActorType = "kiosk"
	ActorScanner ActorType = "scanner"
	ActorSystem  ActorType = "system"
)

// Actor identifies who performed an action, by identifier only.
type Actor struct {
	Type ActorType
	ID   string
}

func (a Actor) String() string { return string(a.Type) + ":" + a.ID }

// System returns the actor used for actions the server takes on its own
// (migrations, key rotation, housekeeping); name says which component.
func System(name string) Actor { return Actor{Type: ActorSystem, ID: name} }

// Staff returns the actor for a staff member by internal id.
func Staff(id int64) Actor { return Actor{Type: ActorStaff, ID: fmt.Sprint(id)} }

// Kiosk returns the actor for a kiosk by kiosk id.
func Kiosk(id string) Actor { return Actor{Type: ActorKiosk, ID: id} }

// Event is one audited action, before it is placed in the chain.
type Event struct {
	Time    time.Time // stored with microsecond precision, UTC
	Actor   Actor
	Action  string            // e.g. "filing.create", "enrolment.replace"
	Target  string            // e.g. "filing:17"; may be empty
	Details map[string]string // identifiers and codes only
}

// HashSize is the size of a chain hash.
const HashSize = sha256.Size

// Hash is a link of the chain.
type Hash [HashSize]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash parses the hexadecimal form printed by Hash.String.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != HashSize {
		return h, fmt.Errorf("audit: malformed hash %q", s)
	}
	copy(h[:], b)
	return h, nil
}

// Record is an Event placed in the chain.
type Record struct {
	Seq int64 // 1, 2, 3, ... without gaps
	Event
	PrevHash Hash
	Hash     Hash
}

// Errors.
var (
	// ErrInvalid is returned by Validate for a malformed event.
	ErrInvalid = errors.New("audit: invalid event")
	// ErrPersonalData is returned by Validate when a detail or target looks
	// like personal data (a citizen ID number).
	ErrPersonalData = errors.New("audit: event contains personal data")
	// ErrBroken reports a broken chain (see *ChainError for where).
	ErrBroken = errors.New("audit: chain broken")
)

var (
	actionRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)
	// 18-character resident identity numbers (GB 11643) and the older
	// 15-digit form, anywhere in a string.
	idNumberRE = regexp.MustCompile(`[0-9]{17}[0-9Xx]|(^|[^0-9])[0-9]{15}($|[^0-9])`)
)

// Limits on the size of an event.
const (
	MaxDetails     = 32
	MaxFieldLength = 256
)

// Validate checks an event before it is appended.
func Validate(e Event) error {
	if e.Time.IsZero() {
		return fmt.Errorf("%w: zero time", ErrInvalid)
	}
	switch e.Actor.Type {
	case ActorStaff, ActorKiosk, ActorScanner, ActorSystem:
	default:
		return fmt.Errorf("%w: unknown actor type %q", ErrInvalid, e.Actor.Type)
	}
	if e.Actor.ID == "" || len(e.Actor.ID) > MaxFieldLength {
		return fmt.Errorf("%w: actor id must have 1..%d bytes", ErrInvalid, MaxFieldLength)
	}
	if !actionRE.MatchString(e.Action) || len(e.Action) > MaxFieldLength {
		return fmt.Errorf("%w: action %q must be dotted lower-case words", ErrInvalid, e.Action)
	}
	if len(e.Target) > MaxFieldLength {
		return fmt.Errorf("%w: target too long", ErrInvalid)
	}
	if len(e.Details) > MaxDetails {
		return fmt.Errorf("%w: more than %d details", ErrInvalid, MaxDetails)
	}
	for _, s := range []string{e.Actor.ID, e.Target} {
		if idNumberRE.MatchString(s) {
			return ErrPersonalData
		}
	}
	for k, v := range e.Details {
		if k == "" || len(k) > MaxFieldLength || len(v) > MaxFieldLength {
			return fmt.Errorf("%w: detail %q: keys 1..%d bytes, values up to %d", ErrInvalid, k, MaxFieldLength, MaxFieldLength)
		}
		if idNumberRE.MatchString(k) || idNumberRE.MatchString(v) {
			return fmt.Errorf("%w (detail %q)", ErrPersonalData, k)
		}
	}
	return nil
}

// Normalize returns the event as it will be stored: time in UTC truncated
// to microseconds (what both databases keep), nil details made empty.
func Normalize(e Event) Event {
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	if e.Details == nil {
		e.Details = map[string]string{}
	}
	return e
}

const domain = "veinkiosk-audit-v1"

// Canonical returns the canonical byte encoding of a record's content (its
// sequence number and event, not its hashes): every field length-prefixed,
// details sorted by key, time as Unix microseconds.
func Canonical(seq int64, e Event) []byte {
	b := make([]byte, 0, 256)
	b = appendStr(b, domain)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixMicro()))
	b = appendStr(b, string(e.Actor.Type))
	b = appendStr(b, e.Actor.ID)
	b = appendStr(b, e.Action)
	b = appendStr(b, e.Target)
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = appendStr(b, k)
		b = appendStr(b, e.Details[k])
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// Chain computes the hash of the record with sequence number seq following
// prev.
func Chain(prev Hash, seq int64, e Event) Hash {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(Canonical(seq, e))
	var out Hash
	h.Sum(out[:0])
	return out
}

// Link places a validated event after the record (prevSeq, prev) and returns
// the new record. The event is normalised first.
func Link(prevSeq int64, prev Hash, e Event) (Record, error) {
	if err := Validate(e); err != nil {
		return Record{}, err
	}
	e = Normalize(e)
	seq := prevSeq + 1
	return Record{Seq: seq, Event: e, PrevHash: prev, Hash: Chain(prev, seq, e)}, nil
}
