package store

import (
	"context"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
)

// GridStore keeps what grid workers do for the residents of their grid cell
// (docs/grid.md): changes to residents' records, visits, and pensioners'
// yearly proof of life. Store embeds it.
type GridStore interface {
	// UpdateResident changes a resident's household, categories or phone
	// for the grid worker of the resident's cell: u.GridCell must be the
	// resident's cell at the moment of the change (checked in the same
	// transaction; otherwise ErrNotFound, as if the resident did not
	// exist). The record stays sealed; one resident_changes row names the
	// fields changed and the categories added and removed (no values), and
	// one audit event resident.update the same. A change that changes
	// nothing gives ErrInvalid.
	UpdateResident(ctx context.Context, actor audit.Actor, u ResidentUpdate) (Resident, ResidentChange, error)
	// ResidentChanges lists the changes recorded in a grid cell at or after
	// since, newest first.
	ResidentChanges(ctx context.Context, gridCell string, since time.Time) ([]ResidentChange, error)
	// RecordVisit records a grid worker's visit to a resident of v.GridCell
	// (ErrNotFound for a resident of another cell), audited visit.record;
	// the note is sealed.
	RecordVisit(ctx context.Context, actor audit.Actor, v NewVisit) (Visit, error)
	// LastVisits returns the time of the latest visit of each visited
	// resident of a grid cell, by resident id.
	LastVisits(ctx context.Context, gridCell string) (map[int64]time.Time, error)
	// ListVisits lists a resident's visits, newest first, notes opened.
	ListVisits(ctx context.Context, residentID int64, limit int) ([]Visit, error)
	// Certify records a pensioner's proof of life for c.Year after the card
	// and vein check that issued c.Token (checked, not consumed: the
	// resident may go on to file a service). The first certification of a
	// year is kept: a second one returns it with created=false and changes
	// nothing. Audited pension.certify (the first only).
	Certify(ctx context.Context, actor audit.Actor, c NewCertification) (cert Certification, created bool, err error)
	// Certifications returns the certifications of a year of the residents
	// of a grid cell (as of now), by resident id.
	Certifications(ctx context.Context, gridCell string, year int) (map[int64]Certification, error)
}

// RoleGridWorker is a grid worker (网格员): keeps the records of the
// residents of one grid cell (Staff.GridCell) and visits them.
const RoleGridWorker Role = "grid_worker"

// Resident changes a grid worker records: the names in ResidentChange.Fields.
const (
	ChangeHousehold  = "household"
	ChangeCategories = "categories"
	ChangePhone      = "phone"
)

// ResidentUpdate is a grid worker's change of a resident's record. Nil
// fields stay as they are.
type ResidentUpdate struct {
	ResidentID int64
	GridCell   string // the grid worker's cell: must be the resident's
	Household  *string
	Categories *[]string
	Phone      *string // "" clears it
	At         time.Time
}

// ResidentChange is one recorded change of a resident's record (no values).
type ResidentChange struct {
	ID         int64
	ResidentID int64
	GridCell   string
	Fields     []string // ChangeHousehold, ChangeCategories, ChangePhone
	Added      []string // categories added
	Removed    []string // categories removed
	Actor      audit.Actor
	At         time.Time
}

// NewVisit is the input of RecordVisit.
type NewVisit struct {
	ResidentID int64
	GridCell   string // the grid worker's cell: must be the resident's
	StaffID    int64
	Note       string // sealed; at most 500 bytes
	At         time.Time
}

// Visit is a grid worker's recorded visit.
type Visit struct {
	ID         int64
	ResidentID int64
	GridCell   string
	StaffID    int64
	Note       string
	At         time.Time
	CreatedAt  time.Time
}

// MaxVisitNote is the longest visit note, in bytes.
const MaxVisitNote = 500

// NewCertification is the input of Certify.
type NewCertification struct {
	Token     string // the filing token of the card and vein check
	KioskID   string
	StationID string
	Year      int // the year certified (China time)
	At        time.Time
}

// Certification is a pensioner's proof of life for a year.
type Certification struct {
	ResidentID  int64
	Year        int
	KioskID     string
	StationID   string
	CertifiedAt time.Time
}
