package hanko

import (
	"context"
	"errors"
	"net/http"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
)

// apiError is the error body of Hanko's public and admin API (echo's
// HTTPError as Hanko renders it): {"code": 404, "message": "Not Found"}.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// writeError writes Hanko's error body with status; an empty message is the
// status text, as Hanko writes it.
func writeError(w http.ResponseWriter, status int, message string) {
	if message == "" {
		message = http.StatusText(status)
	}
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, status, apiError{Code: status, Message: message})
}

// statusOf maps a domain error code to the HTTP status of the public and
// admin API. This is the one place the mapping lives.
func statusOf(c core.Code) int {
	switch c {
	case core.CodeInvalid:
		return http.StatusBadRequest
	case core.CodeNotFound:
		return http.StatusNotFound
	case core.CodeConflict:
		return http.StatusConflict
	case core.CodeUnauthorized, core.CodeExpired:
		return http.StatusUnauthorized
	case core.CodeForbidden:
		return http.StatusForbidden
	case core.CodeRateLimited:
		return http.StatusTooManyRequests
	case core.CodeUnavailable:
		return http.StatusServiceUnavailable
	case core.CodeNotConfigured:
		return http.StatusForbidden
	default:
		return http.StatusInternalServerError
	}
}

// fail writes err in Hanko's shape: a *core.Error's code picks the status and
// its message is shown; anything else is logged once here and answered with
// a bare 500 that reveals nothing.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	code := core.ErrorCode(err)
	status := statusOf(code)
	if code == core.CodeUnavailable {
		// The database is down: logged once per outage by the store.
		w.Header().Set("Retry-After", retryAfterUnavailable)
		writeError(w, status, core.UnavailableMessage)
		return
	}
	if status >= 500 {
		h.log.ErrorContext(r.Context(), "hanko: request failed", "method", r.Method, "path", r.URL.Path,
			"request_id", api.RequestID(r.Context()), "error", err)
		writeError(w, status, "")
		return
	}
	writeError(w, status, core.ErrorMessage(err))
}

// retryAfterUnavailable is the Retry-After (seconds) of a 503 answered
// while the database cannot be reached.
const retryAfterUnavailable = "5"

// errorMessage returns the client-safe message of err.
func errorMessage(err error) string { return core.ErrorMessage(err) }
