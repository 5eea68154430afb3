package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// apiError is an error with its stable code; handlers return it and the
// error handler writes it as {"error":{...}} with the code's HTTP status
// from apiv1.HTTPStatus (no handler chooses a status).
type apiError struct {
	detail apiv1.ErrorDetail
}

func (e *apiError) Error() string { return e.detail.Code + ": " + e.detail.Message }

// status is the HTTP status of the error's code; a code missing from the
// apiv1 table is a server fault (500), which TestErrorCodeStatuses keeps
// from happening.
func (e *apiError) status() int {
	if st, ok := apiv1.HTTPStatus(e.detail.Code); ok {
		return st
	}
	return http.StatusInternalServerError
}

// statusOf is the HTTP status of an error code (for the back-office pages,
// which answer with HTML but the same statuses).
func statusOf(code string) int { return errf(code, "").status() }

// errf makes the API error with this code and message.
func errf(code, format string, args ...any) *apiError {
	return &apiError{detail: apiv1.ErrorDetail{Code: code, Message: fmt.Sprintf(format, args...)}}
}

func (e *apiError) retryAfter(s int) *apiError {
	if s < 1 {
		s = 1
	}
	e.detail.RetryAfterSeconds = s
	return e
}

func badRequest(format string, args ...any) *apiError {
	return errf(apiv1.CodeBadRequest, format, args...)
}

// storeErr maps the store's sentinel errors to API errors; what is not a
// sentinel is an internal error (logged, not shown).
func storeErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return errf(apiv1.CodeNotFound, "%s not found", what)
	case errors.Is(err, store.ErrAlreadyExists):
		return errf(apiv1.CodeConflict, "%s already exists", what)
	case errors.Is(err, store.ErrConflict):
		return errf(apiv1.CodeConflict, "%s: the change does not apply to the current state", what)
	case errors.Is(err, store.ErrInvalid):
		return badRequest("%s: %v", what, err)
	case errors.Is(err, context.DeadlineExceeded):
		return errf(apiv1.CodeTimeout, "the request ran out of time")
	}
	return fmt.Errorf("%s: %w", what, err)
}

// errorHandler writes every error as the JSON error body. It is fiber's
// ErrorHandler, so it also sees fiber's own errors (404, 405, 413).
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	if readTimedOut(c, err) {
		// No request arrived on the connection within the read timeout
		// (typically a client's spare keep-alive connection): close it
		// without an answer, as net/http does. fasthttp would otherwise
		// send an error response nobody asked for, which clients see as
		// an unsolicited response on an idle connection.
		if conn := c.Context().Conn(); conn != nil {
			conn.Close()
		}
		return nil
	}
	var oe *officeError
	if errors.As(err, &oe) {
		c.Locals(localsErrCode, apiv1.CodeForbidden)
		return s.officeErrorPage(c, oe.status, "", oe.message)
	}
	var ae *apiError
	var fe *fiber.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &fe):
		ae = fiberError(fe)
	case errors.Is(err, context.DeadlineExceeded):
		ae = errf(apiv1.CodeTimeout, "the request ran out of time")
	case errors.Is(err, store.ErrClosed):
		ae = errf(apiv1.CodeUnavailable, "the service is shutting down")
	default:
		s.log.ErrorContext(c.UserContext(), "request failed", "route", routeOf(c), "method", c.Method(), "request_id", requestID(c), "err", err)
		ae = errf(apiv1.CodeInternal, "internal error (request %s)", requestID(c))
	}
	if ae.detail.RetryAfterSeconds > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(ae.detail.RetryAfterSeconds))
	}
	if ae.status() == http.StatusUnauthorized && c.Locals(localsStaffAuth) != nil {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="veinkiosk"`)
	}
	c.Locals(localsErrCode, ae.detail.Code)
	if isOfficePage(c) {
		return s.officeErrorPage(c, ae.status(), ae.detail.Code, "")
	}
	return c.Status(ae.status()).JSON(apiv1.ErrorBody{Error: ae.detail})
}

// readTimedOut reports the read timeout fasthttp hits before a request's
// header was complete: fiber turns it into fiber.ErrRequestTimeout, which no
// handler returns, and no header was parsed.
func readTimedOut(c *fiber.Ctx, err error) bool {
	return errors.Is(err, fiber.ErrRequestTimeout) && len(c.Request().Header.RawHeaders()) == 0
}

func fiberError(fe *fiber.Error) *apiError {
	switch fe.Code {
	case http.StatusNotFound:
		return errf(apiv1.CodeNotFound, "no such endpoint")
	case http.StatusMethodNotAllowed:
		return errf(apiv1.CodeMethodNotAllowed, "method not allowed")
	case http.StatusRequestEntityTooLarge:
		return errf(apiv1.CodeBodyTooLarge, "request body too large")
	case http.StatusUnsupportedMediaType:
		return errf(apiv1.CodeUnsupportedMedia, "request body must be application/json")
	case http.StatusRequestTimeout, http.StatusServiceUnavailable:
		return errf(apiv1.CodeTimeout, "the request ran out of time")
	case http.StatusTooManyRequests:
		return errf(apiv1.CodeRateLimited, "too many requests").retryAfter(1)
	}
	if fe.Code >= 400 && fe.Code < 500 {
		return errf(apiv1.CodeBadRequest, "%s", fe.Message)
	}
	return errf(apiv1.CodeInternal, "internal error")
}
