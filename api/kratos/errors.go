package kratos

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
)

// GenericError is Kratos' genericError (herodot's DefaultError): the body of
// every JSON error, wrapped as {"error": GenericError}.
type GenericError struct {
	ID      string         `json:"id,omitempty"`
	Code    int            `json:"code"`
	Status  string         `json:"status"`
	Request string         `json:"request,omitempty"`
	Reason  string         `json:"reason,omitempty"`
	Details map[string]any `json:"details,omitempty"`
	Message string         `json:"message"`
}

// ErrorEnvelope is the top level of a Kratos JSON error response.
type ErrorEnvelope struct {
	Error GenericError `json:"error"`
}

// defaultMessages are herodot's default messages per status (notes §5.1).
var defaultMessages = map[int]string{
	http.StatusBadRequest:            "The request was malformed or contained invalid parameters",
	http.StatusUnauthorized:          "The request could not be authorized",
	http.StatusForbidden:             "The requested action was forbidden",
	http.StatusNotFound:              "The requested resource could not be found",
	http.StatusConflict:              "The resource could not be created due to a conflict",
	http.StatusGone:                  "The requested resource is no longer available because it has expired or is otherwise invalid.",
	http.StatusTooManyRequests:       "Too many requests",
	http.StatusInternalServerError:   "An internal server error occurred, please contact the system administrator",
	http.StatusServiceUnavailable:    "The service is temporarily unavailable",
	http.StatusRequestEntityTooLarge: "The request was malformed or contained invalid parameters",
}

// StatusFor maps a domain error code to the HTTP status Kratos uses for it.
// This is the one place where the Kratos face makes that mapping.
func StatusFor(code core.Code) int {
	switch code {
	case core.CodeInvalid:
		return http.StatusBadRequest
	case core.CodeNotFound, core.CodeNotConfigured:
		return http.StatusNotFound
	case core.CodeConflict:
		return http.StatusConflict
	case core.CodeUnauthorized:
		return http.StatusUnauthorized
	case core.CodeForbidden:
		return http.StatusForbidden
	case core.CodeExpired:
		return http.StatusGone
	case core.CodeRateLimited:
		return http.StatusTooManyRequests
	case core.CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// NewGenericError builds the envelope body for err: the status from its
// core.Code, herodot's default message for that status and the client
// message of the *core.Error as reason. Errors that are not *core.Error
// become a 500 whose body reveals nothing about the cause.
func NewGenericError(err error, requestID string) GenericError {
	code := core.ErrorCode(err)
	status := StatusFor(code)
	g := GenericError{
		Code:    status,
		Status:  http.StatusText(status),
		Request: requestID,
		Message: defaultMessages[status],
	}
	if g.Message == "" {
		g.Message = http.StatusText(status)
	}
	var ce *core.Error
	switch {
	case code == core.CodeUnavailable:
		g.Reason = core.UnavailableMessage
	case errors.As(err, &ce) && status != http.StatusInternalServerError:
		g.Reason = ce.Message
	}
	return g
}

// RetryAfterUnavailable is the Retry-After (seconds) of a 503 answered
// while the database cannot be reached.
const RetryAfterUnavailable = "5"

// ErrorWriter writes Kratos error envelopes and logs internal errors once,
// with the request id, at the edge.
type ErrorWriter struct {
	Log *slog.Logger
}

// Write writes err as a Kratos error envelope with the matching status.
// Internal errors (anything that is not a *core.Error with a client-facing
// code) are logged with their cause; the client sees only a generic message.
func (ew ErrorWriter) Write(w http.ResponseWriter, r *http.Request, err error) {
	rid := api.RequestID(r.Context())
	g := NewGenericError(err, rid)
	if g.Code == http.StatusServiceUnavailable {
		// Logged once per outage by the store, not per request.
		w.Header().Set("Retry-After", RetryAfterUnavailable)
	} else if g.Code >= 500 && ew.Log != nil {
		ew.Log.ErrorContext(r.Context(), "request failed", "error", err, "request_id", rid,
			"method", r.Method, "path", r.URL.Path)
	}
	api.WriteJSON(w, g.Code, ErrorEnvelope{Error: g})
}

// Unauthorized is an http.Handler answering 401 in Kratos' envelope; pass it
// to api.WithAPIKey for the admin listener.
func (ew ErrorWriter) Unauthorized() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ew.Write(w, r, core.Errorf(core.CodeUnauthorized,
			"The request did not carry a valid admin API key (Authorization: Bearer <key>)."))
	})
}

// NotFound is an http.Handler answering 404 in Kratos' envelope, for paths
// no route matches.
func (ew ErrorWriter) NotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ew.Write(w, r, core.Errorf(core.CodeNotFound, "No route matches %s %s.", r.Method, r.URL.Path))
	})
}
