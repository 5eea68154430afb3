package sam

import "github.com/qingshan-gov/veinkiosk/identity"

// Problem is a sentinel error with a message that a kiosk can show to a
// resident, in Chinese and in English: identity.Problem, which the errors
// of this package, of the driver and of the identity rules all wrap. Find
// it with Explain or errors.As.
type Problem = identity.Problem

// Explain returns the first Problem in err's chain, if any.
func Explain(err error) (*Problem, bool) { return identity.Explain(err) }
