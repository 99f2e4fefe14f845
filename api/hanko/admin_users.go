package hanko

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/store"
)

func (h *Handler) mountAdminUsers(route func(string, http.HandlerFunc)) {
	route("GET /users", h.listUsers)
	route("POST /users", h.createUser)
	route("GET /users/{id}", h.getUser)
	route("PATCH /users/{id}", h.patchUser)
	route("DELETE /users/{id}", h.deleteUser)
	route("GET /users/{id}/metadata", h.getMetadata)
	route("PATCH /users/{id}/metadata", h.patchMetadata)
}

// userID returns the canonical form of the {id} path value, or writes 400.
func (h *Handler) userID(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	id, ok := core.ParseID(r.PathValue(name))
	if !ok {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%s is not a valid UUID", name))
		return "", false
	}
	return id, true
}

// loadUser returns the identity named by the {id} path value, or writes
// 400/404 and returns false.
func (h *Handler) loadUser(w http.ResponseWriter, r *http.Request) (*core.Identity, bool) {
	id, ok := h.userID(w, r, "id")
	if !ok {
		return nil, false
	}
	i, err := h.ids.Get(r.Context(), id)
	if err != nil {
		if core.ErrorCode(err) == core.CodeNotFound {
			writeError(w, http.StatusNotFound, "user not found")
		} else {
			h.fail(w, r, err)
		}
		return nil, false
	}
	return i, true
}

// paging reads page and per_page (defaults 1 and 20, per_page at most 1000),
// or writes 400.
func paging(w http.ResponseWriter, r *http.Request) (page, perPage int, ok bool) {
	page, perPage = 1, 20
	q := r.URL.Query()
	for name, dst := range map[string]*int{"page": &page, "per_page": &perPage} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				writeError(w, http.StatusBadRequest, name+" must be a positive integer")
				return 0, 0, false
			}
			*dst = n
		}
	}
	if perPage > 1000 {
		perPage = 1000
	}
	return page, perPage, true
}

// writePageHeaders sets X-Total-Count and a Link header with first, prev,
// next and last pages (RFC 8288), as Hanko's admin API does.
func writePageHeaders(w http.ResponseWriter, r *http.Request, total, page, perPage int) {
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	last := (total + perPage - 1) / perPage
	if last < 1 {
		last = 1
	}
	link := func(p int, rel string) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	links := []string{link(1, "first")}
	if page > 1 {
		links = append(links, link(min(page-1, last), "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"))
	}
	links = append(links, link(last, "last"))
	w.Header().Set("Link", strings.Join(links, ","))
}

// listUsers answers GET /users: users in id order (ascending, or descending
// with sort_direction=desc), filtered by user_id (comma-separated), email
// (any of the user's addresses) or username, paged by page and per_page.
func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) {
	page, perPage, ok := paging(w, r)
	if !ok {
		return
	}
	qs := r.URL.Query()
	dir := qs.Get("sort_direction")
	if dir != "" && dir != "asc" && dir != "desc" {
		writeError(w, http.StatusBadRequest, "sort_direction must be asc or desc")
		return
	}
	var q store.IdentityQuery
	if v := qs.Get("user_id"); v != "" {
		for _, s := range strings.Split(v, ",") {
			id, ok := core.ParseID(strings.TrimSpace(s))
			if !ok {
				writeError(w, http.StatusBadRequest, "user_id must be a UUID or a comma-separated list of UUIDs")
				return
			}
			q.IDs = append(q.IDs, id)
		}
	}
	ctx := r.Context()
	if v := qs.Get("email"); v != "" {
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			// No address has these, and PostgreSQL refuses to compare them.
			h.writeUsers(w, r, nil, 0, page, perPage)
			return
		}
		i, err := h.store.FindIdentityByAddress(ctx, core.ViaEmail, strings.ToLower(strings.TrimSpace(v)))
		switch {
		case errors.Is(err, store.ErrNotFound):
			h.writeUsers(w, r, nil, 0, page, perPage)
			return
		case err != nil:
			h.fail(w, r, fmt.Errorf("find user by email: %w", err))
			return
		}
		if len(q.IDs) > 0 && !contains(q.IDs, i.ID) {
			h.writeUsers(w, r, nil, 0, page, perPage)
			return
		}
		q.IDs = []string{i.ID}
	}
	if v := qs.Get("username"); v != "" {
		q.CredentialIdentifier = strings.ToLower(strings.TrimSpace(v))
		q.CredentialType = core.CredentialPassword
	}
	total, err := h.ids.Count(ctx, q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q.Offset, q.Limit = (page-1)*perPage, perPage
	if dir == "desc" {
		// Page p of the descending order is a window counted from the end
		// of the ascending one.
		end := total - (page-1)*perPage
		start := max(end-perPage, 0)
		q.Offset, q.Limit = start, end-start
		if end <= 0 {
			h.writeUsers(w, r, nil, total, page, perPage)
			return
		}
	}
	list, err := h.ids.List(ctx, q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if q.CredentialIdentifier != "" {
		// The identifier index also holds e-mail addresses; keep users
		// whose username it is.
		kept := list[:0]
		for _, i := range list {
			if strings.EqualFold(traitsOf(&i).Username, q.CredentialIdentifier) {
				kept = append(kept, i)
			}
		}
		list = kept
	}
	if dir == "desc" {
		for a, b := 0, len(list)-1; a < b; a, b = a+1, b-1 {
			list[a], list[b] = list[b], list[a]
		}
	}
	h.writeUsers(w, r, list, total, page, perPage)
}

func (h *Handler) writeUsers(w http.ResponseWriter, r *http.Request, list []core.Identity, total, page, perPage int) {
	out := make([]AdminUserJSON, 0, len(list))
	for n := range list {
		creds, err := webauthnCredentials(r.Context(), h.store, list[n].ID)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		out = append(out, adminUserJSON(&list[n], creds))
	}
	writePageHeaders(w, r, total, page, perPage)
	api.WriteJSON(w, http.StatusOK, out)
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// createUserBody is POST /users.
type createUserBody struct {
	ID     string `json:"id"`
	Emails []struct {
		Address    string `json:"address"`
		IsPrimary  bool   `json:"is_primary"`
		IsVerified bool   `json:"is_verified"`
	} `json:"emails"`
	Username  *string   `json:"username"`
	CreatedAt time.Time `json:"created_at"`
}

// createUser answers POST /users: a new identity with the default schema
// whose primary e-mail is traits.email and whose other e-mails are extra
// addresses. It queues user.create and records user_created.
func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) {
	h.limitBody(w, r)
	var b createUserBody
	if err := api.DecodeJSON(r, &b); err != nil {
		h.fail(w, r, err)
		return
	}
	var wantID string
	if b.ID != "" {
		id, ok := core.ParseID(b.ID)
		if !ok {
			writeError(w, http.StatusBadRequest, "id is not a valid UUID")
			return
		}
		wantID = id
	}
	var t traits
	primaries := 0
	seen := map[string]bool{}
	type extra struct {
		address  string
		verified bool
	}
	var extras []extra
	primaryVerified := false
	if len(b.Emails) > h.cfg.Email.Limit {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("a user may have at most %d e-mail addresses", h.cfg.Email.Limit))
		return
	}
	for _, e := range b.Emails {
		addr := strings.ToLower(strings.TrimSpace(e.Address))
		if addr == "" || !strings.Contains(addr, "@") || len(addr) > h.cfg.Email.MaxLength {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a valid e-mail address", e.Address))
			return
		}
		if seen[addr] {
			writeError(w, http.StatusBadRequest, "e-mail addresses must be unique")
			return
		}
		seen[addr] = true
		if e.IsPrimary {
			primaries++
			t.Email, primaryVerified = addr, e.IsVerified
			continue
		}
		extras = append(extras, extra{addr, e.IsVerified})
	}
	if len(b.Emails) > 0 && primaries != 1 {
		writeError(w, http.StatusBadRequest, "exactly one e-mail address must be primary")
		return
	}
	if b.Username != nil {
		t.Username = strings.TrimSpace(*b.Username)
	}
	raw, err := withTraits(nil, t)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx := r.Context()
	// One transaction, as Kratos' admin create: the identity with every
	// address inserted once, its audit log and its user.create event. (A
	// new user has no WebAuthn credentials to list.)
	p, err := h.ids.Prepare(ctx, identity.Draft{Traits: raw})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	i := p.Identity()
	now := h.now()
	for n := range i.Addresses {
		if a := &i.Addresses[n]; a.Via == core.ViaEmail && a.Value == t.Email && primaryVerified {
			a.Verified, a.VerifiedAt, a.Status, a.UpdatedAt = true, &now, core.AddressCompleted, now
		}
	}
	for _, e := range extras {
		a := core.Address{ID: h.newID(), IdentityID: i.ID, Via: core.ViaEmail, Value: e.address, Status: core.AddressPending,
			CreatedAt: now, UpdatedAt: now}
		if e.verified {
			a.Verified, a.VerifiedAt, a.Status = true, &now, core.AddressCompleted
		}
		i.Addresses = append(i.Addresses, a)
	}
	rekey(i, wantID, b.CreatedAt.UTC())
	// The event's data and the answer are the same view of the new user.
	var view AdminUserJSON
	err = h.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateIdentity(ctx, i); err != nil {
			return err
		}
		view = adminUserJSON(i, []core.WebAuthnCredential{})
		if err := h.emit(ctx, tx, EventUserCreate, view); err != nil {
			return err
		}
		return h.Audit(ctx, tx, r, AuditUserCreated, i.ID, t.Email, nil)
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			writeError(w, http.StatusConflict, "a user with this id, e-mail address or username exists already")
			return
		}
		h.fail(w, r, fmt.Errorf("create user: %w", err))
		return
	}
	api.WriteJSON(w, http.StatusOK, view)
}

// rekey gives i (with its addresses) another id and creation time, for
// POST /users with an explicit id or created_at.
func rekey(i *core.Identity, id string, createdAt time.Time) {
	if id != "" {
		i.ID = id
		for n := range i.Addresses {
			i.Addresses[n].IdentityID = id
		}
	}
	if !createdAt.IsZero() {
		i.CreatedAt = createdAt
	}
}

// getUser answers GET /users/{id}.
func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	h.writeAdminUser(w, r, i)
}

// patchUser answers PATCH /users/{id}: username, name, given_name,
// family_name and picture; null removes one, an absent key keeps it.
func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	h.limitBody(w, r)
	var body map[string]*string
	if err := api.DecodeJSONLax(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	t := traitsOf(i)
	oldUsername := t.Username
	for k, v := range body {
		val := ""
		if v != nil {
			val = strings.TrimSpace(*v)
		}
		switch k {
		case "username":
			t.Username = val
		case "name":
			t.Name = val
		case "given_name":
			t.GivenName = val
		case "family_name":
			t.FamilyName = val
		case "picture":
			if val != "" {
				u, err := url.Parse(val)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
					writeError(w, http.StatusBadRequest, "picture must be a public http(s) URL without credentials")
					return
				}
			}
			t.Picture = val
		default:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown field %q", k))
			return
		}
	}
	raw, err := withTraits(i.Traits, t)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := h.ids.Update(r.Context(), i.ID, identity.Draft{SchemaID: i.SchemaID, Traits: raw, State: i.State,
		MetadataPublic: i.MetadataPublic, MetadataAdmin: i.MetadataAdmin, ExternalID: i.ExternalID, OrganizationID: i.OrganizationID})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ev, audit := EventUserUpdate, AuditType("")
	switch {
	case oldUsername == "" && t.Username != "":
		ev, audit = EventUserUpdateUsernameCreate, AuditUsernameChanged
	case oldUsername != "" && t.Username == "":
		ev, audit = EventUserUpdateUsernameDelete, AuditUsernameDeleted
	case oldUsername != t.Username:
		ev, audit = EventUserUpdateUsernameUpdate, AuditUsernameChanged
	}
	if err := h.emitUser(r.Context(), h.store, ev, u); err != nil {
		h.log.ErrorContext(r.Context(), "hanko: queue webhook", "event", ev, "error", err)
	}
	if audit != "" {
		h.record(r, audit, u.ID, t.Email, nil)
	}
	h.writeAdminUser(w, r, u)
}

// deleteUser answers DELETE /users/{id} with 204, removing the identity with
// its credentials and sessions; it queues user.delete.
func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	if err := h.ids.Delete(r.Context(), i.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.emitUser(r.Context(), h.store, EventUserDelete, i); err != nil {
		h.log.ErrorContext(r.Context(), "hanko: queue user.delete webhook", "error", err)
	}
	h.record(r, AuditUserDeleted, i.ID, traitsOf(i).Email, nil)
	w.WriteHeader(http.StatusNoContent)
}

// getMetadata answers GET /users/{id}/metadata: 200 with the three kinds,
// or 204 when the user has none.
func (h *Handler) getMetadata(w http.ResponseWriter, r *http.Request) {
	i, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	m := metadataJSON(i, true)
	if m == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	api.WriteJSON(w, http.StatusOK, m)
}

// patchMetadata answers PATCH /users/{id}/metadata: each of
// public_metadata, private_metadata and unsafe_metadata is JSON-merge-patched
// (RFC 7386) into the stored one; null clears a kind, a null body clears
// all, {} changes nothing; unknown top-level keys are ignored.
func (h *Handler) patchMetadata(w http.ResponseWriter, r *http.Request) {
	id, ok := h.userID(w, r, "id")
	if !ok {
		return
	}
	h.limitBody(w, r)
	var raw json.RawMessage
	if err := api.DecodeJSONLax(r, &raw); err != nil {
		h.fail(w, r, err)
		return
	}
	raw = bytes.TrimSpace(raw)
	clearAll := bytes.Equal(raw, []byte("null"))
	var body map[string]json.RawMessage
	if !clearAll {
		if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &body) != nil {
			writeError(w, http.StatusBadRequest, "the body must be a JSON object or null")
			return
		}
	}
	ctx := r.Context()
	var out *core.Identity
	err := h.store.Update(ctx, func(tx store.Tx) error {
		i, err := tx.GetIdentity(ctx, id)
		if err != nil {
			return err
		}
		for key, field := range map[string]*json.RawMessage{"public_metadata": &i.MetadataPublic,
			"private_metadata": &i.MetadataAdmin, "unsafe_metadata": &i.MetadataUnsafe} {
			if clearAll {
				*field = nil
				continue
			}
			p, present := body[key]
			if !present {
				continue
			}
			merged, err := mergeMetadata(*field, p)
			if err != nil {
				return &core.Error{Code: core.CodeInvalid, Message: key + " must be a JSON object or null", Cause: err}
			}
			*field = merged
		}
		i.UpdatedAt = h.now()
		if err := tx.UpdateIdentity(ctx, i); err != nil {
			return err
		}
		if err := h.emitUser(ctx, tx, EventUserUpdate, i); err != nil {
			return err
		}
		out = i
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "user not found")
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	m := metadataJSON(out, true)
	if m == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	api.WriteJSON(w, http.StatusOK, m)
}

// mergeMetadata merges patch (an object or null) into doc; an empty result
// is stored as no metadata.
func mergeMetadata(doc, patch json.RawMessage) (json.RawMessage, error) {
	p := bytes.TrimSpace(patch)
	if bytes.Equal(p, []byte("null")) {
		return nil, nil
	}
	if len(p) == 0 || p[0] != '{' {
		return nil, errors.New("not an object")
	}
	base := nonNull(doc)
	if base == nil {
		base = json.RawMessage("{}")
	}
	merged, err := jsonpatch.MergePatch(base, p)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(bytes.TrimSpace(merged), []byte("{}")) {
		return nil, nil
	}
	return merged, nil
}

// writeAdminUser answers with i as the admin API shows it.
func (h *Handler) writeAdminUser(w http.ResponseWriter, r *http.Request, i *core.Identity) {
	creds, err := webauthnCredentials(r.Context(), h.store, i.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, adminUserJSON(i, creds))
}
