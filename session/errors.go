package session

import (
	"errors"

	"github.com/latchkey/latchkey/core"
)

// Causes carried by the *core.Error values this package returns; test them
// with errors.Is.
var (
	// ErrNoSession means no session matches the token or id given.
	ErrNoSession = errors.New("session: no such session")
	// ErrExpired means the session's lifespan has ended.
	ErrExpired = errors.New("session: expired")
	// ErrRevoked means the session was revoked (logged out).
	ErrRevoked = errors.New("session: revoked")
	// ErrInvalidJWT means a JWT is malformed, not signed by a key of the
	// ring, signed with a disallowed algorithm, or fails a claim check.
	ErrInvalidJWT = errors.New("session: invalid JWT")
)

func unauthorized(msg string, cause error) error {
	return &core.Error{Code: core.CodeUnauthorized, Message: msg, Cause: cause}
}

func errNoSession() error {
	return unauthorized("No valid session credentials found in the request.", ErrNoSession)
}

func errExpired() error {
	return unauthorized("The session has expired.", ErrExpired)
}

func errRevoked() error {
	return unauthorized("The session is no longer active.", ErrRevoked)
}
