package apiv1

// Grid workers' paths (docs/grid.md).
const (
	PathGridWorklist  = "/api/v1/grid/worklist"
	PathGridResidents = "/api/v1/grid/residents"
	PathKioskCertify  = "/api/v1/kiosk/certify"
)

// GridWorklist answers GET /api/v1/grid/worklist: the grid worker's cell,
// who is due a visit in this week, month and half year (the visit rules of
// docs/grid.md), the eligibility flags and the pensioners not yet
// certified this year.
type GridWorklist struct {
	GridCell    string          `json:"grid_cell"`
	Today       string          `json:"today"` // YYYY-MM-DD, China time
	Residents   int             `json:"residents"`
	Week        []GridListEntry `json:"week"`
	Month       []GridListEntry `json:"month"`
	HalfYear    []GridListEntry `json:"half_year"`
	Flags       []GridFlag      `json:"flags"`
	Uncertified []GridListEntry `json:"uncertified"`
	Year        int             `json:"year"` // the year of the certifications
}

// GridListEntry is a resident on one of the lists.
type GridListEntry struct {
	ResidentID int64  `json:"resident_id"`
	Name       string `json:"name"`
	IDNumber   string `json:"id_number"` // masked
	Household  string `json:"household,omitempty"`
	Rule       string `json:"rule,omitempty"`       // the visit rule's name
	LastVisit  string `json:"last_visit,omitempty"` // YYYY-MM-DD; empty: never
}

// GridFlag is one eligibility flag: the resident turns 60 or 80, was given
// a category (a disability certificate, say), or changed household, and
// the grid worker should tell them what they may now file.
type GridFlag struct {
	ResidentID int64    `json:"resident_id"`
	Name       string   `json:"name"`
	IDNumber   string   `json:"id_number"` // masked
	Kind       string   `json:"kind"`      // birthday, category, household
	On         string   `json:"on"`        // YYYY-MM-DD: the birthday or the change
	What       string   `json:"what"`      // in Chinese: 年满60周岁, 新增类别：持证残疾, 家庭户变更
	Services   []string `json:"services"`  // names of the services newly open
}

// GridResident is one resident of the grid worker's cell, with the
// record's personal data (GET /api/v1/grid/residents/{id}, audited).
type GridResident struct {
	ResidentID int64       `json:"resident_id"`
	Name       string      `json:"name"`
	IDNumber   string      `json:"id_number"` // masked
	Gender     string      `json:"gender,omitempty"`
	BirthDate  string      `json:"birth_date,omitempty"`
	Address    string      `json:"address,omitempty"`
	Household  string      `json:"household,omitempty"`
	Phone      string      `json:"phone,omitempty"`
	Categories []string    `json:"categories"`
	Rule       string      `json:"rule"` // the visit rule that applies
	Visits     []GridVisit `json:"visits"`
}

// GridVisit is a recorded visit.
type GridVisit struct {
	ID   int64  `json:"id"`
	At   string `json:"at"` // RFC 3339
	Note string `json:"note,omitempty"`
}

// GridResidentUpdate is the body of POST /api/v1/grid/residents/{id}:
// omitted fields stay as they are.
type GridResidentUpdate struct {
	Household  *string   `json:"household,omitempty"`
	Categories *[]string `json:"categories,omitempty"` // the whole set: codes of the catalogue's categories
	Phone      *string   `json:"phone,omitempty"`      // mobile or landline; "" clears it
}

// GridVisitRequest is the body of POST /api/v1/grid/residents/{id}/visits.
type GridVisitRequest struct {
	Note string `json:"note,omitempty"` // at most 500 bytes
}

// CertifyRequest is the body of POST /api/v1/kiosk/certify.
type CertifyRequest struct {
	Token   string `json:"token"`
	Service string `json:"service"` // a service of kind "certification"
}

// Certification answers POST /api/v1/kiosk/certify: 201 when recorded now,
// 200 with Already when the year was certified before.
type Certification struct {
	Service     string `json:"service"`
	ServiceName string `json:"service_name"`
	Year        int    `json:"year"`
	CertifiedAt string `json:"certified_at"` // RFC 3339, the first certification of the year
	Already     bool   `json:"already"`
}
