package session

import (
	"testing"
)

// TestNewRepliesNotice: the server's count of new replies at the card +
// vein check becomes the menu's notice (said once: the hint clears at the
// next touch), survives going elsewhere and back while my filings was not
// opened, and is gone once my filings was shown (the server no longer
// counts them); a resident without new replies gets no notice.
func TestNewRepliesNotice(t *testing.T) {
	arrive := func(n int) []step {
		return []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{0, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{0, Verified{Match: true, Token: "t", Resident: Resident{ID: "1", Name: "张秀英", NewReplies: n}}, Loading, "", "", "DoCatalogue"},
		}
	}
	newReplies := func(t *testing.T, m *Machine, want int) {
		t.Helper()
		if r := m.State().Resident; r == nil || r.NewReplies != want {
			t.Fatalf("resident %+v; want %d new replies", r, want)
		}
	}
	t.Run("notice, elsewhere, my filings, gone", func(t *testing.T) {
		m := New(DefaultConfig(), keys(), t0)
		run(t, m, append(arrive(2),
			step{0, CatalogueLoaded{Services: []Service{dibao}}, Menu, "", HintNewReplies, ""},
			// Elderly mode does not say it away; a choice does.
			step{0, Touch{Action: ActElderly, Arg: "on"}, Menu, "", HintNewReplies, ""},
			step{0, Touch{Action: ActChoose, Arg: "dibao-renewal"}, Loading, "", "", "DoForm"},
			step{0, FormLoaded{Form: form}, FormPhase, "", "", ""},
			step{0, Touch{Action: ActBack}, Menu, "", "", ""},
		))
		newReplies(t, m, 2) // still shown on the menu: my filings not opened yet
		run(t, m, []step{
			{0, Touch{Action: ActFilings}, Loading, "", "", "DoFilings"},
			{0, FilingsLoaded{Filings: []Filing{{Reference: "QS-1", Status: "accepted", New: true}, {Reference: "QS-2", Status: "submitted"}}}, Filings, "", "", ""},
		})
		newReplies(t, m, 0)
		if fs := m.State().Filings; len(fs) != 2 || !fs[0].New || fs[1].New {
			t.Fatalf("filings %+v", fs)
		}
		run(t, m, []step{{0, Touch{Action: ActBack}, Menu, "", "", ""}})
		newReplies(t, m, 0)
	})
	t.Run("my filings fails: the notice stays", func(t *testing.T) {
		m := New(DefaultConfig(), keys(), t0)
		run(t, m, append(arrive(1),
			step{0, CatalogueLoaded{Services: []Service{dibao}}, Menu, "", HintNewReplies, ""},
			step{0, Touch{Action: ActFilings}, Loading, "", "", "DoFilings"},
			step{0, FilingsLoaded{Err: ErrInvalid}, Failed, ProblemRejected, "", ""},
		))
		newReplies(t, m, 1)
	})
	t.Run("none", func(t *testing.T) {
		m := New(DefaultConfig(), keys(), t0)
		run(t, m, append(arrive(0), step{0, CatalogueLoaded{Services: []Service{dibao}}, Menu, "", "", ""}))
		newReplies(t, m, 0)
	})
}
