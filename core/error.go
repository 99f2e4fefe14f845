package core

import (
	"errors"
	"fmt"
)

// Code classifies an error for the API faces, which map each code to their
// own wire format and HTTP status in one place.
type Code string

// The error codes of the domain.
const (
	CodeInvalid       Code = "invalid"        // the client sent something malformed or not allowed
	CodeNotFound      Code = "not_found"      // the thing named does not exist
	CodeConflict      Code = "conflict"       // it exists already, or changed meanwhile
	CodeUnauthorized  Code = "unauthorized"   // no valid credentials or session
	CodeForbidden     Code = "forbidden"      // authenticated, but not allowed
	CodeExpired       Code = "expired"        // a flow, code or link that is no longer valid
	CodeRateLimited   Code = "rate_limited"   // too many attempts
	CodeUnavailable   Code = "unavailable"    // a dependency is down
	CodeInternal      Code = "internal"       // a bug or unexpected failure; details are logged, never shown
	CodeNotConfigured Code = "not_configured" // the feature is switched off
)

// Error is a domain error: Code for the faces, Message for the client (safe
// to show), Field for the offending input (a JSON pointer or input name, may
// be empty), and Cause for the log only.
type Error struct {
	Code    Code
	Message string
	Field   string
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Errorf builds an *Error with a formatted client message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrUnavailable marks an error caused by a dependency that cannot be
// reached (the database): whatever wraps it, ErrorCode reports
// CodeUnavailable and ErrorMessage UnavailableMessage, so both faces answer
// 503 with Retry-After instead of a 500.
var ErrUnavailable = errors.New("a dependency cannot be reached")

// UnavailableMessage is the client message of an ErrUnavailable error.
const UnavailableMessage = "The service is temporarily unavailable; try again in a few seconds."

// ErrorCode returns CodeUnavailable when err's chain holds ErrUnavailable,
// else the code of the first *Error in err's chain, or CodeInternal when
// there is none.
func ErrorCode(err error) Code {
	if errors.Is(err, ErrUnavailable) {
		return CodeUnavailable
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the client message of the first *Error in err's
// chain, or a generic text that reveals nothing when there is none.
func ErrorMessage(err error) string {
	if errors.Is(err, ErrUnavailable) {
		return UnavailableMessage
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "An internal error occurred."
}
