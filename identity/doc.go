// Package identity is the resident-identity domain: the citizen ID number
// (GB 11643-1999) with its check character, canonical form and masking,
// gender (GB/T 2261.1), nation (GB 3304), civil dates, card types, the
// validity period of a card (with "长期", long-term, as the one constant
// LongTerm), ages, and the one Card model that the ID-card driver decodes,
// the simulators encode, the kiosk keeps in memory and sends to the server
// (its JSON encoding is the apiv1 wire format), and the server checks.
//
// It also holds the canonical form of the other identifier the system keys
// on, the staff username (CanonicalUsername).
//
// It imports nothing of this module: drivers, simulators, the kiosk, the
// server and the command-line tools all depend on it, never the reverse.
//
// Canonical identifiers: every limiter, map key, lookup and hash that is
// keyed on an ID number or a username must use CanonicalIDNumber (or the
// IDNumber that ParseIDNumber returns) or CanonicalUsername, applied once at
// the boundary where the value enters, so that " 11010519491231002x" and
// "11010519491231002X" (or " clerk" and "ＣＬＥＲＫ") are one identity.
package identity
