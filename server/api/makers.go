package api

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
)

// Makers is the set of trusted scanner maker keys: a device certificate is
// accepted only when it verifies under the key of its MakerID. Keys come
// from a file (one "maker-id base64(ed25519 public key) [name]" per line,
// '#' comments) and from the admin API, which appends to the same file so
// they survive a restart. Without a file, keys added through the API last
// until the process ends.
//
// Replicas that share the file (one machine, or a shared configuration
// volume) follow each other's additions: Reload, called by FollowChanges
// at each read of the change log, re-reads the file when it changed, and
// the file is the truth (a key removed from it is no longer trusted).
type Makers struct {
	path string
	mu   sync.RWMutex
	keys map[string]maker
	// seen is the size and modification time of the file when it was
	// last read.
	seen fileStamp
}

type fileStamp struct {
	size int64
	mod  time.Time
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{size: fi.Size(), mod: fi.ModTime()}, nil
}

type maker struct {
	id    string
	name  string
	pub   ed25519.PublicKey
	added time.Time
}

// NewMakers returns a registry persisted in path ("" for memory only).
func NewMakers(path string) *Makers { return &Makers{path: path, keys: map[string]maker{}} }

// LoadMakers reads the registry file; a missing file is an empty registry.
func LoadMakers(path string) (*Makers, error) {
	stamp, _ := stampOf(path)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return NewMakers(path), nil
	} else if err != nil {
		return nil, fmt.Errorf("maker keys: %w", err)
	}
	m, err := parseMakers(path, data)
	if m != nil {
		m.seen = stamp
	}
	return m, err
}

// Reload re-reads the registry file if its size or modification time
// changed since it was last read, and makes its keys the trusted set (a
// key another replica added is trusted; one removed from the file no
// longer is). It reports whether the set was replaced. A file that does
// not parse (for example caught in the middle of another replica's
// append) leaves the set as it was, to be read again next time.
func (m *Makers) Reload() (bool, error) {
	if m.path == "" {
		return false, nil
	}
	stamp, err := stampOf(m.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("maker keys: %w", err)
	}
	m.mu.RLock()
	same := stamp == m.seen
	m.mu.RUnlock()
	if same {
		return false, nil
	}
	data, err := os.ReadFile(m.path)
	if err != nil {
		return false, fmt.Errorf("maker keys: %w", err)
	}
	fresh, err := parseMakers(m.path, data)
	if err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, k := range fresh.keys {
		if old, ok := m.keys[id]; ok && old.pub.Equal(k.pub) {
			k.added = old.added
			fresh.keys[id] = k
		}
	}
	m.keys, m.seen = fresh.keys, stamp
	return true, nil
}

// parseMakers parses the registry file's content.
func parseMakers(path string, data []byte) (*Makers, error) {
	m := NewMakers(path)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		f := strings.Fields(t)
		if len(f) < 2 {
			return nil, fmt.Errorf("maker keys %s:%d: want \"maker-id base64-public-key [name]\"", path, line)
		}
		pub, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("maker keys %s:%d: key is not base64 of 32 bytes", path, line)
		}
		if err := validMakerID(f[0]); err != nil {
			return nil, fmt.Errorf("maker keys %s:%d: %w", path, line, err)
		}
		m.keys[f[0]] = maker{id: f[0], pub: pub, name: strings.Join(f[2:], " ")}
	}
	return m, sc.Err()
}

// validMakerID is the protocol's rule for maker IDs (the one device
// certificates follow).
func validMakerID(id string) error { return wire.CheckMakerID(id) }

// Key returns the public key of a maker.
func (m *Makers) Key(id string) (ed25519.PublicKey, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	k, ok := m.keys[id]
	return k.pub, ok
}

// Add trusts a maker key, persisting it when the registry has a file.
// Re-adding the same key is a no-op; a different key for a known id is an
// error (remove the old one from the file first: key changes are deliberate).
func (m *Makers) Add(id, name string, pub ed25519.PublicKey, now time.Time) (created bool, err error) {
	if err := validMakerID(id); err != nil {
		return false, err
	}
	if len(pub) != ed25519.PublicKeySize {
		return false, fmt.Errorf("maker key of %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	name = strings.Join(strings.Fields(name), " ")
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.keys[id]; ok {
		if old.pub.Equal(pub) {
			return false, nil
		}
		return false, errMakerKeyChange
	}
	if m.path != "" {
		if err := os.MkdirAll(filepath.Dir(m.path), 0o700); err != nil {
			return false, err
		}
		f, err := os.OpenFile(m.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return false, fmt.Errorf("maker keys: %w", err)
		}
		_, werr := fmt.Fprintf(f, "%s %s %s\n", id, base64.StdEncoding.EncodeToString(pub), name)
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			return false, fmt.Errorf("maker keys: %w", err)
		}
	}
	m.keys[id] = maker{id: id, name: name, pub: slices.Clone(pub), added: now}
	return true, nil
}

var errMakerKeyChange = errors.New("a different key is already trusted for this maker id")

// list returns the makers sorted by id.
func (m *Makers) list() []maker {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]maker, 0, len(m.keys))
	for _, k := range m.keys {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b maker) int { return strings.Compare(a.id, b.id) })
	return out
}
