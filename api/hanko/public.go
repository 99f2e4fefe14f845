package hanko

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/session"
)

// noStore is the session answers' Cache-Control, shared by every answer
// (header values are replaced, never written in place): http.Header.Set
// allocates the slice on every request.
var noStore = []string{"no-store"}

// mountPublicAPI registers the public API's routes.
func (h *Handler) mountPublicAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /.well-known/jwks.json", h.jwks)
	mux.HandleFunc("GET /sessions/validate", h.validateSession)
	mux.HandleFunc("POST /sessions/validate", h.validateSessionToken)
	mux.HandleFunc("GET /me", h.me)
	mux.HandleFunc("POST /logout", h.logout)
	mux.HandleFunc("GET /users/{id}", h.publicUser)
}

// CORS returns the cross-origin policy of the Hanko public API
// (hanko.cors): the configured origins with credentials, the headers the
// frontend SDK sends, and the session headers it must read. cmd/latchkey
// merges it into the public listener's api.WithCORS.
func (h *Handler) CORS() api.CORS {
	return api.CORS{
		Enabled:          len(h.cfg.CORS.AllowOrigins) > 0,
		AllowedOrigins:   append([]string(nil), h.cfg.CORS.AllowOrigins...),
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions},
		AllowedHeaders:   []string{"Accept", "Authorization", "Content-Type", "X-Language", "X-Request-Id"},
		ExposedHeaders:   []string{"X-Auth-Token", "X-Session-Lifetime", "X-Session-Retention", "Location", "Link", "X-Total-Count"},
		AllowCredentials: true,
		MaxAge:           time.Hour,
	}
}

// jwks serves the public signing keys (GET /.well-known/jwks.json), cacheable
// for ten minutes as Hanko serves them.
func (h *Handler) jwks(w http.ResponseWriter, r *http.Request) {
	b, err := h.keys.JWKS(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=600")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// validateResponse is Hanko's dto.ValidateSessionResponse.
type validateResponse struct {
	IsValid        bool        `json:"is_valid"`
	Claims         *ClaimsJSON `json:"claims,omitempty"`
	ExpirationTime *time.Time  `json:"expiration_time,omitempty"`
	UserID         string      `json:"user_id,omitempty"`
}

// validateFixed is validateResponse when the claims have no custom ones:
// encoding/json writes them in place, instead of encoding them apart in
// ClaimsJSON.MarshalJSON and checking and copying that (same bytes).
type validateFixed struct {
	IsValid        bool          `json:"is_valid"`
	Claims         *claimsFields `json:"claims,omitempty"`
	ExpirationTime *time.Time    `json:"expiration_time,omitempty"`
	UserID         string        `json:"user_id,omitempty"`
}

// validateSession answers GET /sessions/validate for the token in the
// Authorization header or the cookie: always 200, is_valid false for a
// missing, bad, revoked or expired session. It does not touch the session.
func (h *Handler) validateSession(w http.ResponseWriter, r *http.Request) {
	h.writeValidation(w, r, h.tokenFrom(r), false)
}

// validateSessionToken answers POST /sessions/validate {"session_token"}; it
// records the use on the session row (at most once per touch interval).
func (h *Handler) validateSessionToken(w http.ResponseWriter, r *http.Request) {
	h.limitBody(w, r)
	var body struct {
		SessionToken string `json:"session_token"`
	}
	if err := api.DecodeJSONLax(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	if strings.TrimSpace(body.SessionToken) == "" {
		writeError(w, http.StatusBadRequest, "session_token is required")
		return
	}
	h.writeValidation(w, r, body.SessionToken, true)
}

func (h *Handler) writeValidation(w http.ResponseWriter, r *http.Request, token string, touch bool) {
	w.Header()["Cache-Control"] = noStore
	if token == "" {
		api.WriteJSON(w, http.StatusOK, validateResponse{})
		return
	}
	a, err := h.verifyToken(r.Context(), token)
	if err != nil {
		if core.ErrorCode(err) != core.CodeUnauthorized {
			h.fail(w, r, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, validateResponse{})
		return
	}
	if touch {
		h.touch(r, a)
	}
	// The answer is the JWT's claims with the session row's amr: encoded
	// once per cache entry and token (the memo holds the token's SHA-256,
	// never the token, then the answer).
	th := tokenHash(token)
	if b := a.memo.Load(session.MemoHankoValidate); len(b) > len(th) && [sha256.Size]byte(b[:len(th)]) == th {
		api.WriteRawJSON(w, http.StatusOK, b[len(th):])
		return
	}
	c := claimsJSON(a.Claims)
	// The session row is the truth about how the session authenticated: a
	// second factor removed since the JWT was signed is no longer claimed.
	if len(a.Session.Methods) > 0 {
		c.AMR = amrOf(a.Session)
	}
	exp := c.Expiration
	var b []byte
	if len(c.Custom) == 0 {
		b, err = json.Marshal(validateFixed{IsValid: true, Claims: (*claimsFields)(&c), ExpirationTime: &exp, UserID: c.Subject})
	} else {
		b, err = json.Marshal(validateResponse{IsValid: true, Claims: &c, ExpirationTime: &exp, UserID: c.Subject})
	}
	if err != nil {
		h.fail(w, r, fmt.Errorf("validate: encode: %w", err))
		return
	}
	m := make([]byte, 0, len(th)+len(b))
	a.memo.Store(session.MemoHankoValidate, append(append(m, th[:]...), b...))
	api.WriteRawJSON(w, http.StatusOK, b)
}

// tokenHash is the SHA-256 of token, hashed from a copy on the stack
// ([]byte(token) would copy a JWT to the heap on every check).
func tokenHash(token string) [sha256.Size]byte {
	var buf [1024]byte
	return sha256.Sum256(append(buf[:0], token...))
}

// touch records the use of the session (Hanko's last_used); failures are
// logged, never shown.
func (h *Handler) touch(r *http.Request, a *Authn) {
	dev := core.Device{IPAddress: api.ClientIP(r), UserAgent: r.UserAgent()}
	if _, err := h.sessions.Touch(r.Context(), a.Session, dev); err != nil {
		h.log.WarnContext(r.Context(), "hanko: record session use", "session_id", a.Session.ID, "error", err)
	}
}

// authenticated returns the request's session and its identity (with
// credentials), or writes 401 and returns false. A session whose identity
// is gone is no session (the session row and the identity are read in one
// statement).
func (h *Handler) authenticated(w http.ResponseWriter, r *http.Request) (*Authn, *core.Identity, bool) {
	token := h.tokenFrom(r)
	if token == "" {
		h.fail(w, r, &core.Error{Code: core.CodeUnauthorized, Message: "Unauthorized", Cause: errNoToken})
		return nil, nil, false
	}
	a, i, err := h.verifyTokenIdentity(r.Context(), token)
	if err != nil {
		h.fail(w, r, err)
		return nil, nil, false
	}
	if i.State != core.IdentityActive {
		writeError(w, http.StatusUnauthorized, "")
		return nil, nil, false
	}
	return a, i, true
}

// me answers GET /me with the current user's profile data.
func (h *Handler) me(w http.ResponseWriter, r *http.Request) {
	a, i, ok := h.authenticated(w, r)
	if !ok {
		return
	}
	h.touch(r, a)
	w.Header()["Cache-Control"] = noStore
	// The profile is the identity and its WebAuthn credentials, whose
	// writes drop the cache entry: encoded once per entry.
	if b := a.memo.Load(session.MemoHankoMe); b != nil {
		api.WriteRawJSON(w, http.StatusOK, b)
		return
	}
	creds, err := h.webauthnOf(r.Context(), a, i.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b, err := json.Marshal(h.profileJSON(i, creds))
	if err != nil {
		h.fail(w, r, fmt.Errorf("me: encode: %w", err))
		return
	}
	a.memo.Store(session.MemoHankoMe, b)
	api.WriteRawJSON(w, http.StatusOK, b)
}

// logout answers POST /logout: it revokes the session row (ending it for
// both faces), expires the cookie and answers 204.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	a, err := h.sessionFromRequest(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.sessions.Revoke(r.Context(), a.Session.ID); err != nil && core.ErrorCode(err) != core.CodeNotFound {
		h.fail(w, r, err)
		return
	}
	h.record(r, AuditUserLoggedOut, a.Session.IdentityID, "", nil)
	if err := h.emit(r.Context(), h.store, EventSessionDelete, sessionEventData(a.Session)); err != nil {
		h.log.ErrorContext(r.Context(), "hanko: queue session.delete webhook", "error", err)
	}
	h.clearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

// publicUserJSON is GET /users/{id} of the 2.x frontend SDK (Hanko's
// deprecated GetUserByIdResponse).
type publicUserJSON struct {
	ID                  string                   `json:"id"`
	UserID              string                   `json:"user_id"`
	Email               string                   `json:"email,omitempty"`
	Emails              []EmailJSON              `json:"emails,omitempty"`
	Username            string                   `json:"username,omitempty"`
	WebauthnCredentials []WebauthnCredentialJSON `json:"webauthn_credentials"`
	CreatedAt           time.Time                `json:"created_at"`
	UpdatedAt           time.Time                `json:"updated_at"`
}

// publicUser answers GET /users/{id} for the current user only; another id is
// 403, as Hanko 2.x answers it.
func (h *Handler) publicUser(w http.ResponseWriter, r *http.Request) {
	a, i, ok := h.authenticated(w, r)
	if !ok {
		return
	}
	if !strings.EqualFold(r.PathValue("id"), i.ID) {
		h.fail(w, r, core.Errorf(core.CodeForbidden, "Forbidden"))
		return
	}
	u := publicUserJSON{ID: i.ID, UserID: i.ID, Username: traitsOf(i).Username, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt,
		WebauthnCredentials: []WebauthnCredentialJSON{}}
	if a, ok := primaryEmail(i); ok {
		u.Email = a.Value
	}
	for _, a := range emails(i) {
		u.Emails = append(u.Emails, emailJSON(a))
	}
	creds, err := h.webauthnOf(r.Context(), a, i.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pk, sk := webauthnJSON(creds)
	u.WebauthnCredentials = append(append(u.WebauthnCredentials, pk...), sk...)
	w.Header()["Cache-Control"] = noStore
	api.WriteJSON(w, http.StatusOK, u)
}
