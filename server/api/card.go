package api

import (
	"errors"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// checkCard validates a card that a kiosk sent with the identity rules
// (identity.Card.Validate: the ID number's form and check character, the
// birth date and sex it encodes, the validity period, at now in China) and
// returns its canonical ID number: the one key that every limiter, lock,
// lookup and record of the request uses from here on.
func checkCard(card apiv1.Card, now time.Time) (identity.IDNumber, error) {
	err := card.Validate(now)
	switch {
	case err == nil:
	case errors.Is(err, identity.ErrIDNumberFormat), errors.Is(err, identity.ErrIDNumberChecksum):
		return "", errf(apiv1.CodeCardInvalid, "ID number is not valid (%s)", idProblem(err))
	case errors.Is(err, identity.ErrBirthDateMismatch):
		return "", errf(apiv1.CodeCardInvalid, "the card's birth date does not match its ID number")
	case errors.Is(err, identity.ErrGenderMismatch):
		return "", errf(apiv1.CodeCardInvalid, "the card's sex does not match its ID number")
	case errors.Is(err, identity.ErrCardData):
		return "", errf(apiv1.CodeCardInvalid, "valid_from must be YYYY-MM-DD and valid_until YYYY-MM-DD (not before valid_from) or %s", identity.LongTermText)
	case errors.Is(err, identity.ErrCardNotYetValid):
		return "", errf(apiv1.CodeCardNotYetValid, "the card is valid from %s", card.From)
	case errors.Is(err, identity.ErrCardExpired):
		return "", errf(apiv1.CodeCardExpired, "the card expired on %s", card.Until)
	default:
		return "", errf(apiv1.CodeCardInvalid, "the card is not valid")
	}
	// Validate accepted the number, so it parses.
	return identity.ParseIDNumber(card.IDNumber)
}

func idProblem(err error) string {
	switch {
	case errors.Is(err, identity.ErrIDNumberChecksum):
		return "wrong check digit"
	default:
		return "not 18 characters of digits with a date"
	}
}
