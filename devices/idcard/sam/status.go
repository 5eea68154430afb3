package sam

import "fmt"

// Status is the SW3 byte of a response.
type Status byte

// Status codes (SW3).
const (
	StatusOK               Status = 0x90
	StatusFindOK           Status = 0x9F
	StatusNoItem           Status = 0x91 // e.g. no additional address
	StatusCommandChecksum  Status = 0x10
	StatusCommandLength    Status = 0x11
	StatusUnknownCommand   Status = 0x21
	StatusUnauthorised     Status = 0x23
	StatusUnrecognised     Status = 0x24
	StatusCardAuthSAM      Status = 0x31 // the card failed to authenticate the SAM
	StatusSAMAuthCard      Status = 0x32 // the SAM failed to authenticate the card
	StatusDataVerification Status = 0x33
	StatusUnknownCardType  Status = 0x40
	StatusReadFailed       Status = 0x41
	StatusRandomFailed     Status = 0x47
	StatusSelfTestFailed   Status = 0x60
	StatusSAMNotAuthorised Status = 0x66
	StatusNoCard           Status = 0x80
	StatusSelectFailed     Status = 0x81
)

var statusText = map[Status]string{
	StatusOK:               "success",
	StatusFindOK:           "find card success",
	StatusNoItem:           "item not present on card",
	StatusCommandChecksum:  "checksum error in the command",
	StatusCommandLength:    "length error in the command",
	StatusUnknownCommand:   "unknown command",
	StatusUnauthorised:     "unauthorised operation",
	StatusUnrecognised:     "unrecognised error",
	StatusCardAuthSAM:      "card failed to authenticate the SAM",
	StatusSAMAuthCard:      "SAM failed to authenticate the card",
	StatusDataVerification: "data verification error",
	StatusUnknownCardType:  "unknown card type",
	StatusReadFailed:       "read card failed",
	StatusRandomFailed:     "random number failure",
	StatusSelfTestFailed:   "SAM self-test failed",
	StatusSAMNotAuthorised: "SAM not authorised",
	StatusNoCard:           "find card failed (no card)",
	StatusSelectFailed:     "select card failed",
}

func (s Status) String() string {
	if t, ok := statusText[s]; ok {
		return fmt.Sprintf("%02X %s", byte(s), t)
	}
	return fmt.Sprintf("%02X unknown status", byte(s))
}

// Success reports whether s is 90 or 9F.
func (s Status) Success() bool { return s == StatusOK || s == StatusFindOK }

// Err returns nil for a success status and a *StatusError otherwise.
func (s Status) Err() error {
	if s.Success() {
		return nil
	}
	return &StatusError{Status: s}
}

// Sentinel errors for status codes; a *StatusError matches one of them with
// errors.Is and unwraps to it, so errors.As(err, &*Problem) finds the message
// for the resident.
var (
	ErrNoCard = &Problem{Code: "no_card",
		Chinese: "未检测到身份证，请将身份证放在读卡区",
		English: "no card on the reader"}
	ErrSelectCard = &Problem{Code: "select_failed",
		Chinese: "身份证读取不稳定，请将身份证平放在读卡区不要移动",
		English: "the card could not be selected; keep it flat on the reader"}
	ErrCardAuth = &Problem{Code: "card_auth",
		Chinese: "身份证认证失败，请确认是有效的居民身份证",
		English: "the card and the reader's security module failed to authenticate each other"}
	ErrDataVerification = &Problem{Code: "data_verification",
		Chinese: "身份证数据校验失败，请重新放置身份证",
		English: "the card data failed verification"}
	ErrReadFailed = &Problem{Code: "read_failed",
		Chinese: "读卡失败，请重新放置身份证并保持不动",
		English: "reading the card failed; put the card back and hold it still"}
	ErrUnknownCardType = &Problem{Code: "unknown_card_type",
		Chinese: "无法识别的证件类型",
		English: "unknown card type"}
	ErrNoItem = &Problem{Code: "no_item",
		Chinese: "证件上没有该项信息",
		English: "the item is not present on the card"}
	ErrCommandRejected = &Problem{Code: "command_rejected",
		Chinese: "读卡器拒绝了命令，请联系工作人员",
		English: "the reader rejected the command"}
	ErrSAM = &Problem{Code: "sam_fault",
		Chinese: "读卡器安全模块故障，请联系工作人员",
		English: "the reader's security module (SAM) failed"}
)

var statusSentinel = map[Status]*Problem{
	StatusNoCard:           ErrNoCard,
	StatusSelectFailed:     ErrSelectCard,
	StatusCardAuthSAM:      ErrCardAuth,
	StatusSAMAuthCard:      ErrCardAuth,
	StatusDataVerification: ErrDataVerification,
	StatusReadFailed:       ErrReadFailed,
	StatusUnknownCardType:  ErrUnknownCardType,
	StatusNoItem:           ErrNoItem,
	StatusCommandChecksum:  ErrCommandRejected,
	StatusCommandLength:    ErrCommandRejected,
	StatusUnknownCommand:   ErrCommandRejected,
	StatusUnauthorised:     ErrCommandRejected,
	StatusUnrecognised:     ErrSAM,
	StatusRandomFailed:     ErrSAM,
	StatusSelfTestFailed:   ErrSAM,
	StatusSAMNotAuthorised: ErrSAM,
}

// StatusError is a response whose status is not success.
type StatusError struct {
	Status Status
	// Op is the command that was answered, when known.
	Op Op
}

func (e *StatusError) Error() string {
	if e.Op != 0 {
		return fmt.Sprintf("sam: %v: status %v", e.Op, e.Status)
	}
	return fmt.Sprintf("sam: status %v", e.Status)
}

// Unwrap returns the sentinel of the status class (ErrNoCard, ErrCardAuth,
// ...), or nil for a status this package does not know.
func (e *StatusError) Unwrap() error {
	if p, ok := statusSentinel[e.Status]; ok {
		return p
	}
	return nil
}
