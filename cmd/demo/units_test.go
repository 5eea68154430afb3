package main

import (
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/catalogue"
	"github.com/qingshan-gov/veinkiosk/server/reports"
)

// TestEveryUnitHasAnOfficer: the demo seeds an officer for every unit of
// the embedded catalogue and of the issue reports, so every service's
// filings can be decided and every report answered.
func TestEveryUnitHasAnOfficer(t *testing.T) {
	has := map[string]bool{"civil_affairs": true} // officerUser
	for _, o := range unitOfficers {
		if has[o.unit] {
			t.Errorf("unit %s has two demo officers", o.unit)
		}
		has[o.unit] = true
	}
	for _, u := range catalogue.Default().Units() {
		if !has[u.Code] {
			t.Errorf("unit %s (%s) has no officer in the demo", u.Code, u.Name)
		}
	}
	// The units that answer residents' issue reports, too.
	for _, u := range reports.Default().Units {
		if !has[u.Code] {
			t.Errorf("report unit %s (%s) has no officer in the demo", u.Code, u.Name)
		}
	}
}
