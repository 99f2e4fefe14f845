package kratos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/fetch"
	"github.com/latchkey/latchkey/session"
	"github.com/latchkey/latchkey/store"
)

// whoamiJSON is the session whoami returns, with the JWT of tokenize_as.
type whoamiJSON struct {
	SessionJSON
	Tokenized string `json:"tokenized,omitempty"`
}

// whoamiCacheControl is whoami's Cache-Control, shared by every answer
// (header values are replaced, never written in place): http.Header.Set
// allocates the slice on every request.
var whoamiCacheControl = []string{"private, no-cache, no-store, must-revalidate"}

// noCredentials is whoami's 401 (notes §5.1).
func noCredentials() error {
	return &kratosError{status: http.StatusUnauthorized, reason: "No valid session credentials found in the request."}
}

// whoami serves /sessions/whoami: one indexed lookup of the token, the
// identity and its addresses (not its credentials), and a device update at
// most every few minutes.
func (s *SelfService) whoami(w http.ResponseWriter, r *http.Request) {
	w.Header()["Cache-Control"] = whoamiCacheControl
	sess, ident, memo, err := s.whoamiSession(r)
	if err != nil {
		var ke *kratosError
		if errors.As(err, &ke) && ke.id == "session_inactive" {
			err = noCredentials()
		}
		s.writeError(w, r, true, err)
		return
	}
	if step, err := s.whoamiNeedsAAL2(r.Context(), sess, memo); err != nil || step {
		if err == nil {
			err = aal2Required(s.aal2LoginURL(""))
		}
		s.writeError(w, r, true, err)
		return
	}
	wrote, err := s.sessions.Touch(r.Context(), sess, device(r))
	if err != nil {
		s.errs.Log.WarnContext(r.Context(), "record session device", "error", err, "session_id", sess.ID)
	}
	w.Header()["X-Kratos-Authenticated-Identity-Id"] = []string{ident.ID}
	name := ""
	if r.URL.RawQuery != "" { // parsing an empty query still allocates its map
		name = r.URL.Query().Get("tokenize_as")
	}
	if name == "" && !wrote {
		// The answer is the session and identity as cached: encoded once
		// per cache entry (a touch that wrote changed the session).
		if b := memo.Load(session.MemoWhoami); b != nil {
			api.WriteRawJSON(w, http.StatusOK, b)
			return
		}
	}
	out := whoamiJSON{SessionJSON: s.sessionJSON(sess, ident)}
	if name != "" {
		if out.Tokenized, err = s.tokenize(r.Context(), name, sess, ident, out.SessionJSON); err != nil {
			s.writeError(w, r, true, err)
			return
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		s.writeError(w, r, true, fmt.Errorf("whoami: encode: %w", err))
		return
	}
	if name == "" && !wrote {
		memo.Store(session.MemoWhoami, b)
	}
	api.WriteRawJSON(w, http.StatusOK, b)
}

// whoamiSession is currentSession, without the identity's credentials
// (whoami never shows them), that also honours the Hanko face's session
// JWT sent as "Authorization: Bearer <jwt>" (one session row, two faces):
// when the bearer token is not an opaque session token and looks like a
// JWS, it is verified with the signing keys and its session_id claim names
// the row, which must be active, unexpired and belong to the token's
// subject. Any failure is whoami's usual 401.
func (s *SelfService) whoamiSession(r *http.Request) (*core.Session, *core.Identity, session.Memo, error) {
	tok := s.sessionToken(r)
	a := r.Header.Get("Authorization")
	if s.keys == nil || len(a) <= 7 || !strings.EqualFold(a[:7], "bearer ") || tok != strings.TrimSpace(a[7:]) ||
		strings.HasPrefix(tok, "ory_st_") || strings.Count(tok, ".") != 2 {
		// One statement: the session with its identity and addresses.
		if tok == "" {
			return nil, nil, session.Memo{}, noSession()
		}
		sess, i, memo, err := s.sessions.VerifyWithIdentityMemo(r.Context(), tok)
		if err != nil {
			if core.ErrorCode(err) == core.CodeUnauthorized {
				return nil, nil, session.Memo{}, noSession()
			}
			return nil, nil, session.Memo{}, err
		}
		if i.State == core.IdentityInactive {
			return nil, nil, session.Memo{}, noSession()
		}
		return sess, i, memo, nil
	}
	ctx := r.Context()
	c, err := s.keys.VerifyJWT(ctx, tok, session.VerifyOptions{})
	if err != nil || c.SessionID == "" {
		return nil, nil, session.Memo{}, noSession()
	}
	sess, i, memo, err := s.sessions.SessionWithIdentityMemo(ctx, c.SessionID, false)
	if err != nil {
		if core.ErrorCode(err) == core.CodeNotFound {
			return nil, nil, session.Memo{}, noSession()
		}
		return nil, nil, session.Memo{}, err
	}
	if sess.IdentityID != c.Subject || s.sessions.Check(sess) != nil {
		return nil, nil, session.Memo{}, noSession()
	}
	if i.State == core.IdentityInactive {
		return nil, nil, session.Memo{}, noSession()
	}
	return sess, i, memo, nil
}

// tokenize signs the session as a JWT with the template's own key (notes
// §6 tokenize_as): a service that trusts the template's public key set
// accepts only tokens made for it, never a session JWT of the Hanko face. A
// claims mapper reads view, the session as whoami answers it.
func (s *SelfService) tokenize(ctx context.Context, name string, sess *core.Session, ident *core.Identity, view SessionJSON) (string, error) {
	if s.tokenizer == nil || !s.tokenizer.Has(name) {
		return "", &kratosError{status: http.StatusBadRequest, reason: fmt.Sprintf("Unable to find tokenizer template %q.", name)}
	}
	raw, err := json.Marshal(view)
	if err != nil {
		return "", fmt.Errorf("tokenize: encode session: %w", err)
	}
	jwt, err := s.tokenizer.Tokenize(ctx, name, session.TokenSession{ID: sess.ID, IdentityID: ident.ID, ExternalID: ident.ExternalID, JSON: raw})
	if err != nil {
		if core.ErrorCode(err) == core.CodeInvalid {
			var ce *core.Error
			if errors.As(err, &ce) && ce.Cause != nil {
				s.errs.Log.WarnContext(ctx, "tokenize_as claims mapper failed", "template", name, "error", ce.Cause)
			}
			return "", &kratosError{status: http.StatusBadRequest, reason: core.ErrorMessage(err)}
		}
		return "", &core.Error{Code: core.CodeInternal, Message: "Signing the session token failed.", Cause: err}
	}
	return jwt, nil
}

// maxTokenizerDoc caps a template's key set and claims mapper.
const maxTokenizerDoc = 1 << 20

// newTokenizer reads the key sets and claims mappers of the tokenize_as
// templates once, at start: file:// and base64:// from here, http(s):// with
// client (fetch.Client() when nil: a 10s timeout), at most 1 MiB each. A key
// set or mapper that cannot be read stops the start with its key named.
func newTokenizer(c config.Tokenizer, issuer string, now func() time.Time, ev session.Evaluator, client *http.Client) (*session.Tokenizer, error) {
	if len(c.Templates) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(c.Templates))
	for n := range c.Templates {
		names = append(names, n)
	}
	sort.Strings(names)
	ctx := context.Background()
	tpls := make(map[string]session.TokenTemplate, len(c.Templates))
	for _, n := range names {
		t := c.Templates[n]
		key := "session.whoami.tokenizer.templates." + n
		tpl := session.TokenTemplate{TTL: t.TTL, SubjectSource: t.SubjectSource, JWKSURL: t.JWKSURL}
		if scheme, _, _ := strings.Cut(strings.ToLower(t.JWKSURL), "://"); scheme == "https" || scheme == "http" {
			b, err := fetch.Get(ctx, client, t.JWKSURL, maxTokenizerDoc)
			if err != nil {
				return nil, fmt.Errorf("%s.jwks_url: %w (the key set is read at start)", key, err)
			}
			tpl.KeySet = b
		}
		if t.ClaimsMapperURL != "" {
			if ev == nil {
				return nil, fmt.Errorf("%s.claims_mapper_url: no Jsonnet evaluator to run it (SelfServiceOptions.Jsonnet)", key)
			}
			b, err := fetch.Get(ctx, client, t.ClaimsMapperURL, maxTokenizerDoc)
			if err != nil {
				return nil, fmt.Errorf("%s.claims_mapper_url: %w", key, err)
			}
			tpl.ClaimsMapper, tpl.MapperID = string(b), fetch.Redact(t.ClaimsMapperURL)
		}
		tpls[n] = tpl
	}
	return session.NewTokenizer(issuer, tpls, now, ev)
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
