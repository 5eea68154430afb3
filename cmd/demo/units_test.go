package main

import (
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/catalogue"
)

// TestEveryUnitHasAnOfficer: the demo seeds an officer for every unit of
// the embedded catalogue, so every service's filings can be decided.
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
}
