package kratos

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
)

// logoutFlow is Kratos' logoutFlow.
type logoutFlow struct {
	LogoutURL   string `json:"logout_url"`
	LogoutToken string `json:"logout_token"`
}

// createBrowserLogout serves GET /self-service/logout/browser: the logout URL
// and token of the caller's session.
func (s *SelfService) createBrowserLogout(w http.ResponseWriter, r *http.Request) {
	jsonAnswer := isJSONRequest(r)
	ret, err := s.returnTo.check(r.URL.Query().Get("return_to"))
	if err != nil {
		s.writeError(w, r, jsonAnswer, err)
		return
	}
	sess, _, err := s.currentSession(r)
	if err != nil {
		s.writeError(w, r, jsonAnswer, err)
		return
	}
	tok, err := s.sessions.LogoutToken(r.Context(), sess)
	if err != nil {
		s.writeError(w, r, jsonAnswer, err)
		return
	}
	q := url.Values{"token": {tok}}
	if ret != "" {
		q.Set("return_to", ret)
	}
	api.WriteJSON(w, http.StatusOK, logoutFlow{LogoutURL: s.url("self-service/logout", q), LogoutToken: tok})
}

// updateLogout serves GET /self-service/logout?token=&return_to=: it revokes
// the session the logout token belongs to and clears the cookie.
func (s *SelfService) updateLogout(w http.ResponseWriter, r *http.Request) {
	jsonAnswer := isJSONRequest(r)
	q := r.URL.Query()
	ret, err := s.returnTo.check(q.Get("return_to"))
	if err != nil {
		s.writeError(w, r, jsonAnswer, err)
		return
	}
	tok := q.Get("token")
	if tok == "" {
		s.writeError(w, r, jsonAnswer, &kratosError{status: http.StatusBadRequest,
			reason: "Please include a token in the URL query."})
		return
	}
	if _, err := s.sessions.RevokeByLogoutToken(r.Context(), tok); err != nil {
		if core.ErrorCode(err) == core.CodeForbidden {
			err = &kratosError{status: http.StatusForbidden,
				reason: "Unable to log out because the logout token in the URL query does not match the session cookie."}
		}
		s.writeError(w, r, jsonAnswer, err)
		return
	}
	s.cookie.clear(w)
	if jsonAnswer {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	redirect(w, r, s.returnOrDefault(ret, s.cfg.Flows.Logout.After.DefaultBrowserReturnURL))
}

// performNativeLogout serves DELETE /self-service/logout/api with
// {"session_token": "ory_st_…"}.
func (s *SelfService) performNativeLogout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
	var body struct {
		SessionToken string `json:"session_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.SessionToken == "" {
		s.writeError(w, r, true, &kratosError{status: http.StatusBadRequest,
			reason: "The request body must be a JSON object with a session_token."})
		return
	}
	sess, err := s.sessions.Verify(r.Context(), body.SessionToken)
	if err != nil {
		if core.ErrorCode(err) == core.CodeUnauthorized {
			err = &kratosError{status: http.StatusForbidden,
				reason: "The provided Ory Session Token could not be found, is invalid, or otherwise malformed."}
		}
		s.writeError(w, r, true, err)
		return
	}
	if err := s.sessions.Revoke(r.Context(), sess.ID); err != nil {
		s.writeError(w, r, true, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
