package kratos

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// kratosError is an error with one of Kratos' ids (notes §5.2) and,
// for some, fields at the top level of the body next to "error".
type kratosError struct {
	status  int
	id      string
	reason  string
	message string
	details map[string]any
	extra   map[string]any
}

func (e *kratosError) Error() string { return fmt.Sprintf("%s: %s", e.id, e.reason) }

// Unwrap returns the domain error for callers that test codes.
func (e *kratosError) Unwrap() error {
	code := core.CodeInvalid
	switch e.status {
	case http.StatusUnauthorized:
		code = core.CodeUnauthorized
	case http.StatusForbidden:
		code = core.CodeForbidden
	case http.StatusGone:
		code = core.CodeExpired
	case http.StatusNotFound:
		code = core.CodeNotFound
	}
	return &core.Error{Code: code, Message: e.reason}
}

func (e *kratosError) generic(requestID string) GenericError {
	msg := e.message
	if msg == "" {
		msg = defaultMessages[e.status]
	}
	return GenericError{ID: e.id, Code: e.status, Status: http.StatusText(e.status), Request: requestID,
		Reason: e.reason, Details: e.details, Message: msg}
}

func noSession() error {
	return &kratosError{status: http.StatusUnauthorized, id: "session_inactive",
		reason: "No active session was found in this request.", message: "request does not have a valid authentication session"}
}

func sessionAlreadyAvailable() error {
	return &kratosError{status: http.StatusBadRequest, id: "session_already_available",
		reason:  "A valid session was detected and thus login is not possible. Did you forget to set `?refresh=true`?",
		message: "you are already logged in"}
}

func aal1Required() error {
	return &kratosError{status: http.StatusUnauthorized, id: "session_aal1_required",
		reason: "You can not requested a higher AAL (AAL2/AAL3) without an active session.", message: "aal2 and aal3 can only be requested if a session exists already"}
}

func identityMismatch() error {
	return &kratosError{status: http.StatusForbidden, id: "security_identity_mismatch",
		reason:  "The flow was interrupted because the requesting identity is not the identity this flow was created for.",
		message: "the requested action was forbidden"}
}

func flowDisabled(kind core.FlowKind) error {
	return &kratosError{status: http.StatusBadRequest, id: "self_service_flow_disabled",
		reason: fmt.Sprintf("The %s flow is disabled.", kind), message: fmt.Sprintf("%s flow disabled", kind)}
}

func refreshRequired(redirectTo string) error {
	return &kratosError{status: http.StatusForbidden, id: "session_refresh_required",
		reason:  "The login session is too old and thus not allowed to update these fields. Please re-authenticate.",
		message: "The requested action was forbidden",
		details: map[string]any{"redirect_browser_to": redirectTo},
		extra:   map[string]any{"redirect_browser_to": redirectTo}}
}

func browserLocationChange(to string) error {
	return &kratosError{status: 422, id: "browser_location_change_required",
		reason:  "In order to complete this flow please redirect the browser to: " + to,
		message: "browser location change required",
		extra:   map[string]any{"redirect_browser_to": to}}
}

func flowNotFound(kind core.FlowKind) error {
	return &kratosError{status: http.StatusNotFound, reason: fmt.Sprintf("The %s flow could not be found.", kind),
		message: defaultMessages[http.StatusNotFound]}
}

func apiFlowBrowserRequest(what string) error {
	return &kratosError{status: http.StatusBadRequest,
		reason: fmt.Sprintf("The flow was initiated as an API request but received a request with %s. Use the browser flow instead.", what)}
}

// expiredOnFetch is the 410 of GET …/flows for an expired flow.
func (s *SelfService) expiredOnFetch(kind core.FlowKind, typ, returnTo string) error {
	details := map[string]any{}
	if typ == "api" {
		details["api"] = s.url("self-service/"+string(kind)+"/api", nil)
	} else {
		q := map[string][]string{}
		if returnTo != "" {
			q["return_to"] = []string{returnTo}
			details["return_to"] = returnTo
		}
		details["redirect_to"] = s.url("self-service/"+string(kind)+"/browser", q)
	}
	return &kratosError{status: http.StatusGone, id: "self_service_flow_expired",
		reason:  fmt.Sprintf("The %s flow has expired. Redirect the user to the %s flow init endpoint to initialize a new %s flow.", kind, kind, kind),
		message: defaultMessages[http.StatusGone], details: details}
}

// expiredOnSubmit is the 410 of a submission of an expired flow, pointing at
// its replacement.
func expiredOnSubmit(expiredAt time.Time, since time.Duration, useFlowID string) error {
	return &kratosError{status: http.StatusGone, id: "self_service_flow_expired",
		reason:  fmt.Sprintf("The self-service flow expired %.2f minutes ago, initialize a new one.", since.Minutes()),
		message: "self-service flow expired",
		extra:   map[string]any{"expired_at": expiredAt.UTC(), "since": int64(since), "use_flow_id": useFlowID}}
}

// flowReplaced is Kratos' self_service_flow_replaced: the submitted flow
// cannot go on and useFlowID, a new one, carries the messages why.
func flowReplaced(useFlowID string) error {
	return &kratosError{status: http.StatusGone, id: "self_service_flow_replaced",
		reason: "An error occured, please retry the flow.", message: "self-service flow replaced",
		extra: map[string]any{"use_flow_id": useFlowID}}
}

// envelope returns the JSON body and status of err. Kratos also sends
// error.details (redirect_to, reject_reason, hint …), but the published
// OpenAPI document declares details with no properties allowed, so SDK
// clients validating strictly would refuse them: the information is carried
// by the reason and the top-level fields instead.
func envelope(err error, requestID string) (int, any) {
	status, body := envelopeWithDetails(err, requestID)
	switch b := body.(type) {
	case ErrorEnvelope:
		b.Error.Details = nil
		return status, b
	case map[string]any:
		if g, ok := b["error"].(GenericError); ok {
			g.Details = nil
			b["error"] = g
		}
	}
	return status, body
}

func envelopeWithDetails(err error, requestID string) (int, any) {
	var ce *csrfError
	if errors.As(err, &ce) {
		return http.StatusForbidden, ErrorEnvelope{Error: ce.genericError(requestID)}
	}
	var rt *returnToError
	if errors.As(err, &rt) {
		g := GenericError{ID: "self_service_flow_return_to_forbidden", Code: 400, Status: http.StatusText(400), Request: requestID,
			Reason: fmt.Sprintf("Requested return_to URL %q is not allowed.", rt.raw), Message: "Requested return_to URL is not allowed."}
		return 400, ErrorEnvelope{Error: g}
	}
	var ke *kratosError
	if errors.As(err, &ke) {
		g := ke.generic(requestID)
		if len(ke.extra) == 0 {
			return ke.status, ErrorEnvelope{Error: g}
		}
		body := map[string]any{"error": g}
		for k, v := range ke.extra {
			body[k] = v
		}
		return ke.status, body
	}
	g := NewGenericError(err, requestID)
	return g.Code, ErrorEnvelope{Error: g}
}

// writeError answers err: JSON requests get the envelope; browsers get the
// error stored and a 303 to the error UI (notes §5.3).
func (s *SelfService) writeError(w http.ResponseWriter, r *http.Request, jsonAnswer bool, err error) {
	rid := api.RequestID(r.Context())
	status, body := envelope(err, rid)
	var rl *rateLimited
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(rl.retryAfter.Seconds()))))
	}
	if status == http.StatusServiceUnavailable {
		// The database is down: the outage is logged once where it is
		// noticed, and an error page cannot be stored, so every client
		// gets the envelope at once.
		w.Header().Set("Retry-After", RetryAfterUnavailable)
		api.WriteJSON(w, status, body)
		return
	}
	if status >= 500 {
		s.errs.Log.ErrorContext(r.Context(), "self-service request failed", "error", err, "request_id", rid,
			"method", r.Method, "path", r.URL.Path)
	}
	if jsonAnswer {
		api.WriteJSON(w, status, body)
		return
	}
	var ke *kratosError
	if errors.As(err, &ke) {
		if to, ok := ke.extra["redirect_browser_to"].(string); ok && to != "" {
			redirect(w, r, to)
			return
		}
	}
	var g any = body
	if env, ok := body.(ErrorEnvelope); ok {
		g = env.Error
	} else if m, ok := body.(map[string]any); ok {
		g = m["error"]
	}
	id, serr := s.storeError(r, g)
	if serr != nil {
		s.errs.Log.ErrorContext(r.Context(), "store self-service error", "error", serr, "request_id", rid)
		api.WriteJSON(w, status, body)
		return
	}
	redirect(w, r, s.uiURL(flowError, id))
}

// storedErrorLifespan is how long a stored error can be read.
const storedErrorLifespan = time.Hour

// storeError keeps a browser error for GET /self-service/errors?id=. It is
// kept as a flow record of kind "error" (id, payload, expiry), so expired
// ones are removed with expired flows.
func (s *SelfService) storeError(r *http.Request, g any) (string, error) {
	raw, err := json.Marshal(g)
	if err != nil {
		return "", fmt.Errorf("encode error: %w", err)
	}
	now := s.now().UTC()
	f := &core.Flow{ID: uuid.NewString(), Kind: flowError, Face: "kratos", Stash: raw,
		ExpiresAt: now.Add(storedErrorLifespan), CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateFlow(r.Context(), f); err != nil {
		return "", fmt.Errorf("store error: %w", err)
	}
	return f.ID, nil
}

// flowErrorJSON is Kratos' flowError.
type flowErrorJSON struct {
	ID        string          `json:"id"`
	Error     json.RawMessage `json:"error"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// getError serves GET /self-service/errors?id= (also error=).
func (s *SelfService) getError(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if id == "" {
		id = r.URL.Query().Get("error")
	}
	now := s.now().UTC()
	if id == "stub:500" {
		g := GenericError{Code: 500, Status: http.StatusText(500), Reason: "This is a stub error.",
			Message: "An internal server error occurred, please contact the system administrator"}
		raw, _ := json.Marshal(g)
		api.WriteJSON(w, http.StatusOK, flowErrorJSON{ID: uuid.Nil.String(), Error: raw, CreatedAt: now, UpdatedAt: now})
		return
	}
	notFound := &kratosError{status: http.StatusNotFound, reason: "The requested error could not be found.", message: defaultMessages[404]}
	if _, ok := core.ParseID(id); !ok {
		s.writeError(w, r, true, notFound)
		return
	}
	f, err := s.st.GetFlow(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (f.Kind != flowError || f.Expired(now))) {
		s.writeError(w, r, true, notFound)
		return
	}
	if err != nil {
		s.writeError(w, r, true, &core.Error{Code: core.CodeInternal, Message: "Loading the error failed.", Cause: err})
		return
	}
	api.WriteJSON(w, http.StatusOK, flowErrorJSON{ID: f.ID, Error: f.Stash, CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt})
}
