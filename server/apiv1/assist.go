package apiv1

import "time"

// Calls for help (呼叫工作人员): a kiosk asks for the station's staff; the
// staff of that station list the open calls and acknowledge them. Both are
// audit events (assist.request, assist.ack): the audit chain is the record.
const (
	PathKioskAssist = "/api/v1/kiosk/assist" // kiosk-signed
	PathAssist      = "/api/v1/assist"       // staff of the station; + /:seq/ack
)

// Reasons for a call.
const (
	AssistResident = "resident" // the resident pressed 呼叫工作人员
	AssistPrinter  = "printer"  // the receipt printer needs paper or its cover closed
)

// AssistRequest is the body of POST PathKioskAssist.
type AssistRequest struct {
	Reason string `json:"reason"`
}

// AssistCall is one call; Seq is its audit record's sequence number.
type AssistCall struct {
	Seq     int64     `json:"seq"`
	Kiosk   string    `json:"kiosk"`
	Station string    `json:"station"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
	Acked   bool      `json:"acked"`
}

// AssistList is the answer of GET PathAssist: the station's calls among
// the newest audit records, oldest first.
type AssistList struct {
	Calls []AssistCall `json:"calls"`
}
