package apiv1

import "time"

// Catalogue and eligibility paths (docs/catalogue.md).
const (
	PathKioskEligible          = "/api/v1/kiosk/services/eligible"
	PathEligibility            = "/api/v1/eligibility"
	PathEligibilityUpcoming    = "/api/v1/eligibility/upcoming"
	PathAdminCatalogue         = "/api/v1/admin/catalogue"
	PathAdminCatalogueVersions = "/api/v1/admin/catalogue/versions"
)

// EligibilityRequest is the body of POST /api/v1/eligibility.
type EligibilityRequest struct {
	IDNumber string `json:"id_number"`
}

// UpcomingList answers GET /api/v1/eligibility/upcoming: the residents of
// a grid cell who become eligible for a service in From..To (dates
// YYYY-MM-DD, China time), earliest first.
type UpcomingList struct {
	GridCell  string             `json:"grid_cell"`
	From      string             `json:"from"`
	To        string             `json:"to"`
	Residents []UpcomingResident `json:"residents"`
}

// UpcomingResident is one resident becoming eligible for one service.
type UpcomingResident struct {
	ResidentID  int64  `json:"resident_id"`
	Name        string `json:"name"`
	IDNumber    string `json:"id_number"` // masked
	Household   string `json:"household,omitempty"`
	Service     string `json:"service"`
	ServiceName string `json:"service_name"`
	EligibleOn  string `json:"eligible_on"` // the first day they may file it
}

// CatalogueVersionList answers GET /api/v1/admin/catalogue/versions.
type CatalogueVersionList struct {
	InForce  int                `json:"in_force"`
	Versions []CatalogueVersion `json:"versions"` // saved versions, newest first
}

// CatalogueVersion is one saved catalogue version.
type CatalogueVersion struct {
	Version int       `json:"version"`
	SavedBy string    `json:"saved_by"` // the audit actor, e.g. staff:3
	Note    string    `json:"note,omitempty"`
	SavedAt time.Time `json:"saved_at"`
}
