package kiosk

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/kiosk/session"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

func TestMapErr(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{errors.New("dial tcp: connection refused"), session.ErrUnavailable},
		{&apiv1.Error{Status: 503, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeUnavailable}}, session.ErrUnavailable},
		{&apiv1.Error{Status: 502, ErrorDetail: apiv1.ErrorDetail{Code: "bad_gateway"}}, session.ErrUnavailable},
		{&apiv1.Error{Status: 429, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeRateLimited}}, session.ErrThrottled},
		{&apiv1.Error{Status: 401, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeNoMatch}}, session.ErrNoMatch},
		{&apiv1.Error{Status: 404, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeNotEnrolled}}, session.ErrNotEnrolled},
		{&apiv1.Error{Status: 404, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeResidentUnknown}}, session.ErrNotFound},
		{&apiv1.Error{Status: 423, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeLocked}}, session.ErrLocked},
		{&apiv1.Error{Status: 401, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeBadCredentials}}, session.ErrDenied},
		// A staff session the server takes only elsewhere: log in again.
		{&apiv1.Error{Status: 403, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeSessionKioskBound}}, session.ErrDenied},
		{&apiv1.Error{Status: 403, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeKioskSessionRequired}}, session.ErrDenied},
		{&apiv1.Error{Status: 422, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeFormInvalid, Message: "张三 110101..."}}, session.ErrInvalid},
		{&apiv1.Error{Status: 409, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeIdempotencyReuse, Message: "张三"}}, session.ErrRejected},
		// 代办 refusals, each with its own words on the screen.
		{&apiv1.Error{Status: 403, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeNotHousehold}}, session.ErrNotHousehold},
		{&apiv1.Error{Status: 403, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodePrincipalNotEligible}}, session.ErrPrincipalNotEligible},
		{&apiv1.Error{Status: 422, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeCardMismatch}}, session.ErrCardMismatch},
		{&apiv1.Error{Status: 422, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeCardNotYetValid}}, session.ErrCardMismatch},
		{&apiv1.Error{Status: 403, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeAgentNotAllowed}}, session.ErrAgentNotAllowed},
		{&apiv1.Error{Status: 409, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeAgentTokenBound}}, session.ErrAgentTokenBound},
		{&apiv1.Error{Status: 422, ErrorDetail: apiv1.ErrorDetail{Code: apiv1.CodeEnrolmentInconsistent}}, session.ErrInconsistent},
	} {
		got := mapErr(tc.err)
		if !errors.Is(got, tc.want) {
			t.Errorf("mapErr(%v) = %v, want %v", tc.err, got, tc.want)
		}
		if ae := (*apiv1.Error)(nil); errors.As(tc.err, &ae) && ae.Message != "" && contains(got.Error(), ae.Message) {
			t.Errorf("mapErr kept the server's message (may name people): %v", got)
		}
	}
	if mapErr(nil) != nil {
		t.Error("mapErr(nil) != nil")
	}
}

func TestMapErrKeepsDetails(t *testing.T) {
	left := 2
	until := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   apiv1.ErrorDetail
		want session.Details
	}{
		{apiv1.ErrorDetail{Code: apiv1.CodeRateLimited, RetryAfterSeconds: 30}, session.Details{RetryAfter: 30 * time.Second, AttemptsLeft: -1}},
		{apiv1.ErrorDetail{Code: apiv1.CodeNoMatch, AttemptsLeft: &left}, session.Details{AttemptsLeft: 2}},
		{apiv1.ErrorDetail{Code: apiv1.CodeNoMatch}, session.Details{AttemptsLeft: -1}}, // a server without the field
		{apiv1.ErrorDetail{Code: apiv1.CodeLocked, RetryAfterSeconds: 300, LockedUntil: &until}, session.Details{RetryAfter: 300 * time.Second, AttemptsLeft: -1, LockedUntil: until}},
		{apiv1.ErrorDetail{Code: apiv1.CodeFormInvalid, Fields: map[string]string{"reason": "必填", "phone": "x"}}, session.Details{AttemptsLeft: -1, Fields: []string{"phone", "reason"}}},
		// The disagreeing captures by finger, in order; keys that name no
		// capture are left out.
		{apiv1.ErrorDetail{Code: apiv1.CodeEnrolmentInconsistent, Fields: map[string]string{"right_middle[3]": "x", "right_middle[0]": "x", "right_index[1]": "x", "bogus": "x"}},
			session.Details{AttemptsLeft: -1, Fields: []string{"bogus", "right_index[1]", "right_middle[0]", "right_middle[3]"},
				Recapture: map[string][]int{"right_index": {1}, "right_middle": {0, 3}}}},
	} {
		got := session.DetailsOf(mapErr(&apiv1.Error{Status: 400, ErrorDetail: tc.in}))
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: details %+v, want %+v", tc.in.Code, got, tc.want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestCaptureToAPI: the kiosk sends the attested image for the server to
// extract from, and keeps its own template (quality feedback) to itself.
func TestCaptureToAPI(t *testing.T) {
	px := []byte{1, 2, 3, 4, 5, 6}
	c := captureToAPI(session.Sample{Quality: 77, Template: []byte("local"), Image: px, Width: 3, Height: 2, Attestation: []byte("a"), Certificate: []byte("c")}, "")
	if c.Finger != apiv1.RightIndex || c.Template != nil || c.Image == nil || c.Image.Width != 3 || c.Image.Height != 2 || &c.Image.Pixels[0] != &px[0] ||
		string(c.Attestation) != "a" || string(c.Certificate) != "c" || c.Quality != 77 {
		t.Fatalf("captureToAPI = %+v", c)
	}
}
