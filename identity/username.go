package identity

import (
	"strings"

	"golang.org/x/text/width"
)

// CanonicalUsername returns the canonical form of a staff username:
// full-width characters folded to their ASCII forms (width.Fold: "ＵＳＥＲ"
// to "USER", the ideographic space to a space), surrounding white space
// trimmed, then lower-cased. Usernames are stored in this form, and the
// server applies it once, where a username enters, before the login
// limiter, the staff lookup or anything else keyed on it, so " user",
// "user\t", "User" and "ＵＳＥＲ" are one account and share one limit.
// It does not validate: inner white space and control characters stay, and
// the server's username rule rejects them.
func CanonicalUsername(s string) string {
	return strings.ToLower(strings.TrimSpace(width.Fold.String(s)))
}
