package flow

import "github.com/latchkey/latchkey/core"

// The errors the engine returns. Each is a *core.Error, so a face maps it
// through its one code-to-status table; each is also a distinct value, so a
// face that needs to tell them apart (Kratos answers a CSRF violation
// differently from an action that is not offered) tests with errors.Is.
var (
	// ErrNotFound means no flow of the definition's kind has the id.
	// Hanko answers 403, Kratos 404.
	ErrNotFound = &core.Error{Code: core.CodeNotFound, Message: "The flow does not exist."}
	// ErrExpired means the flow's lifetime is over (HTTP 410 in both faces).
	ErrExpired = &core.Error{Code: core.CodeExpired, Message: "The flow has expired."}
	// ErrCSRF means the submitted CSRF token does not match the flow's
	// current one; nothing was changed (HTTP 403).
	ErrCSRF = &core.Error{Code: core.CodeForbidden, Message: "The request was rejected because the CSRF token is invalid."}
	// ErrActionNotAllowed means the action is not offered in the flow's
	// current state: unknown there, or suspended (HTTP 403).
	ErrActionNotAllowed = &core.Error{Code: core.CodeForbidden, Message: "The action is not allowed in the current state."}
	// ErrEnded means the flow reached an end state and takes no more
	// actions (HTTP 403).
	ErrEnded = &core.Error{Code: core.CodeForbidden, Message: "The flow has ended."}
	// ErrConflict means another submission of the same step won the race;
	// nothing of this one was stored (HTTP 409).
	ErrConflict = &core.Error{Code: core.CodeConflict, Message: "The flow was changed by another request."}
	// ErrMalformedInput means the submitted input is not a JSON object
	// (HTTP 400); the flow was not changed.
	ErrMalformedInput = &core.Error{Code: core.CodeInvalid, Message: "The input data is malformed."}
	// ErrFormInvalid is the flow-level error shown with per-input errors
	// (Hanko's form_data_invalid_error, HTTP 400).
	ErrFormInvalid = &core.Error{Code: core.CodeInvalid, Message: "The form data is invalid."}
	// ErrDiscontinuity means the flow has no state to go to: an action
	// continued without naming a state while none was scheduled, or the
	// stored state is unknown to the definition (HTTP 500).
	ErrDiscontinuity = &core.Error{Code: core.CodeInternal, Message: "The flow cannot continue."}
)
