package hanko

import (
	"net/http"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
)

// flowError is one of Hanko's flow errors (backend/flowpilot/errors.go,
// backend/flow_api/flow/shared/errors.go): its code and message on the wire
// and the HTTP status of the response that carries it.
type flowError struct {
	status  int
	code    string
	message string
}

func (e *flowError) Error() string { return e.code + ": " + e.message }

// The flow-level errors. Actions raise them with ActionContext.Error through
// their core form (flowError.core), which the engine stores with the state.
var (
	errTechnical             = &flowError{http.StatusInternalServerError, "technical_error", "Something went wrong."}
	errUnavailable           = &flowError{http.StatusServiceUnavailable, "technical_error", core.UnavailableMessage}
	errFlowExpired           = &flowError{http.StatusGone, "flow_expired_error", "The flow has expired."}
	errFlowDiscontinuity     = &flowError{http.StatusInternalServerError, "flow_discontinuity_error", "The flow can't be continued."}
	errOperationNotPermitted = &flowError{http.StatusForbidden, "operation_not_permitted_error", "The operation is not permitted."}
	errFormDataInvalid       = &flowError{http.StatusBadRequest, "form_data_invalid_error", "Form data invalid."}
	errPasscodeMaxAttempts   = &flowError{http.StatusUnauthorized, "passcode_max_attempts_reached", "The passcode was entered wrong too many times."}
	errRateLimitExceeded     = &flowError{http.StatusTooManyRequests, "rate_limit_exceeded", "The rate limit has been exceeded."}
	errUnauthorized          = &flowError{http.StatusUnauthorized, "unauthorized", "The session is invalid."}
	errNotFound              = &flowError{http.StatusNotFound, "not_found", "The requested resource was not found."}
	// errEmailTaken and errUsernameTaken refuse a registration whose
	// address or username another one took while it ran: the step shows its
	// state again with Hanko's input error code as the flow-level error
	// (hanko-elements translates both kinds of code alike).
	errEmailTaken    = &flowError{http.StatusBadRequest, codeEmailAlreadyExists, "The email address already exists."}
	errUsernameTaken = &flowError{http.StatusBadRequest, codeUsernameAlreadyExists, "The username already exists."}
)

// flowErrorsByMessage finds a stored flow-level error's Hanko code again:
// the engine keeps a step's error as code and message only.
var flowErrorsByMessage = map[string]*flowError{}

func init() {
	for _, e := range []*flowError{errTechnical, errFlowExpired, errFlowDiscontinuity, errOperationNotPermitted, errFormDataInvalid,
		errPasscodeMaxAttempts, errRateLimitExceeded, errUnauthorized, errNotFound, errEmailTaken, errUsernameTaken,
		errPasskeyInvalid, errWebauthnMFAOnly, errWebauthnCredentialExists} {
		flowErrorsByMessage[e.message] = e
	}
}

// core returns e as the domain error an action passes to
// ActionContext.Error.
func (e *flowError) core() *core.Error {
	c := core.CodeInternal
	switch e.status {
	case http.StatusBadRequest:
		c = core.CodeInvalid
	case http.StatusUnauthorized:
		c = core.CodeUnauthorized
	case http.StatusForbidden:
		c = core.CodeForbidden
	case http.StatusNotFound:
		c = core.CodeNotFound
	case http.StatusGone:
		c = core.CodeExpired
	case http.StatusTooManyRequests:
		c = core.CodeRateLimited
	}
	return &core.Error{Code: c, Message: e.message}
}

// flowErrorOf maps a result's flow-level error to Hanko's: one of ours by
// its message, else by its domain code (the engine's own refusals and the
// unknown-input error are form_data_invalid_error with their message).
func flowErrorOf(e *core.Error) *flowError {
	if fe, ok := flowErrorsByMessage[e.Message]; ok {
		return fe
	}
	switch e.Code {
	case core.CodeInvalid:
		return &flowError{http.StatusBadRequest, errFormDataInvalid.code, e.Message}
	case core.CodeForbidden:
		return errOperationNotPermitted
	case core.CodeExpired:
		return errFlowExpired
	case core.CodeUnauthorized:
		return errUnauthorized
	case core.CodeRateLimited:
		return errRateLimitExceeded
	case core.CodeNotFound:
		return errNotFound
	default:
		return errTechnical
	}
}

// The input error codes of Hanko that the engine does not raise itself.
const (
	codeEmailAlreadyExists    = "email_already_exists"
	codeUsernameAlreadyExists = "username_already_exists"
	codeUnknownUsername       = "unknown_username_error"
	codeUnknownEmail          = "unknown_email_error"
	codeInvalidUsername       = "invalid_username_error"
	codePasscodeInvalid       = "passcode_invalid"
	codeInvalidMetadata       = "invalid_metadata_error"
)

// inputMessages are Hanko's messages for its input error codes.
var inputMessages = map[string]string{
	flow.CodeValueMissing:     "The value is missing.",
	flow.CodeValueInvalid:     "The value is invalid.",
	flow.CodeValueTooShort:    "The value is too short.",
	flow.CodeValueTooLong:     "The value is too long.",
	codeEmailAlreadyExists:    "The email address already exists.",
	codeUsernameAlreadyExists: "The username already exists.",
	codeUnknownUsername:       "The username is unknown.",
	codeUnknownEmail:          "The email address is unknown.",
	codeInvalidUsername:       "The username is invalid.",
	codePasscodeInvalid:       "The passcode is invalid.",
	codeInvalidMetadata:       "The metadata is invalid.",
}

// inputErr returns the input error code on input name, with Hanko's message.
func inputErr(name, code string) *flow.InputError {
	return &flow.InputError{Name: name, Code: code, Message: inputMessages[code]}
}

// inputErrorOf renders an input's error with Hanko's message for its code.
func inputErrorOf(e *flow.InputError) *flowError {
	msg, ok := inputMessages[e.Code]
	if !ok {
		msg = e.Message
	}
	return &flowError{code: e.Code, message: msg}
}
