package session

import (
	"fmt"
	"testing"
	"time"
)

var pension = Service{Code: "pension_certification", NameZH: "养老金领取资格认证", NameEN: "Pensioner proof of life", DueDays: 1, Certification: true}

// TestCertificationJourney: choosing a certification service records the
// proof of life without a form; the token is not spent, so another service
// or "my filings" follows without the finger again; an outage waits and
// retries; a spent token asks for the finger again and then certifies.
func TestCertificationJourney(t *testing.T) {
	unavailable := fmt.Errorf("dial: %w", ErrUnavailable)
	verified := []step{
		{0, CardRead{alice}, Checking, "", "", "DoCheck"},
		{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
		{time.Second, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
		{time.Second, Verified{Match: true, Token: "tok", Resident: Resident{ID: "1", Name: "张秀英"}}, Loading, "", "", "DoCatalogue"},
		{time.Second, CatalogueLoaded{Services: []Service{dibao, pension}}, Menu, "", "", ""},
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"certified, then another service with the same token", []step{
			{2 * time.Second, Touch{Action: ActChoose, Arg: "pension_certification"}, Loading, "", "", "DoCertify"},
			{3 * time.Second, CertifyDone{Certificate: Certificate{Service: pension, Year: 2026, At: t0}}, Certified, "", "", ""},
			{4 * time.Second, Touch{Action: ActBack}, Menu, "", "", ""},
			{5 * time.Second, Touch{Action: ActChoose, Arg: "dibao-renewal"}, Loading, "", "", "DoForm"},
		}},
		{"already certified, then my filings", []step{
			{2 * time.Second, Touch{Action: ActChoose, Arg: "pension_certification"}, Loading, "", "", "DoCertify"},
			{3 * time.Second, CertifyDone{Certificate: Certificate{Service: pension, Year: 2026, At: t0, Already: true}}, Certified, "", "", ""},
			{4 * time.Second, Touch{Action: ActFilings}, Loading, "", "", "DoFilings"},
		}},
		{"outage, then retried", []step{
			{2 * time.Second, Touch{Action: ActChoose, Arg: "pension_certification"}, Loading, "", "", "DoCertify"},
			{3 * time.Second, CertifyDone{Certificate: Certificate{Service: pension}, Err: unavailable}, Unavailable, ProblemServerDown, "", ""},
			{4 * time.Second, Touch{Action: ActRetry}, Loading, "", "", "DoCertify"},
			{5 * time.Second, CertifyDone{Certificate: Certificate{Service: pension, Year: 2026, At: t0}}, Certified, "", "", ""},
		}},
		{"spent token: the finger again, then certified", []step{
			{2 * time.Second, Touch{Action: ActChoose, Arg: "pension_certification"}, Loading, "", "", "DoCertify"},
			{3 * time.Second, CertifyDone{Certificate: Certificate{Service: pension}, Err: ErrTokenSpent}, PlaceFinger, "", HintReverify, "DoCapture"},
			{4 * time.Second, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{5 * time.Second, Verified{Match: true, Token: "tok2", Resident: Resident{ID: "1", Name: "张秀英"}}, Loading, "", "", "DoCertify"},
			{6 * time.Second, CertifyDone{Certificate: Certificate{Service: pension, Year: 2026, At: t0}}, Certified, "", "", ""},
		}},
		{"the certificate screen times out like a receipt", []step{
			{2 * time.Second, Touch{Action: ActChoose, Arg: "pension_certification"}, Loading, "", "", "DoCertify"},
			{3 * time.Second, CertifyDone{Certificate: Certificate{Service: pension, Year: 2026, At: t0}}, Certified, "", "", ""},
			{3*time.Second + DefaultConfig().ReceiptTimeout + time.Second, Tick{}, Idle, "", "", "Wipe"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := New(DefaultConfig(), keys(), t0)
			run(t, m, append(append([]step{}, verified...), tc.steps...))
		})
	}
	// The token travels with the effect; a late outcome of an ended
	// session changes nothing.
	m := New(DefaultConfig(), keys(), t0)
	run(t, m, verified)
	effs := m.Step(Touch{Action: ActChoose, Arg: "pension_certification"}, t0.Add(2*time.Second))
	if d, ok := effs[0].(DoCertify); !ok || d.Token != "tok" || d.Service.Code != "pension_certification" {
		t.Fatalf("effect %+v", effs)
	}
	gen := m.State().Gen
	m.Step(CardRemoved{}, t0.Add(3*time.Second))
	m.Step(CertifyDone{Gen: gen, Certificate: Certificate{Service: pension, Year: 2026}}, t0.Add(4*time.Second))
	if st := m.State(); st.Phase != Idle || st.Certificate != nil {
		t.Fatalf("a late certification reached the next session: %+v", st)
	}
}
