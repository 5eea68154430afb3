package sam

import "errors"

// Problem is a sentinel error with a message that a kiosk can show to a
// resident, in Chinese and in English. Errors of this package and of the
// driver wrap one; find it with Explain or errors.As.
type Problem struct {
	// Code is a stable machine-readable identifier, e.g. "card_expired".
	Code string
	// Chinese is the message for the resident (Simplified Chinese).
	Chinese string
	// English is the message in English; it is also Error().
	English string
}

func (p *Problem) Error() string { return p.English }

// Explain returns the first Problem in err's chain, if any.
func Explain(err error) (*Problem, bool) {
	var p *Problem
	if errors.As(err, &p) {
		return p, true
	}
	return nil, false
}
