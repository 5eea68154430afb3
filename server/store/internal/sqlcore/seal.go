package sqlcore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/keyring"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Personal data at rest (docs/storage.md, "Personal data at rest").
//
// ID numbers, names, addresses, birth dates, household numbers, filing
// forms and replies are sealed with the key ring (AES-256-GCM, as the
// biometric blobs), each bound by its associated data to the row it belongs
// to. Where the store looks a row up by ID number it uses a blind index:
// HMAC-SHA-256 of the canonical ID number under the index key, in unpadded
// base64url (43 characters; base64 rather than hex so the audit events
// that carry it never hold a run of digits that reads as an ID number).
//
// The index key is 32 random bytes generated when the database is first
// opened, kept in store_keys sealed under the key ring. It is not rotated
// with the data keys: rotating the ring re-seals the index key (Reencrypt)
// but its value, and so every index, stays the same. Without the key ring
// a copy of the database holds neither the ID numbers nor a way to test a
// guessed ID number against the indexes.

// indexKeyName is the store_keys row of the blind-index key.
const indexKeyName = "blind_index"

// sealedTextPrefix marks a sealed value in a text column: "s1:" then the
// base64 of the sealed blob.
const sealedTextPrefix = "s1:"

var indexKeyAD = []byte("veinkiosk/store-key/v1|" + indexKeyName)

// canonID is the canonical form of an ID number (identity.CanonicalIDNumber),
// applied before any lookup, index or comparison.
func canonID(idNumber string) string { return identity.CanonicalIDNumber(idNumber) }

// loadIndexKey reads the blind-index key, creating it on the first open.
// Concurrent first opens agree: the insert does nothing when another
// process got there first, and everyone reads the stored row.
func (s *Store) loadIndexKey(ctx context.Context) error {
	fresh, err := keyring.GenerateKey()
	if err != nil {
		return err
	}
	defer clear(fresh)
	sealed, err := s.ring.Seal(fresh, indexKeyAD)
	if err != nil {
		return err
	}
	var stored []byte
	err = s.db.Tx(ctx, WriteTx, func(q Q) error {
		if _, err := q.Exec(ctx, `INSERT INTO store_keys (name, sealed) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, indexKeyName, sealed); err != nil {
			return err
		}
		return q.QueryRow(ctx, `SELECT sealed FROM store_keys WHERE name = $1`, indexKeyName).Scan(&stored)
	})
	if err != nil {
		return fmt.Errorf("store: reading the blind-index key: %w", err)
	}
	k, err := s.ring.Open(stored, indexKeyAD)
	if err != nil {
		return fmt.Errorf("%w: the blind-index key (is the key ring the one this database was sealed with?): %w", store.ErrDecrypt, err)
	}
	if len(k) != keyring.KeySize {
		return fmt.Errorf("%w: the blind-index key has %d bytes", store.ErrDecrypt, len(k))
	}
	s.indexKey = k
	return nil
}

// idKey returns the blind index of an ID number:
// base64url(HMAC-SHA-256(index key, canonical ID number)).
func (s *Store) idKey(idNumber string) string {
	if s.indexKey == nil {
		return "" // Options.AuditOnly: matches no row
	}
	m := hmac.New(sha256.New, s.indexKey)
	m.Write([]byte(canonID(idNumber)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// idKeyLen is the length of a blind index; ID numbers are at most 32
// characters, so a row still holding a plaintext ID is told apart by its
// length.
var idKeyLen = base64.RawURLEncoding.EncodedLen(sha256.Size)

// sealText seals a text value into a text column, bound to ad. The empty
// string stays empty (it tells nothing).
func (s *Store) sealText(plain, ad string) (string, error) {
	if plain == "" {
		return "", nil
	}
	b, err := s.ring.Seal([]byte(plain), []byte(ad))
	if err != nil {
		return "", err
	}
	return sealedTextPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// openText opens a value sealed by sealText. A value that is not sealed is
// refused: the store never writes one, so it was put there behind its back.
func (s *Store) openText(v, ad string) (string, error) {
	if v == "" {
		return "", nil
	}
	b64, ok := strings.CutPrefix(v, sealedTextPrefix)
	if !ok {
		return "", fmt.Errorf("%w: %s is not sealed", store.ErrDecrypt, adWhat(ad))
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", store.ErrDecrypt, adWhat(ad), keyring.ErrMalformed)
	}
	pt, err := s.ring.Open(b, []byte(ad))
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", store.ErrDecrypt, adWhat(ad), err)
	}
	return string(pt), nil
}

// resealText re-seals a sealText value under the primary key; changed is
// false when it already was.
func (s *Store) resealText(v, ad string) (out string, changed bool, err error) {
	if v == "" {
		return v, false, nil
	}
	b64, ok := strings.CutPrefix(v, sealedTextPrefix)
	if !ok {
		return "", false, fmt.Errorf("%w: %s is not sealed", store.ErrDecrypt, adWhat(ad))
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || !s.ring.NeedsRotation(b) {
		if err != nil {
			return "", false, fmt.Errorf("%w: %s: %w", store.ErrDecrypt, adWhat(ad), keyring.ErrMalformed)
		}
		return v, false, nil
	}
	nb, err := s.ring.Reseal(b, []byte(ad))
	if err != nil {
		return "", false, fmt.Errorf("%w: %s: %w", store.ErrDecrypt, adWhat(ad), err)
	}
	return sealedTextPrefix + base64.StdEncoding.EncodeToString(nb), true, nil
}

// resealBlob re-seals a ring.Seal blob under the primary key; changed is
// false when it already was. what names it in errors.
func (s *Store) resealBlob(b, ad []byte, what string) (out []byte, changed bool, err error) {
	if !s.ring.NeedsRotation(b) {
		return b, false, nil
	}
	nb, err := s.ring.Reseal(b, ad)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %s: %w", store.ErrDecrypt, what, err)
	}
	return nb, true, nil
}

// adWhat names the record of an associated-data string without the
// personal part (the blind index is not personal data, but keep messages
// short).
func adWhat(ad string) string {
	parts := strings.Split(ad, "|")
	if len(parts) >= 2 {
		return strings.TrimPrefix(parts[0], "veinkiosk/") + " " + parts[1]
	}
	return ad
}

// Associated data of the sealed personal fields.
func adResident(idKey string) []byte {
	return []byte("veinkiosk/resident-pii/v1|" + idKey)
}
func adFilingForm(ref string) string  { return "veinkiosk/filing-form/v1|" + ref }
func adFilingReply(ref string) string { return "veinkiosk/filing-reply/v1|" + ref }
func adReplacementReason(id int64) string {
	return "veinkiosk/replacement-reason/v1|" + itoa(id)
}
func adTokenHash(table string, hash []byte) string {
	return "veinkiosk/" + table + "/v1|" + hex.EncodeToString(hash)
}

// pii is the sealed part of a resident row.
type pii struct {
	IDNumber  string `json:"i"`
	Name      string `json:"n"`
	Address   string `json:"a,omitempty"`
	Birth     string `json:"b,omitempty"` // YYYY-MM-DD
	Household string `json:"h,omitempty"`
	Phone     string `json:"p,omitempty"`
	// Relationship to the household head and the guardian's ID number
	// (migration 0009: a blob sealed before has neither).
	Relationship string `json:"r,omitempty"`
	Guardian     string `json:"g,omitempty"`
}

func (s *Store) sealResident(r store.Resident) (idKey string, sealed []byte, err error) {
	p := pii{IDNumber: r.IDNumber, Name: r.Name, Address: r.Address, Household: r.Household, Phone: r.Phone,
		Relationship: r.Relationship, Guardian: r.GuardianIDNumber}
	if !r.BirthDate.IsZero() {
		p.Birth = r.BirthDate.UTC().Format(time.DateOnly)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", nil, err
	}
	defer clear(b)
	idKey = s.idKey(r.IDNumber)
	sealed, err = s.ring.Seal(b, adResident(idKey))
	return idKey, sealed, err
}

// openResident fills the sealed fields of r from its row's blind index and
// sealed blob.
func (s *Store) openResident(r *store.Resident, idKey string, sealed []byte) error {
	if len(sealed) == 0 {
		return fmt.Errorf("%w: resident %d has no sealed personal data", store.ErrDecrypt, r.ID)
	}
	b, err := s.ring.Open(sealed, adResident(idKey))
	if err != nil {
		return fmt.Errorf("%w: resident %d: %w", store.ErrDecrypt, r.ID, err)
	}
	defer clear(b)
	var p pii
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("%w: resident %d: %w", store.ErrDecrypt, r.ID, err)
	}
	r.IDNumber, r.Name, r.Address, r.Household, r.Phone = p.IDNumber, p.Name, p.Address, p.Household, p.Phone
	r.Relationship, r.GuardianIDNumber = p.Relationship, p.Guardian
	r.BirthDate = time.Time{}
	if p.Birth != "" {
		if r.BirthDate, err = time.Parse(time.DateOnly, p.Birth); err != nil {
			return fmt.Errorf("%w: resident %d birth date: %w", store.ErrDecrypt, r.ID, err)
		}
	}
	return nil
}

// residentIDNumber opens only the ID number of a resident row (joins that
// report the ID number of a filing, enrolment or case).
func (s *Store) residentIDNumber(rid int64, idKey string, sealed []byte) (string, error) {
	r := store.Resident{ID: rid}
	if err := s.openResident(&r, idKey, sealed); err != nil {
		return "", err
	}
	return r.IDNumber, nil
}

// residentRef scans the (id_key, pii) pair of a joined resident.
type residentRef struct {
	key    string
	sealed []byte
}

func (s *Store) sealTokenID(table string, hash []byte, idNumber string) (string, error) {
	return s.sealText(idNumber, adTokenHash(table, hash))
}

// ---- existing plaintext ----

// sealLegacy seals the personal data a database written before migration
// 0004 still holds in plaintext, in one transaction, and clears the
// store_state row "legacy_pii" the migration left, so later opens skip it.
// The migration cannot do this in SQL (it has no key); doing it at open
// means no program ever reads the half-migrated schema.
func (s *Store) sealLegacy(ctx context.Context) error {
	var pending bool
	err := s.db.Tx(ctx, ReadTx, func(q Q) error {
		var n int
		if err := q.QueryRow(ctx, `SELECT count(*) FROM store_state WHERE name = 'legacy_pii'`).Scan(&n); err != nil {
			return err
		}
		pending = n > 0
		return nil
	})
	if err != nil || !pending {
		return err
	}
	var counts [5]int
	err = s.db.Tx(ctx, WriteTx, func(q Q) error {
		counts = [5]int{}
		var v string
		err := q.QueryRow(ctx, `SELECT value FROM store_state WHERE name = 'legacy_pii'`+s.d.ForUpdate).Scan(&v)
		if isNotFound(err) {
			return nil // another process did it
		}
		if err != nil {
			return err
		}
		if counts[0], err = s.sealLegacyResidents(ctx, q); err != nil {
			return fmt.Errorf("residents: %w", err)
		}
		for _, t := range []string{"verification_attempts", "lockouts", "id_locks"} {
			m, err := s.indexLegacyIDs(ctx, q, t)
			if err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
			counts[1] += m
		}
		for _, t := range []string{"spent_tokens", "pending_identifications"} {
			col := "token_hash"
			if t == "pending_identifications" {
				col = "id_hash"
			}
			m, err := s.sealLegacyTokenIDs(ctx, q, t, col)
			if err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
			counts[2] += m
		}
		if counts[3], err = s.sealLegacyFilings(ctx, q); err != nil {
			return fmt.Errorf("filings: %w", err)
		}
		if counts[4], err = s.sealLegacyReasons(ctx, q); err != nil {
			return fmt.Errorf("enrolment_replacements: %w", err)
		}
		_, err = q.Exec(ctx, `DELETE FROM store_state WHERE name = 'legacy_pii'`)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: sealing the personal data of an older database: %w", err)
	}
	if counts != [5]int{} {
		s.opts.Logger.Info("store: sealed personal data written before migration 0004",
			"residents", counts[0], "indexed", counts[1], "coordination", counts[2], "filings", counts[3], "replacement_reasons", counts[4])
	}
	return nil
}

func (s *Store) sealLegacyResidents(ctx context.Context, q Q) (int, error) {
	todo, err := queryAll(ctx, q, func(rows Rows) (r store.Resident, err error) {
		return r, rows.Scan(&r.ID, &r.IDNumber, &r.Name, tm{&r.BirthDate}, &r.Address, &r.Household)
	}, `SELECT id, id_key, name, birth_date, address, household FROM residents WHERE pii IS NULL`)
	if err != nil {
		return 0, err
	}
	for _, r := range todo {
		r.IDNumber = canonID(r.IDNumber)
		key, sealed, err := s.sealResident(r)
		if err != nil {
			return 0, err
		}
		if _, err := q.Exec(ctx, `UPDATE residents SET id_key = $2, pii = $3, name = '', address = '', household = '', birth_date = NULL WHERE id = $1`,
			r.ID, key, sealed); err != nil {
			return 0, err
		}
	}
	return len(todo), nil
}

func (s *Store) indexLegacyIDs(ctx context.Context, q Q, table string) (int, error) {
	ids, err := queryAll(ctx, q, func(rows Rows) (id string, err error) {
		return id, rows.Scan(&id)
	}, `SELECT DISTINCT id_key FROM `+table+` WHERE length(id_key) <> `+itoa(int64(idKeyLen)))
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if _, err := q.Exec(ctx, `UPDATE `+table+` SET id_key = $2 WHERE id_key = $1`, id, s.idKey(id)); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

func (s *Store) sealLegacyTokenIDs(ctx context.Context, q Q, table, col string) (int, error) {
	type row struct {
		hash []byte
		id   string
	}
	todo, err := queryAll(ctx, q, func(rows Rows) (r row, err error) {
		return r, rows.Scan(&r.hash, &r.id)
	}, `SELECT `+col+`, id_sealed FROM `+table+` WHERE id_sealed NOT LIKE 's1:%'`)
	if err != nil {
		return 0, err
	}
	for _, r := range todo {
		v, err := s.sealTokenID(table, r.hash, canonID(r.id))
		if err != nil {
			return 0, err
		}
		if _, err := q.Exec(ctx, `UPDATE `+table+` SET id_sealed = $2 WHERE `+col+` = $1`, r.hash, v); err != nil {
			return 0, err
		}
	}
	return len(todo), nil
}

func (s *Store) sealLegacyFilings(ctx context.Context, q Q) (int, error) {
	type row struct {
		id               int64
		ref, form, reply string
	}
	todo, err := queryAll(ctx, q, func(rows Rows) (r row, err error) {
		return r, rows.Scan(&r.id, &r.ref, &r.form, &r.reply)
	}, `SELECT id, reference, form, reply FROM filings WHERE form NOT LIKE 's1:%'`)
	if err != nil {
		return 0, err
	}
	for _, r := range todo {
		form, err := s.sealText(r.form, adFilingForm(r.ref))
		if err != nil {
			return 0, err
		}
		reply := r.reply
		if !strings.HasPrefix(reply, sealedTextPrefix) {
			if reply, err = s.sealText(r.reply, adFilingReply(r.ref)); err != nil {
				return 0, err
			}
		}
		if _, err := q.Exec(ctx, `UPDATE filings SET form = $2, reply = $3 WHERE id = $1`, r.id, form, reply); err != nil {
			return 0, err
		}
	}
	return len(todo), nil
}

// sealLegacyReasons seals the decision reasons of replacements decided
// before migration 0004 (they may name people).
func (s *Store) sealLegacyReasons(ctx context.Context, q Q) (int, error) {
	type row struct {
		id     int64
		reason string
	}
	todo, err := queryAll(ctx, q, func(rows Rows) (r row, err error) {
		return r, rows.Scan(&r.id, &r.reason)
	}, `SELECT id, reason FROM enrolment_replacements WHERE reason <> '' AND reason NOT LIKE 's1:%'`)
	if err != nil {
		return 0, err
	}
	for _, r := range todo {
		v, err := s.sealText(r.reason, adReplacementReason(r.id))
		if err != nil {
			return 0, err
		}
		if _, err := q.Exec(ctx, `UPDATE enrolment_replacements SET reason = $2 WHERE id = $1`, r.id, v); err != nil {
			return 0, err
		}
	}
	return len(todo), nil
}

// ---- key rotation ----

// reencryptPersonal re-seals, under the primary key, every sealed personal
// value that is under another key, a page per transaction, and returns how
// many it re-sealed. Values already under the primary key are left alone,
// so an interrupted run resumes.
func (s *Store) reencryptPersonal(ctx context.Context) (int, error) {
	total := 0
	// The blind-index key: re-sealed, never replaced (the indexes stay).
	err := s.tx(ctx, WriteTx, func(q Q) error {
		var sealed []byte
		if err := q.QueryRow(ctx, `SELECT sealed FROM store_keys WHERE name = $1`+s.d.ForUpdate, indexKeyName).Scan(&sealed); err != nil {
			return err
		}
		nb, changed, err := s.resealBlob(sealed, indexKeyAD, "the blind-index key")
		if err != nil || !changed {
			return err
		}
		if _, err := q.Exec(ctx, `UPDATE store_keys SET sealed = $2 WHERE name = $1`, indexKeyName, nb); err != nil {
			return err
		}
		total++
		return nil
	})
	if err != nil {
		return total, err
	}
	steps := []resealStep{
		s.resealPaged(sealedResidents), s.resealPaged(sealedFilings), s.resealPaged(sealedReasons),
		s.resealPaged(sealedReports), s.resealPaged(sealedReportPhotos), s.resealPaged(sealedMeetings), s.resealPaged(sealedVisits),
		s.resealTokenIDs("spent_tokens", "token_hash"), s.resealTokenIDs("pending_identifications", "id_hash"),
	}
	batch := s.pageSize / 4
	for _, step := range steps {
		var after int64
		for {
			var read, n int
			var last int64
			err := s.tx(ctx, WriteTx, func(q Q) error {
				var err error
				read, last, n, err = step(ctx, q, after, batch)
				return err
			})
			if err != nil {
				return total, err
			}
			total += n
			after = last
			if read < batch {
				break
			}
			if err := ctx.Err(); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// resealStep re-seals a page of one table's sealed values after id after,
// in q's transaction; it returns the rows read (a page shorter than batch
// is the last), the last id and the number of values re-sealed.
type resealStep func(ctx context.Context, q Q, after int64, batch int) (read int, last int64, n int, err error)

// sealedRows says where key rotation finds the sealed values of a table.
type sealedRows[K any] struct {
	// query selects each row's key, then (when bound) the binding of its
	// associated data, then its sealed columns in the order of cols. A
	// paged table's query takes the id to start after as $1 and the page
	// size as $2, and orders by id. resealPage appends the dialect's FOR
	// UPDATE.
	query string
	// bound: the query selects a binding (a reference, a blind index).
	bound bool
	// update writes back a row that changed: $1 its key, then its sealed
	// columns in the order of cols.
	update string
	cols   []sealedCol[K]
}

// sealedCol is one sealed column of sealedRows.
type sealedCol[K any] struct {
	// blob: sealed by ring.Seal into a binary column; otherwise by
	// sealText into a text column.
	blob bool
	// ad is the associated data of a row's value, from its key and
	// binding.
	ad func(key K, bind string) string
	// what names the row in a blob's errors (a text's errors are named
	// from its associated data).
	what func(key K, bind string) string
}

// adByID and adByBind adapt an associated-data function of a row's id, or
// of its binding, to sealedCol.ad.
func adByID(ad func(int64) string) func(int64, string) string {
	return func(id int64, _ string) string { return ad(id) }
}

func adByBind(ad func(string) string) func(int64, string) string {
	return func(_ int64, bind string) string { return ad(bind) }
}

// Where key rotation finds the sealed personal data of residents, filings
// and replacement reasons (reports, meetings and visits stand beside their
// tables' code).
var (
	sealedResidents = sealedRows[int64]{
		query:  `SELECT id, id_key, pii FROM residents WHERE id > $1 ORDER BY id LIMIT $2`,
		bound:  true,
		update: `UPDATE residents SET pii = $2 WHERE id = $1`,
		cols: []sealedCol[int64]{{
			blob: true,
			ad:   func(_ int64, idKey string) string { return string(adResident(idKey)) },
			what: func(id int64, _ string) string { return "resident " + itoa(id) },
		}},
	}
	sealedFilings = sealedRows[int64]{
		query:  `SELECT id, reference, form, reply FROM filings WHERE id > $1 ORDER BY id LIMIT $2`,
		bound:  true,
		update: `UPDATE filings SET form = $2, reply = $3 WHERE id = $1`,
		cols:   []sealedCol[int64]{{ad: adByBind(adFilingForm)}, {ad: adByBind(adFilingReply)}},
	}
	sealedReasons = sealedRows[int64]{
		query:  `SELECT id, reason FROM enrolment_replacements WHERE id > $1 ORDER BY id LIMIT $2`,
		update: `UPDATE enrolment_replacements SET reason = $2 WHERE id = $1`,
		cols:   []sealedCol[int64]{{ad: adByID(adReplacementReason)}},
	}
)

// resealPaged is the step of reencryptPersonal that re-seals a page of t.
func (s *Store) resealPaged(t sealedRows[int64]) resealStep {
	return func(ctx context.Context, q Q, after int64, batch int) (int, int64, int, error) {
		read, last, n, err := resealPage(ctx, s, q, t, after, batch)
		if err != nil || read == 0 {
			return 0, after, 0, err
		}
		return read, last, n, nil
	}
}

// resealTokenIDs re-seals the ID numbers of a coordination table keyed by
// a hash. These tables are small (rows expire within minutes): one page
// holds them all, so the step always reports a short page.
func (s *Store) resealTokenIDs(table, col string) resealStep {
	t := sealedRows[[]byte]{
		query:  `SELECT ` + col + `, id_sealed FROM ` + table,
		update: `UPDATE ` + table + ` SET id_sealed = $2 WHERE ` + col + ` = $1`,
		cols:   []sealedCol[[]byte]{{ad: func(hash []byte, _ string) string { return adTokenHash(table, hash) }}},
	}
	return func(ctx context.Context, q Q, after int64, _ int) (int, int64, int, error) {
		_, _, n, err := resealPage(ctx, s, q, t)
		return 0, after, n, err
	}
}

// resealPage re-seals under the primary key the sealed columns of the rows
// t.query selects with args, writes back with t.update each row of which a
// value changed, and returns the rows read, the key of the last and the
// number of values re-sealed.
func resealPage[K any](ctx context.Context, s *Store, q Q, t sealedRows[K], args ...any) (read int, last K, n int, err error) {
	type row struct {
		key  K
		bind string
		vals []any // *string (sealText) or *[]byte (ring.Seal), one a column
	}
	page, err := queryAll(ctx, q, func(rows Rows) (row, error) {
		r := row{vals: make([]any, len(t.cols))}
		dest := []any{&r.key}
		if t.bound {
			dest = append(dest, &r.bind)
		}
		for i, c := range t.cols {
			if c.blob {
				r.vals[i] = new([]byte)
			} else {
				r.vals[i] = new(string)
			}
		}
		err := rows.Scan(append(dest, r.vals...)...)
		return r, err
	}, t.query+s.d.ForUpdate, args...)
	if err != nil {
		return 0, last, 0, err
	}
	for _, r := range page {
		last = r.key
		set := []any{r.key}
		changed := 0
		for i, c := range t.cols {
			ad := c.ad(r.key, r.bind)
			var v any
			var ok bool
			switch p := r.vals[i].(type) {
			case *string:
				v, ok, err = s.resealText(*p, ad)
			case *[]byte:
				v, ok, err = s.resealBlob(*p, []byte(ad), c.what(r.key, r.bind))
			}
			if err != nil {
				return 0, last, 0, err
			}
			if ok {
				changed++
			}
			set = append(set, v)
		}
		if changed == 0 {
			continue
		}
		if _, err := q.Exec(ctx, t.update, set...); err != nil {
			return 0, last, 0, err
		}
		n += changed
	}
	return len(page), last, n, nil
}
