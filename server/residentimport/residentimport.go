// Package residentimport reads the population database's resident CSV
// export and imports it into a store (server/store holds the types and the
// Store interface; this package only uses them). The identity rules (ID
// number, gender, birth date) come from package identity.
//
// The population database exports one resident per row, with a header row
// naming the columns (any order, extra columns ignored):
//
//		id_number,name,gender,birth_date,address,grid_cell,household,categories[,status][,relationship][,guardian_id_number]
//
//	  - id_number: 18 characters with a valid GB 11643 check character, in
//	    any form that canonicalises to one (identity.CanonicalIDNumber);
//	  - gender: M/F, 男/女 or 1/2 (GB/T 2261.1); empty takes it from the ID number;
//	  - birth_date: 2006-01-02, 2006/01/02 or 20060102; empty takes it from the
//	    ID number; a date that contradicts the ID number rejects the row;
//	  - categories: codes separated by ';', '|' or '、' — dibao, elderly,
//	    disabled, or their Chinese names 低保, 老年/高龄, 残疾;
//	  - status: active (default) or suspended;
//	  - relationship: the relation to the household head as the population
//	    database words it (户主, 配偶, 子女, 父母, ...), optional, at most 16
//	    characters; with household it decides who may file for whom (代办);
//	  - guardian_id_number: the resident's recorded guardian (监护人), an ID
//	    number like id_number, optional, not the resident's own.
//
// Files in UTF-8 (with or without BOM) or GBK/GB18030 are read. Rows that fail
// are skipped and reported by line number only (never their content, which
// is personal data); the rest are imported.
package residentimport

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Options tune Read.
type Options struct {
	// Encoding is "utf-8", "gb18030" (also reads GBK) or "" to detect: a
	// file that is not valid UTF-8 is read as GB18030.
	Encoding string
	// BatchSize is the number of residents per callback (default 1000).
	BatchSize int
	// MaxRejects stops the import with an error after this many bad rows
	// (default 1000; a file that is mostly wrong is the wrong file).
	MaxRejects int
}

// Reject is a row that was not imported.
type Reject struct {
	Line   int
	Reason string // never contains the row's content
}

// Report summarises a CSV read.
type Report struct {
	Rows     int // data rows read
	Accepted int
	Rejects  []Reject
}

// ErrCSV is returned for a file that cannot be imported at all (no header,
// missing columns, too many bad rows).
var ErrCSV = errors.New("residentimport: resident CSV")

var categoryAliases = map[string]string{
	"dibao": store.CategoryDibao, "低保": store.CategoryDibao, "低保户": store.CategoryDibao,
	"elderly": store.CategoryElderly, "老年": store.CategoryElderly, "老年人": store.CategoryElderly, "高龄": store.CategoryElderly,
	"disabled": store.CategoryDisabled, "残疾": store.CategoryDisabled, "残疾人": store.CategoryDisabled,
}

var requiredColumns = []string{"id_number", "name", "address", "grid_cell", "household"}

// Read parses a population-database export and calls fn with
// batches of valid residents.
func Read(r io.Reader, opts Options, fn func([]store.Resident) error) (Report, error) {
	var rep Report
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	if opts.MaxRejects <= 0 {
		opts.MaxRejects = 1000
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var src io.Reader = br
	switch strings.ToLower(opts.Encoding) {
	case "utf-8", "utf8":
	case "gbk", "gb18030", "gb2312":
		src = transform.NewReader(br, simplifiedchinese.GB18030.NewDecoder())
	case "":
		head, _ := br.Peek(64 << 10)
		if !utf8.Valid(trimPartialRune(head)) {
			src = transform.NewReader(br, simplifiedchinese.GB18030.NewDecoder())
		}
	default:
		return rep, fmt.Errorf("%w: unknown encoding %q", ErrCSV, opts.Encoding)
	}
	cr := csv.NewReader(src)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return rep, fmt.Errorf("%w: reading the header: %v", ErrCSV, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		col[h] = i
	}
	for _, c := range requiredColumns {
		if _, ok := col[c]; !ok {
			return rep, fmt.Errorf("%w: the header has no %q column (it has %q)", ErrCSV, c, header)
		}
	}
	get := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	batch := make([]store.Resident, 0, opts.BatchSize)
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				rep.Rows++
				rep.Rejects = append(rep.Rejects, Reject{Line: pe.StartLine, Reason: "malformed CSV: " + pe.Err.Error()})
				if len(rep.Rejects) > opts.MaxRejects {
					return rep, fmt.Errorf("%w: more than %d bad rows", ErrCSV, opts.MaxRejects)
				}
				continue
			}
			return rep, fmt.Errorf("%w: %v", ErrCSV, err)
		}
		rep.Rows++
		line, _ := cr.FieldPos(0)
		res, reason := parseResidentRow(rec, get)
		if reason == "" {
			if first, dup := seen[res.IDNumber]; dup {
				reason = fmt.Sprintf("id_number repeats line %d", first)
			} else {
				seen[res.IDNumber] = line
			}
		}
		if reason != "" {
			rep.Rejects = append(rep.Rejects, Reject{Line: line, Reason: reason})
			if len(rep.Rejects) > opts.MaxRejects {
				return rep, fmt.Errorf("%w: more than %d bad rows", ErrCSV, opts.MaxRejects)
			}
			continue
		}
		rep.Accepted++
		batch = append(batch, res)
		if len(batch) == opts.BatchSize {
			if err := fn(batch); err != nil {
				return rep, err
			}
			batch = make([]store.Resident, 0, opts.BatchSize)
		}
	}
	if len(batch) > 0 {
		if err := fn(batch); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func trimPartialRune(b []byte) []byte {
	// A peeked buffer may end in the middle of a character.
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if utf8.Valid(b) {
			return b
		}
		b = b[:len(b)-1]
	}
	return b
}

func parseResidentRow(rec []string, get func([]string, string) string) (store.Resident, string) {
	r := store.Resident{
		IDNumber:  identity.CanonicalIDNumber(get(rec, "id_number")),
		Name:      get(rec, "name"),
		Address:   get(rec, "address"),
		GridCell:  get(rec, "grid_cell"),
		Household: get(rec, "household"),
	}
	id, err := identity.ParseIDNumber(r.IDNumber)
	switch {
	case r.IDNumber == "":
		return r, "id_number is empty"
	case errors.Is(err, identity.ErrIDNumberChecksum):
		return r, "id_number has a wrong check character"
	case err != nil:
		return r, "id_number is not an 18-character ID number"
	}
	if r.Name == "" {
		return r, "name is empty"
	}
	if !utf8.ValidString(r.Name) || !utf8.ValidString(r.Address) {
		return r, "text is not valid UTF-8"
	}
	switch g := get(rec, "gender"); g {
	case "M", "m", "男", "1":
		r.Gender = "M"
	case "F", "f", "女", "2":
		r.Gender = "F"
	case "":
		r.Gender = id.Gender().Letter()
	default:
		return r, "gender is not M/F, 男/女 or 1/2"
	}
	if b := get(rec, "birth_date"); b != "" {
		var t time.Time
		var err error
		for _, layout := range []string{"2006-01-02", "2006/01/02", "20060102", "2006/1/2", "2006-1-2"} {
			if t, err = time.Parse(layout, b); err == nil {
				break
			}
		}
		if err != nil {
			return r, "birth_date is not a date (2006-01-02)"
		}
		if identity.DateOf(t) != id.Birth() {
			return r, "birth_date contradicts the id_number"
		}
	}
	r.BirthDate = id.Birth().Time()
	if cs := get(rec, "categories"); cs != "" {
		for _, c := range strings.FieldsFunc(cs, func(r rune) bool { return r == ';' || r == '|' || r == '、' || r == '；' }) {
			c = strings.TrimSpace(c)
			code, ok := categoryAliases[strings.ToLower(c)]
			if !ok {
				return r, "unknown category (want dibao, elderly, disabled)"
			}
			r.Categories = append(r.Categories, code)
		}
	}
	r.Relationship = get(rec, "relationship")
	if utf8.RuneCountInString(r.Relationship) > 16 || !utf8.ValidString(r.Relationship) {
		return r, "relationship is longer than 16 characters"
	}
	if g := get(rec, "guardian_id_number"); g != "" {
		r.GuardianIDNumber = identity.CanonicalIDNumber(g)
		if _, err := identity.ParseIDNumber(r.GuardianIDNumber); err != nil {
			return r, "guardian_id_number is not a valid ID number"
		}
		if r.GuardianIDNumber == r.IDNumber {
			return r, "guardian_id_number is the resident's own"
		}
	}
	switch st := strings.ToLower(get(rec, "status")); st {
	case "", "active", "正常":
		r.Status = store.ResidentActive
	case "suspended", "暂停":
		r.Status = store.ResidentSuspended
	default:
		return r, "status is not active or suspended"
	}
	return r, ""
}

// Import reads a population-database export and imports it in
// batches through s.ImportResidents (one transaction and one audit event per
// batch). It returns the totals of the batches and the CSV report.
func Import(ctx context.Context, s store.Store, actor audit.Actor, r io.Reader, opts Options) (store.ImportStats, Report, error) {
	var total store.ImportStats
	rep, err := Read(r, opts, func(batch []store.Resident) error {
		st, err := s.ImportResidents(ctx, actor, batch)
		if err != nil {
			return err
		}
		total.Inserted += st.Inserted
		total.Updated += st.Updated
		total.Unchanged += st.Unchanged
		return ctx.Err()
	})
	return total, rep, err
}
