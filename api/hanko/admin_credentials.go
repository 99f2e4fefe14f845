package hanko

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/session"
	"github.com/latchkey/latchkey/store"
)

func (h *Handler) mountAdminCredentials(route func(string, http.HandlerFunc)) {
	route("GET /users/{id}/emails", h.listEmails)
	route("POST /users/{id}/emails", h.createEmail)
	route("GET /users/{id}/emails/{email_id}", h.getEmail)
	route("DELETE /users/{id}/emails/{email_id}", h.deleteEmail)
	route("POST /users/{id}/emails/{email_id}/set_primary", h.setPrimaryEmail)
	route("GET /users/{id}/password", h.getPassword)
	route("POST /users/{id}/password", h.setPassword)
	route("PUT /users/{id}/password", h.setPassword)
	route("DELETE /users/{id}/password", h.deletePassword)
	route("GET /users/{id}/webauthn_credentials", h.listWebauthn)
	route("GET /users/{id}/webauthn_credentials/{credential_id}", h.getWebauthn)
	route("DELETE /users/{id}/webauthn_credentials/{credential_id}", h.deleteWebauthn)
	route("GET /users/{id}/otp", h.getOTP)
	route("DELETE /users/{id}/otp", h.deleteOTP)
	route("GET /users/{id}/sessions", h.listSessions)
	route("DELETE /users/{id}/sessions/{session_id}", h.deleteSession)
	route("POST /sessions", h.createSession)
}

func (h *Handler) listEmails(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	out := []AdminEmailJSON{}
	for _, a := range emails(i) {
		out = append(out, adminEmailJSON(a))
	}
	api.WriteJSON(w, http.StatusOK, out)
}

// findEmail returns the user's e-mail named by {email_id}, or writes 404.
func findEmail(w http.ResponseWriter, r *http.Request, i *core.Identity) (core.Address, bool) {
	id := strings.ToLower(r.PathValue("email_id"))
	for _, a := range emails(i) {
		if a.ID == id {
			return a, true
		}
	}
	writeError(w, http.StatusNotFound, "email not found")
	return core.Address{}, false
}

func (h *Handler) getEmail(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	if a, ok := findEmail(w, r, i); ok {
		api.WriteJSON(w, http.StatusOK, adminEmailJSON(a))
	}
}

// createEmail answers POST /users/{id}/emails with 201: the address is added
// outside the traits, and made primary when asked.
func (h *Handler) createEmail(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	h.limitBody(w, r)
	var b struct {
		Address    string `json:"address"`
		IsPrimary  bool   `json:"is_primary"`
		IsVerified bool   `json:"is_verified"`
	}
	if err := api.DecodeJSON(r, &b); err != nil {
		h.fail(w, r, err)
		return
	}
	addr := strings.ToLower(strings.TrimSpace(b.Address))
	if parsed, err := mail.ParseAddress(addr); err != nil || parsed.Address != addr || parsed.Name != "" ||
		!utf8.ValidString(addr) || strings.ContainsRune(addr, 0) || len(addr) > h.cfg.Email.MaxLength {
		writeError(w, http.StatusBadRequest, "address is not a valid e-mail address")
		return
	}
	if len(emails(i)) >= h.cfg.Email.Limit {
		writeError(w, http.StatusConflict, fmt.Sprintf("the user has the maximum of %d e-mail addresses", h.cfg.Email.Limit))
		return
	}
	ctx := r.Context()
	var created core.Address
	err := h.store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetIdentity(ctx, i.ID)
		if err != nil {
			return err
		}
		now := h.now()
		created = core.Address{ID: h.newID(), IdentityID: cur.ID, Via: core.ViaEmail, Value: addr, Status: core.AddressPending,
			CreatedAt: now, UpdatedAt: now}
		if b.IsVerified {
			created.Verified, created.VerifiedAt, created.Status = true, &now, core.AddressCompleted
		}
		if _, primary := primaryEmail(cur); !primary {
			created.Primary = true
		}
		cur.Addresses = append(cur.Addresses, created)
		if err := tx.UpdateIdentity(ctx, cur); err != nil {
			return err
		}
		if err := h.emitUser(ctx, tx, EventUserUpdateEmailCreate, cur); err != nil {
			return err
		}
		return h.Audit(ctx, tx, r, AuditEmailCreated, cur.ID, addr, nil)
	})
	if errors.Is(err, store.ErrConflict) {
		writeError(w, http.StatusConflict, "the e-mail address is taken")
		return
	}
	if err != nil {
		h.fail(w, r, fmt.Errorf("add e-mail: %w", err))
		return
	}
	if b.IsPrimary && !created.Primary {
		if err := h.makePrimary(r, i.ID, created.ID); err != nil {
			h.fail(w, r, err)
			return
		}
		created.Primary = true
	}
	api.WriteJSON(w, http.StatusCreated, adminEmailJSON(created))
}

// makePrimary makes the user's e-mail emailID primary: it becomes
// traits.email (so the identifiers follow) and the former primary stays as an
// additional address with its verification state.
func (h *Handler) makePrimary(r *http.Request, userID, emailID string) error {
	ctx := r.Context()
	var target string
	// Step 1: mark the old primary as an address outside the traits, so the
	// traits update keeps it instead of dropping it. Until step 2 it is
	// still traits.email; a later update re-flags it, so the state is safe.
	err := h.store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetIdentity(ctx, userID)
		if err != nil {
			return err
		}
		for n := range cur.Addresses {
			a := &cur.Addresses[n]
			if a.ID == emailID {
				target = a.Value
			}
			if a.Via == core.ViaEmail && a.Primary && a.ID != emailID {
				a.Verifiable, a.Recovery = false, false
			}
		}
		if target == "" {
			return store.ErrNotFound
		}
		return tx.UpdateIdentity(ctx, cur)
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return core.Errorf(core.CodeNotFound, "email not found")
		}
		return fmt.Errorf("set primary e-mail: %w", err)
	}
	i, err := h.ids.Get(ctx, userID)
	if err != nil {
		return err
	}
	t := traitsOf(i)
	if t.Email == target {
		return nil
	}
	t.Email = target
	raw, err := withTraits(i.Traits, t)
	if err != nil {
		return err
	}
	u, err := h.ids.Update(ctx, i.ID, identity.Draft{SchemaID: i.SchemaID, Traits: raw, State: i.State,
		MetadataPublic: i.MetadataPublic, MetadataAdmin: i.MetadataAdmin, ExternalID: i.ExternalID, OrganizationID: i.OrganizationID})
	if err != nil {
		return err
	}
	if err := h.emitUser(ctx, h.store, EventUserUpdateEmailPrimary, u); err != nil {
		h.log.ErrorContext(ctx, "hanko: queue webhook", "event", EventUserUpdateEmailPrimary, "error", err)
	}
	h.record(r, AuditPrimaryEmailChanged, u.ID, target, nil)
	return nil
}

func (h *Handler) setPrimaryEmail(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	a, ok := findEmail(w, r, i)
	if !ok {
		return
	}
	if !a.Primary {
		if err := h.makePrimary(r, i.ID, a.ID); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// deleteEmail answers DELETE /users/{id}/emails/{email_id}; the primary
// address cannot be deleted (409).
func (h *Handler) deleteEmail(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	a, ok := findEmail(w, r, i)
	if !ok {
		return
	}
	if a.Primary {
		writeError(w, http.StatusConflict, "the primary e-mail address cannot be deleted")
		return
	}
	ctx := r.Context()
	err := h.store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetIdentity(ctx, i.ID)
		if err != nil {
			return err
		}
		kept := cur.Addresses[:0]
		for _, x := range cur.Addresses {
			if x.ID != a.ID {
				kept = append(kept, x)
			}
		}
		cur.Addresses = kept
		if err := tx.UpdateIdentity(ctx, cur); err != nil {
			return err
		}
		if err := h.emitUser(ctx, tx, EventUserUpdateEmailDelete, cur); err != nil {
			return err
		}
		return h.Audit(ctx, tx, r, AuditEmailDeleted, cur.ID, a.Value, nil)
	})
	if err != nil {
		h.fail(w, r, fmt.Errorf("delete e-mail: %w", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) getPassword(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	p := passwordJSON(i)
	if p == nil {
		writeError(w, http.StatusNotFound, "password not found")
		return
	}
	api.WriteJSON(w, http.StatusOK, p)
}

// setPassword answers POST (create; 409 when one exists) and PUT (update; 404
// when none exists) /users/{id}/password {"password"}.
func (h *Handler) setPassword(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	h.limitBody(w, r)
	var b struct {
		Password string `json:"password"`
	}
	if err := api.DecodeJSON(r, &b); err != nil {
		h.fail(w, r, err)
		return
	}
	exists := passwordJSON(i) != nil
	if r.Method == http.MethodPost && exists {
		writeError(w, http.StatusConflict, "the user has a password already")
		return
	}
	if r.Method == http.MethodPut && !exists {
		writeError(w, http.StatusNotFound, "password not found")
		return
	}
	t := traitsOf(i)
	if err := h.policy.Check(b.Password, t.Email, t.Username); err != nil {
		h.record(r, AuditPasswordSetFailed, i.ID, t.Email, err)
		h.fail(w, r, err)
		return
	}
	u, err := h.ids.Update(r.Context(), i.ID, identity.Draft{SchemaID: i.SchemaID, Traits: i.Traits, State: i.State,
		MetadataPublic: i.MetadataPublic, MetadataAdmin: i.MetadataAdmin, ExternalID: i.ExternalID, OrganizationID: i.OrganizationID,
		Credentials: &identity.CredentialsDraft{Password: &identity.PasswordDraft{Password: b.Password}}})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.record(r, AuditPasswordChanged, u.ID, t.Email, nil)
	api.WriteJSON(w, http.StatusOK, passwordJSON(u))
}

func (h *Handler) deletePassword(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	if passwordJSON(i) == nil {
		writeError(w, http.StatusNotFound, "password not found")
		return
	}
	if err := h.ids.DeleteCredential(r.Context(), i.ID, core.CredentialPassword, ""); err != nil {
		h.fail(w, r, err)
		return
	}
	h.record(r, AuditPasswordDeleted, i.ID, traitsOf(i).Email, nil)
	w.WriteHeader(http.StatusNoContent)
}

// listWebauthn lists the user's passkeys and security keys.
func (h *Handler) listWebauthn(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	creds, err := webauthnCredentials(r.Context(), h.store, i.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pk, sk := webauthnJSON(creds)
	api.WriteJSON(w, http.StatusOK, append(append([]WebauthnCredentialJSON{}, pk...), sk...))
}

// userWebauthn returns the user's credential named by the path, or answers
// 404.
func (h *Handler) userWebauthn(w http.ResponseWriter, r *http.Request) (*core.WebAuthnCredential, bool) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return nil, false
	}
	c, err := h.store.GetWebAuthnCredential(r.Context(), r.PathValue("credential_id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.IdentityID != i.ID) {
		writeError(w, http.StatusNotFound, "webauthn credential not found")
		return nil, false
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	return c, true
}

// getWebauthn answers GET /users/{id}/webauthn_credentials/{credential_id}.
func (h *Handler) getWebauthn(w http.ResponseWriter, r *http.Request) {
	if c, ok := h.userWebauthn(w, r); ok {
		api.WriteJSON(w, http.StatusOK, webauthnCredentialJSON(*c))
	}
}

// deleteWebauthn answers DELETE /users/{id}/webauthn_credentials/{credential_id}
// with 204: the credential goes for both faces (one store). With the
// user's last security key goes every session's claim to one, in the same
// transaction.
func (h *Handler) deleteWebauthn(w http.ResponseWriter, r *http.Request) {
	c, ok := h.userWebauthn(w, r)
	if !ok {
		return
	}
	err := h.store.Update(r.Context(), func(tx store.Tx) error {
		if err := tx.DeleteWebAuthnCredential(r.Context(), c.IdentityID, c.ID); err != nil {
			return err
		}
		if !c.MFAOnly {
			return nil
		}
		list, err := tx.ListWebAuthnCredentials(r.Context(), c.IdentityID)
		if err != nil {
			return err
		}
		if len(securityKeysOf(list)) > 0 {
			return nil
		}
		_, err = identity.DropSessionMethod(r.Context(), tx, c.IdentityID, string(core.CredentialWebAuthn), h.now())
		return err
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "webauthn credential not found")
			return
		}
		h.fail(w, r, err)
		return
	}
	h.record(r, AuditPasskeyDeleted, c.IdentityID, "", nil)
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) getOTP(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	o := otpJSON(i)
	if o == nil {
		writeError(w, http.StatusNotFound, "otp secret not found")
		return
	}
	api.WriteJSON(w, http.StatusOK, o)
}

func (h *Handler) deleteOTP(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	if otpJSON(i) == nil {
		writeError(w, http.StatusNotFound, "otp secret not found")
		return
	}
	if err := h.ids.DeleteCredential(r.Context(), i.ID, core.CredentialTOTP, ""); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// adminSessionJSON is a session as the admin API shows it.
type adminSessionJSON struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	UserAgent string    `json:"user_agent,omitempty"`
	IPAddress string    `json:"ip_address,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	LastUsed  time.Time `json:"last_used"`
	ExpiresAt time.Time `json:"expires_at"`
}

func adminSession(s core.Session) adminSessionJSON {
	d := sessionEventData(&s)
	return adminSessionJSON{ID: s.ID, UserID: s.IdentityID, UserAgent: d.UserAgent, IPAddress: d.IPAddress,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, LastUsed: s.UpdatedAt, ExpiresAt: s.ExpiresAt}
}

// listSessions answers GET /users/{id}/sessions with the active ones.
func (h *Handler) listSessions(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	active := true
	list, err := h.store.ListSessions(r.Context(), store.SessionQuery{IdentityID: i.ID, Active: &active, Now: h.now()})
	if err != nil {
		h.fail(w, r, fmt.Errorf("list sessions: %w", err))
		return
	}
	out := make([]adminSessionJSON, 0, len(list))
	for _, s := range list {
		out = append(out, adminSession(s))
	}
	api.WriteJSON(w, http.StatusOK, out)
}

// deleteSession answers DELETE /users/{id}/sessions/{session_id}: the row is
// revoked, ending the session for both faces.
func (h *Handler) deleteSession(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	sid, ok := core.ParseID(r.PathValue("session_id"))
	if !ok {
		writeError(w, http.StatusBadRequest, "session_id is not a valid UUID")
		return
	}
	s, err := h.sessions.Session(r.Context(), sid)
	if err != nil || s.IdentityID != i.ID {
		writeError(w, http.StatusNotFound, "session not found")
		return
	}
	if err := h.sessions.Revoke(r.Context(), s.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.emit(r.Context(), h.store, EventSessionDelete, sessionEventData(s)); err != nil {
		h.log.ErrorContext(r.Context(), "hanko: queue session.delete webhook", "error", err)
	}
	w.WriteHeader(http.StatusNoContent)
}

// createSession answers POST /sessions {user_id, user_agent?, ip_address?}
// with {"session_token": <JWT>} for a new session of the user.
func (h *Handler) createSession(w http.ResponseWriter, r *http.Request) {
	h.limitBody(w, r)
	var b struct {
		UserID    string `json:"user_id"`
		UserAgent string `json:"user_agent"`
		IPAddress string `json:"ip_address"`
	}
	if err := api.DecodeJSON(r, &b); err != nil {
		h.fail(w, r, err)
		return
	}
	uid, ok := core.ParseID(b.UserID)
	if !ok {
		writeError(w, http.StatusBadRequest, "user_id is not a valid UUID")
		return
	}
	ctx := r.Context()
	i, err := h.ids.Get(ctx, uid)
	if err != nil {
		if core.ErrorCode(err) == core.CodeNotFound {
			writeError(w, http.StatusNotFound, "user not found")
			return
		}
		h.fail(w, r, err)
		return
	}
	token, err := h.adminSession(ctx, i, core.Device{IPAddress: b.IPAddress, UserAgent: b.UserAgent})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, map[string]string{"session_token": token})
}

// adminSession issues a session on an operator's behalf: no credential was
// checked, so the row records the method "admin" and the JWT has no amr.
func (h *Handler) adminSession(ctx context.Context, i *core.Identity, dev core.Device) (string, error) {
	s, _, err := h.sessions.Issue(ctx, i.ID, core.AuthMethod{Method: "admin", AAL: core.AAL1}, dev, h.cfg.Session.Lifespan)
	if err != nil {
		return "", fmt.Errorf("issue session: %w", err)
	}
	c := session.Claims{Subject: i.ID, SessionID: s.ID, Issuer: h.jwt.Issuer, Audience: h.jwt.Audience,
		IssuedAt: h.now(), ExpiresAt: s.ExpiresAt, Extra: map[string]any{}}
	if e := emailClaim(i); e != nil {
		c.Extra["email"] = e
	}
	if u := traitsOf(i).Username; u != "" {
		c.Extra["username"] = u
	}
	token, err := h.keys.SignJWT(ctx, c)
	if err != nil {
		return "", fmt.Errorf("sign session JWT: %w", err)
	}
	if err := h.emit(ctx, h.store, EventSessionCreate, sessionEventData(s)); err != nil {
		h.log.ErrorContext(ctx, "hanko: queue session.create webhook", "error", err)
	}
	return token, nil
}
