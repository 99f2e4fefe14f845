package kratos

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/session"
	"github.com/latchkey/latchkey/store"
)

// whoamiJSON is the session whoami returns, with the JWT of tokenize_as.
type whoamiJSON struct {
	SessionJSON
	Tokenized string `json:"tokenized,omitempty"`
}

// noCredentials is whoami's 401 (notes §5.1).
func noCredentials() error {
	return &kratosError{status: http.StatusUnauthorized, reason: "No valid session credentials found in the request."}
}

// whoami serves /sessions/whoami: one indexed lookup of the token, the
// identity and its addresses (not its credentials), and a device update at
// most every few minutes.
func (s *SelfService) whoami(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "private, no-cache, no-store, must-revalidate")
	sess, ident, err := s.whoamiSession(r)
	if err != nil {
		var ke *kratosError
		if errors.As(err, &ke) && ke.id == "session_inactive" {
			err = noCredentials()
		}
		s.writeError(w, r, true, err)
		return
	}
	if step, err := s.needsAAL2(r.Context(), s.sessCfg.WhoAmI.RequiredAAL, sess, nil); err != nil || step {
		if err == nil {
			err = aal2Required(s.aal2LoginURL(""))
		}
		s.writeError(w, r, true, err)
		return
	}
	if _, err := s.sessions.Touch(r.Context(), sess, device(r)); err != nil {
		s.errs.Log.WarnContext(r.Context(), "record session device", "error", err, "session_id", sess.ID)
	}
	out := whoamiJSON{SessionJSON: s.sessionJSON(sess, ident)}
	if name := r.URL.Query().Get("tokenize_as"); name != "" {
		if out.Tokenized, err = s.tokenize(name, sess, ident); err != nil {
			s.writeError(w, r, true, err)
			return
		}
	}
	w.Header().Set("X-Kratos-Authenticated-Identity-Id", ident.ID)
	api.WriteJSON(w, http.StatusOK, out)
}

// whoamiSession is currentSession, without the identity's credentials
// (whoami never shows them), that also honours the Hanko face's session
// JWT sent as "Authorization: Bearer <jwt>" (one session row, two faces):
// when the bearer token is not an opaque session token and looks like a
// JWS, it is verified with the signing keys and its session_id claim names
// the row, which must be active, unexpired and belong to the token's
// subject. Any failure is whoami's usual 401.
func (s *SelfService) whoamiSession(r *http.Request) (*core.Session, *core.Identity, error) {
	tok := s.sessionToken(r)
	a := r.Header.Get("Authorization")
	if s.keys == nil || len(a) <= 7 || !strings.EqualFold(a[:7], "bearer ") || tok != strings.TrimSpace(a[7:]) ||
		strings.HasPrefix(tok, "ory_st_") || strings.Count(tok, ".") != 2 {
		// One statement: the session with its identity and addresses.
		if tok == "" {
			return nil, nil, noSession()
		}
		sess, i, err := s.sessions.VerifyWithIdentity(r.Context(), tok)
		if err != nil {
			if core.ErrorCode(err) == core.CodeUnauthorized {
				return nil, nil, noSession()
			}
			return nil, nil, err
		}
		if i.State == core.IdentityInactive {
			return nil, nil, noSession()
		}
		return sess, i, nil
	}
	ctx := r.Context()
	c, err := s.keys.VerifyJWT(ctx, tok, session.VerifyOptions{})
	if err != nil || c.SessionID == "" {
		return nil, nil, noSession()
	}
	sess, i, err := s.sessions.SessionWithIdentity(ctx, c.SessionID, false)
	if err != nil {
		if core.ErrorCode(err) == core.CodeNotFound {
			return nil, nil, noSession()
		}
		return nil, nil, err
	}
	if sess.IdentityID != c.Subject || s.sessions.Check(sess) != nil {
		return nil, nil, noSession()
	}
	if i.State == core.IdentityInactive {
		return nil, nil, noSession()
	}
	return sess, i, nil
}

// tokenize signs the session as a JWT with the template's own key (notes
// §6 tokenize_as): a service that trusts the template's public key set
// accepts only tokens made for it, never a session JWT of the Hanko face.
func (s *SelfService) tokenize(name string, sess *core.Session, ident *core.Identity) (string, error) {
	if s.tokenizer == nil || !s.tokenizer.Has(name) {
		return "", &kratosError{status: http.StatusBadRequest, reason: fmt.Sprintf("Unable to find tokenizer template %q.", name)}
	}
	jwt, err := s.tokenizer.Tokenize(name, sess.ID, ident.ID, ident.ExternalID)
	if err != nil {
		if core.ErrorCode(err) == core.CodeInvalid {
			return "", &kratosError{status: http.StatusBadRequest, reason: core.ErrorMessage(err)}
		}
		return "", &core.Error{Code: core.CodeInternal, Message: "Signing the session token failed.", Cause: err}
	}
	return jwt, nil
}

// newTokenizer reads the key sets of the tokenize_as templates (once, at
// start). A template with a claims mapper is refused: Jsonnet claim mappers
// are not built yet, and a mapper accepted and ignored would sign other
// claims than the operator asked for.
func newTokenizer(c config.Tokenizer, issuer string, now func() time.Time) (*session.Tokenizer, error) {
	if len(c.Templates) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(c.Templates))
	for n := range c.Templates {
		names = append(names, n)
	}
	sort.Strings(names)
	tpls := make(map[string]session.TokenTemplate, len(c.Templates))
	for _, n := range names {
		t := c.Templates[n]
		if t.ClaimsMapperURL != "" {
			return nil, fmt.Errorf("session.whoami.tokenizer.templates.%s.claims_mapper_url: not supported yet (Jsonnet claim mappers are not built); remove it to sign the default claims", n)
		}
		tpls[n] = session.TokenTemplate{TTL: t.TTL, SubjectSource: t.SubjectSource, JWKSURL: t.JWKSURL}
	}
	return session.NewTokenizer(issuer, tpls, now)
}

// listMySessions serves GET /sessions: the caller's other sessions, with
// Kratos' migration pagination.
func (s *SelfService) listMySessions(w http.ResponseWriter, r *http.Request) {
	p, err := parseMigrationPage(r.URL.Query())
	if err != nil {
		s.writeError(w, r, true, err)
		return
	}
	sess, ident, err := s.currentSession(r)
	if err != nil {
		s.writeError(w, r, true, err)
		return
	}
	active := true
	q := store.SessionQuery{IdentityID: ident.ID, ExceptID: sess.ID, Active: &active, Now: s.now()}
	total, err := s.st.CountSessions(r.Context(), q)
	if err != nil {
		s.writeError(w, r, true, sessionStoreError(err, ""))
		return
	}
	q.Offset, q.Limit = p.offset, p.size
	list, err := s.st.ListSessions(r.Context(), q)
	if err != nil {
		s.writeError(w, r, true, sessionStoreError(err, ""))
		return
	}
	out := make([]SessionJSON, 0, len(list))
	for n := range list {
		out = append(out, s.sessionJSON(&list[n], ident))
	}
	MigrationLinks(w, r, total, p.offset, p.size)
	api.WriteJSON(w, http.StatusOK, out)
}

// deleteMySessions serves DELETE /sessions: revoke all other sessions.
func (s *SelfService) deleteMySessions(w http.ResponseWriter, r *http.Request) {
	sess, ident, err := s.currentSession(r)
	if err != nil {
		s.writeError(w, r, true, err)
		return
	}
	n, err := s.sessions.RevokeOthers(r.Context(), ident.ID, sess.ID)
	if err != nil {
		s.writeError(w, r, true, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, map[string]int{"count": n})
}

// deleteMySession serves DELETE /sessions/{id}: revoke one other session of
// the caller.
func (s *SelfService) deleteMySession(w http.ResponseWriter, r *http.Request) {
	id, err := sessionID(r)
	if err != nil {
		s.writeError(w, r, true, err)
		return
	}
	sess, ident, err := s.currentSession(r)
	if err != nil {
		s.writeError(w, r, true, err)
		return
	}
	if id == sess.ID {
		s.writeError(w, r, true, &kratosError{status: http.StatusBadRequest,
			reason: "You are not allowed to revoke your current session; use logout instead."})
		return
	}
	other, err := s.sessions.Session(r.Context(), id)
	if err != nil || other.IdentityID != ident.ID {
		s.writeError(w, r, true, &kratosError{status: http.StatusNotFound, reason: "The session could not be found."})
		return
	}
	if err := s.sessions.Revoke(r.Context(), id); err != nil {
		s.writeError(w, r, true, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
