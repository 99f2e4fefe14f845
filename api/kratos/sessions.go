package kratos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// sessionID parses the {id} path value of a session route; a malformed id
// is a 400, as in Kratos.
func sessionID(r *http.Request) (string, error) {
	raw := r.PathValue("id")
	id, ok := core.ParseID(raw)
	if !ok {
		return "", &core.Error{Code: core.CodeInvalid, Field: "id",
			Message: fmt.Sprintf("The session id %q is not a valid UUID.", raw)}
	}
	return id, nil
}

func sessionStoreError(err error, id string) error {
	var ce *core.Error
	switch {
	case errors.As(err, &ce):
		return err
	case errors.Is(err, store.ErrNotFound):
		return &core.Error{Code: core.CodeNotFound, Message: fmt.Sprintf("The session %q does not exist.", id), Cause: err}
	default:
		return &core.Error{Code: core.CodeInternal, Message: "The session store failed.", Cause: err}
	}
}

// activeParam parses the optional active query parameter.
func activeParam(r *http.Request) (*bool, error) {
	v := r.URL.Query().Get("active")
	if v == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return nil, &core.Error{Code: core.CodeInvalid, Field: "active",
			Message: fmt.Sprintf("active=%q is not a boolean; use true or false.", v)}
	}
	return &b, nil
}

// expandParam parses expand (repeatable: identity, devices).
func expandParam(r *http.Request) (identity, devices bool, err error) {
	for _, v := range r.URL.Query()["expand"] {
		switch v {
		case "identity":
			identity = true
		case "devices":
			devices = true
		default:
			return false, false, &core.Error{Code: core.CodeInvalid, Field: "expand",
				Message: fmt.Sprintf("expand=%q is not valid; use identity or devices.", v)}
		}
	}
	return identity, devices, nil
}

// sessionView renders s, loading its identity when withIdentity is set (a
// missing identity is left out).
func (h *Handler) sessionView(r *http.Request, s *core.Session, withIdentity, withDevices bool, cache map[string]*core.Identity) (SessionJSON, error) {
	var ij *IdentityJSON
	state := core.IdentityActive
	if withIdentity {
		i, ok := cache[s.IdentityID]
		if !ok {
			var err error
			i, err = h.ids.Get(r.Context(), s.IdentityID)
			if err != nil && core.ErrorCode(err) != core.CodeNotFound {
				return SessionJSON{}, err
			}
			if cache != nil {
				cache[s.IdentityID] = i
			}
		}
		if i != nil {
			v := NewIdentityJSON(i, h.public, false, nil, nil)
			ij = &v
			state = i.State
		}
	}
	return NewSessionJSON(s, h.now(), ij, state, withDevices), nil
}

// listSessions serves GET /admin/sessions (keyset pagination over
// created_at descending).
func (h *Handler) listSessions(w http.ResponseWriter, r *http.Request) {
	size, err := PageSize(r.URL.Query(), sessionPageSizeDefault, sessionPageSizeMax)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	active, err := activeParam(r)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	withIdentity, withDevices, err := expandParam(r)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	q := store.SessionQuery{Active: active, Now: h.now(), Limit: size + 1}
	if tok := r.URL.Query().Get("page_token"); tok != "" {
		t, err := ParseSessionToken(tok)
		if err != nil {
			h.errs.Write(w, r, err)
			return
		}
		if t != defaultSessionToken {
			q.BeforeCreatedAt, q.BeforeID = t.CreatedAt, t.ID
		}
	}
	list, err := h.sessions.ListSessions(r.Context(), q)
	if err != nil {
		h.errs.Write(w, r, sessionStoreError(err, ""))
		return
	}
	next := ""
	if len(list) > size {
		list = list[:size]
		last := list[len(list)-1]
		next = SessionToken{ID: last.ID, CreatedAt: last.CreatedAt}.Encode()
	}
	out := make([]SessionJSON, 0, len(list))
	cache := map[string]*core.Identity{}
	for n := range list {
		v, err := h.sessionView(r, &list[n], withIdentity, withDevices, cache)
		if err != nil {
			h.errs.Write(w, r, err)
			return
		}
		out = append(out, v)
	}
	KeysetLinks(w, r, size, defaultSessionToken.Encode(), next)
	api.WriteJSON(w, http.StatusOK, out)
}

// getSession serves GET /admin/sessions/{id}.
func (h *Handler) getSession(w http.ResponseWriter, r *http.Request) {
	id, err := sessionID(r)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	withIdentity, withDevices, err := expandParam(r)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	s, err := h.sessions.GetSession(r.Context(), id)
	if err != nil {
		h.errs.Write(w, r, sessionStoreError(err, id))
		return
	}
	v, err := h.sessionView(r, s, withIdentity, withDevices, nil)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, v)
}

// disableSession serves DELETE /admin/sessions/{id}: the session is
// deactivated (kept for the record), as Kratos does.
func (h *Handler) disableSession(w http.ResponseWriter, r *http.Request) {
	id, err := sessionID(r)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	_, err = h.modifySession(r.Context(), id, func(s *core.Session, now time.Time) (bool, error) {
		if !s.Active {
			return false, nil
		}
		s.Active, s.UpdatedAt = false, now
		return true, nil
	})
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// extendSession serves PATCH /admin/sessions/{id}/extend: expires_at moves
// to now + the session lifespan. Inactive sessions cannot be extended; with
// session.earliest_possible_extend set, a session that expires later than
// that from now is returned unchanged (Kratos' CanBeRefreshed).
func (h *Handler) extendSession(w http.ResponseWriter, r *http.Request) {
	id, err := sessionID(r)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	s, err := h.modifySession(r.Context(), id, func(s *core.Session, now time.Time) (bool, error) {
		if !s.Active {
			return false, core.Errorf(core.CodeNotFound, "The session %q is not active and cannot be extended.", id)
		}
		if h.earliestExtend > 0 && s.ExpiresAt.Sub(now) > h.earliestExtend {
			return false, nil
		}
		s.ExpiresAt, s.UpdatedAt = now.Add(h.lifespan), now
		return true, nil
	})
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	v, err := h.sessionView(r, s, true, true, nil)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, v)
}

// modifySession changes session id in one transaction (the read locks the
// row on PostgreSQL and MySQL), so a concurrent change (a revocation, a
// device update) is never lost. change reports whether it changed s; its
// error is returned as is.
func (h *Handler) modifySession(ctx context.Context, id string, change func(s *core.Session, now time.Time) (bool, error)) (*core.Session, error) {
	var out *core.Session
	err := h.sessions.Update(ctx, func(tx store.Tx) error {
		s, err := tx.GetSession(ctx, id)
		if err != nil {
			return sessionStoreError(err, id)
		}
		changed, err := change(s, h.now().UTC())
		if err != nil || !changed {
			out = s
			return err
		}
		if err := tx.UpdateSession(ctx, s); err != nil {
			return sessionStoreError(err, id)
		}
		out = s
		return nil
	})
	return out, err
}

// listIdentitySessions serves GET /admin/identities/{id}/sessions
// (migration pagination with X-Total-Count).
func (h *Handler) listIdentitySessions(w http.ResponseWriter, r *http.Request) {
	p, err := parseMigrationPage(r.URL.Query())
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	active, err := activeParam(r)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	i, err := h.ids.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	q := store.SessionQuery{IdentityID: i.ID, Active: active, Now: h.now()}
	total, err := h.sessions.CountSessions(r.Context(), q)
	if err != nil {
		h.errs.Write(w, r, sessionStoreError(err, ""))
		return
	}
	q.Offset, q.Limit = p.offset, p.size
	list, err := h.sessions.ListSessions(r.Context(), q)
	if err != nil {
		h.errs.Write(w, r, sessionStoreError(err, ""))
		return
	}
	iv := NewIdentityJSON(i, h.public, false, nil, nil)
	out := make([]SessionJSON, 0, len(list))
	for n := range list {
		out = append(out, NewSessionJSON(&list[n], h.now(), &iv, i.State, true))
	}
	MigrationLinks(w, r, total, p.offset, p.size)
	api.WriteJSON(w, http.StatusOK, out)
}

// deleteIdentitySessions serves DELETE /admin/identities/{id}/sessions.
func (h *Handler) deleteIdentitySessions(w http.ResponseWriter, r *http.Request) {
	i, err := h.ids.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	if _, err := h.sessions.DeleteIdentitySessions(r.Context(), i.ID); err != nil {
		h.errs.Write(w, r, sessionStoreError(err, ""))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
