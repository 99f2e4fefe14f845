package kratos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/lookup"
	"github.com/latchkey/latchkey/method/totp"
	"github.com/latchkey/latchkey/store"
)

// Kratos' batch limits (identity/handler.go).
const (
	BatchMaxPatches            = 1000
	BatchMaxCleartextPasswords = 200
	maxIDsFilter               = 500
)

// CreateIdentityBody is Kratos' createIdentityBody, plus id: a Latchkey
// extension (Kratos' strict decoder refuses the field) so that a migration
// keeps the identity ids apps reference. A given id must be a UUID no
// identity has (400 otherwise, 409 when taken); empty means a new one.
type CreateIdentityBody struct {
	ID                  string                  `json:"id,omitempty"`
	SchemaID            string                  `json:"schema_id"`
	Traits              json.RawMessage         `json:"traits"`
	State               core.IdentityState      `json:"state,omitempty"`
	MetadataPublic      json.RawMessage         `json:"metadata_public,omitempty"`
	MetadataAdmin       json.RawMessage         `json:"metadata_admin,omitempty"`
	ExternalID          string                  `json:"external_id,omitempty"`
	OrganizationID      *string                 `json:"organization_id,omitempty"`
	Region              string                  `json:"region,omitempty"`
	Credentials         *CredentialsBody        `json:"credentials,omitempty"`
	VerifiableAddresses []VerifiableAddressBody `json:"verifiable_addresses,omitempty"`
	RecoveryAddresses   []RecoveryAddressBody   `json:"recovery_addresses,omitempty"`
}

// UpdateIdentityBody is Kratos' updateIdentityBody (PUT).
type UpdateIdentityBody struct {
	SchemaID       string             `json:"schema_id"`
	Traits         json.RawMessage    `json:"traits"`
	State          core.IdentityState `json:"state"`
	MetadataPublic json.RawMessage    `json:"metadata_public,omitempty"`
	MetadataAdmin  json.RawMessage    `json:"metadata_admin,omitempty"`
	ExternalID     string             `json:"external_id,omitempty"`
	Region         string             `json:"region,omitempty"`
	Credentials    *CredentialsBody   `json:"credentials,omitempty"`
}

// CredentialsBody is Kratos' identityWithCredentials. Latchkey imports
// password, oidc, saml, passkey and webauthn credentials; totp and
// lookup_secret are refused with a 400 that says so.
type CredentialsBody struct {
	Password *struct {
		Config PasswordConfigBody `json:"config"`
	} `json:"password,omitempty"`
	OIDC *struct {
		Config ProvidersBody `json:"config"`
	} `json:"oidc,omitempty"`
	SAML *struct {
		Config ProvidersBody `json:"config"`
	} `json:"saml,omitempty"`
	TOTP         json.RawMessage `json:"totp,omitempty"`
	WebAuthn     json.RawMessage `json:"webauthn,omitempty"`
	Passkey      json.RawMessage `json:"passkey,omitempty"`
	LookupSecret json.RawMessage `json:"lookup_secret,omitempty"`
}

// PasswordConfigBody is Kratos' identityWithCredentialsPasswordConfig.
type PasswordConfigBody struct {
	Password         string `json:"password,omitempty"`
	HashedPassword   string `json:"hashed_password,omitempty"`
	UseMigrationHook bool   `json:"use_password_migration_hook,omitempty"`
}

// ProvidersBody is Kratos' identityWithCredentialsOidcConfig.
type ProvidersBody struct {
	Providers []ProviderBody `json:"providers"`
}

// ProviderBody is Kratos' identityWithCredentialsOidcConfigProvider.
type ProviderBody struct {
	Provider     string  `json:"provider"`
	Subject      string  `json:"subject"`
	Organization *string `json:"organization,omitempty"`
	UseAutoLink  bool    `json:"use_auto_link,omitempty"`
}

// VerifiableAddressBody is an imported verifiableIdentityAddress; id and
// timestamps are accepted and ignored.
type VerifiableAddressBody struct {
	ID         string             `json:"id,omitempty"`
	Value      string             `json:"value"`
	Verified   bool               `json:"verified"`
	Via        core.AddressVia    `json:"via"`
	Status     core.AddressStatus `json:"status"`
	VerifiedAt *time.Time         `json:"verified_at,omitempty"`
	CreatedAt  *time.Time         `json:"created_at,omitempty"`
	UpdatedAt  *time.Time         `json:"updated_at,omitempty"`
}

// RecoveryAddressBody is an imported recoveryIdentityAddress.
type RecoveryAddressBody struct {
	ID                       string          `json:"id,omitempty"`
	Value                    string          `json:"value"`
	Via                      core.AddressVia `json:"via"`
	BreakGlassForOrganizaton *string         `json:"break_glass_for_organization,omitempty"`
	CreatedAt                *time.Time      `json:"created_at,omitempty"`
	UpdatedAt                *time.Time      `json:"updated_at,omitempty"`
}

// credentialsDraft converts the credentials of a body.
func (c *CredentialsBody) draft() (*identity.CredentialsDraft, error) {
	if c == nil {
		return nil, nil
	}
	d := &identity.CredentialsDraft{}
	for _, kind := range []struct {
		name string
		raw  json.RawMessage
	}{{"passkey", c.Passkey}, {"webauthn", c.WebAuthn}} {
		list, err := webauthnImport(kind.name, kind.raw)
		if err != nil {
			return nil, err
		}
		d.WebAuthn = append(d.WebAuthn, list...)
	}
	if c.Password != nil {
		d.Password = &identity.PasswordDraft{Password: c.Password.Config.Password,
			HashedPassword: c.Password.Config.HashedPassword, UseMigrationHook: c.Password.Config.UseMigrationHook}
	}
	conv := func(ps []ProviderBody) []identity.OIDCProvider {
		out := make([]identity.OIDCProvider, 0, len(ps))
		for _, p := range ps {
			op := identity.OIDCProvider{Provider: p.Provider, Subject: p.Subject, UseAutoLink: p.UseAutoLink}
			if p.Organization != nil {
				op.Organization = *p.Organization
			}
			out = append(out, op)
		}
		return out
	}
	if c.OIDC != nil {
		d.OIDC = conv(c.OIDC.Config.Providers)
	}
	if c.SAML != nil {
		d.SAML = conv(c.SAML.Config.Providers)
	}
	return d, nil
}

func (b *CreateIdentityBody) draft() (identity.Draft, error) {
	if b.SchemaID == "" {
		return identity.Draft{}, &core.Error{Code: core.CodeInvalid, Field: "schema_id", Message: "The field schema_id is required."}
	}
	creds, err := b.Credentials.draft()
	if err != nil {
		return identity.Draft{}, err
	}
	d := identity.Draft{ID: b.ID, SchemaID: b.SchemaID, Traits: b.Traits, State: b.State,
		MetadataPublic: b.MetadataPublic, MetadataAdmin: b.MetadataAdmin, ExternalID: b.ExternalID,
		Credentials: creds}
	if b.OrganizationID != nil {
		d.OrganizationID = *b.OrganizationID
	}
	for _, a := range b.VerifiableAddresses {
		d.VerifiableAddresses = append(d.VerifiableAddresses, identity.AddressDraft{
			Via: a.Via, Value: a.Value, Verified: a.Verified, VerifiedAt: a.VerifiedAt, Status: a.Status})
	}
	for _, a := range b.RecoveryAddresses {
		d.RecoveryAddresses = append(d.RecoveryAddresses, identity.AddressDraft{Via: a.Via, Value: a.Value})
	}
	return d, nil
}

func (b *CreateIdentityBody) hasCleartextPassword() bool {
	return b.Credentials != nil && b.Credentials.Password != nil &&
		b.Credentials.Password.Config.Password != "" && b.Credentials.Password.Config.HashedPassword == ""
}

// includeCredentials parses include_credential (repeatable).
func includeCredentials(r *http.Request) ([]core.CredentialType, error) {
	var out []core.CredentialType
	for _, v := range r.URL.Query()["include_credential"] {
		for _, part := range strings.Split(v, ",") {
			t := core.CredentialType(strings.TrimSpace(part))
			if t == "" {
				continue
			}
			if !t.Valid() {
				return nil, &core.Error{Code: core.CodeInvalid, Field: "include_credential",
					Message: fmt.Sprintf("include_credential=%q is not a credential type.", t)}
			}
			out = append(out, t)
		}
	}
	return out, nil
}

func (h *Handler) view(ctx context.Context, i *core.Identity, include []core.CredentialType) (IdentityJSON, error) {
	v := NewIdentityJSON(i, h.public, true, include, h.dec)
	return v, h.addWebAuthnCredentials(ctx, &v, i, include)
}

// writeView answers an identity's admin view with status.
func (h *Handler) writeView(w http.ResponseWriter, r *http.Request, status int, i *core.Identity, include []core.CredentialType) {
	v, err := h.view(r.Context(), i, include)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	api.WriteJSON(w, status, v)
}

// createIdentity serves POST /admin/identities.
func (h *Handler) createIdentity(w http.ResponseWriter, r *http.Request) {
	h.limitBody(w, r, 1)
	var b CreateIdentityBody
	if err := api.DecodeJSON(r, &b); err != nil {
		h.errs.Write(w, r, err)
		return
	}
	d, err := b.draft()
	if err == nil {
		err = h.sealSecondFactors(&d, b.Credentials)
	}
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	i, err := h.ids.Create(r.Context(), d)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	w.Header().Set("Location", strings.TrimRight(h.public, "/")+"/admin/identities/"+i.ID)
	h.writeView(w, r, http.StatusCreated, i, nil)
}

// getIdentity serves GET /admin/identities/{id}.
func (h *Handler) getIdentity(w http.ResponseWriter, r *http.Request) {
	include, err := includeCredentials(r)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	i, err := h.ids.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	h.writeView(w, r, http.StatusOK, i, include)
}

// getIdentityByExternalID serves GET /admin/identities/by/external/{externalID}.
func (h *Handler) getIdentityByExternalID(w http.ResponseWriter, r *http.Request) {
	include, err := includeCredentials(r)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	i, err := h.ids.GetByExternalID(r.Context(), r.PathValue("externalID"))
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	h.writeView(w, r, http.StatusOK, i, include)
}

// listIdentities serves GET /admin/identities.
func (h *Handler) listIdentities(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	include, err := includeCredentials(r)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	page, err := parseIdentityPage(q)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	sq := store.IdentityQuery{
		CredentialIdentifier: q.Get("credentials_identifier"),
		IdentifierPrefix:     q.Get("preview_credentials_identifier_similar"),
		WithCredentials:      true,
	}
	if sq.CredentialIdentifier != "" && sq.IdentifierPrefix != "" {
		h.errs.Write(w, r, core.Errorf(core.CodeInvalid, "Use either credentials_identifier or preview_credentials_identifier_similar, not both."))
		return
	}
	switch c := q.Get("consistency"); c {
	case "", "strong", "eventual":
	default:
		h.errs.Write(w, r, &core.Error{Code: core.CodeInvalid, Field: "consistency",
			Message: fmt.Sprintf("consistency=%q is not valid; use strong or eventual.", c)})
		return
	}
	if org := q.Get("organization_id"); org != "" {
		u, ok := core.ParseID(org)
		if !ok {
			h.errs.Write(w, r, &core.Error{Code: core.CodeInvalid, Field: "organization_id",
				Message: fmt.Sprintf("organization_id=%q is not a valid UUID.", org)})
			return
		}
		sq.OrganizationID = u
	}
	ids := q["ids"]
	if len(ids) > maxIDsFilter {
		h.errs.Write(w, r, &core.Error{Code: core.CodeInvalid, Field: "ids",
			Message: fmt.Sprintf("At most %d ids may be listed at once.", maxIDsFilter)})
		return
	}
	for _, id := range ids {
		u, ok := core.ParseID(id)
		if !ok {
			h.errs.Write(w, r, &core.Error{Code: core.CodeInvalid, Field: "ids",
				Message: fmt.Sprintf("ids=%q is not a valid UUID.", id)})
			return
		}
		sq.IDs = append(sq.IDs, u)
	}

	if page.legacy {
		sq.Offset, sq.Limit = page.page*page.size, page.size
		list, err := h.ids.List(r.Context(), sq)
		if err != nil {
			h.errs.Write(w, r, err)
			return
		}
		total, err := h.ids.Count(r.Context(), sq)
		if err != nil {
			h.errs.Write(w, r, err)
			return
		}
		LegacyLinks(w, r, total, page.page, page.size)
		h.writeIdentities(w, r, list, include)
		return
	}
	sq.AfterID, sq.Limit = page.after, page.size+1
	list, err := h.ids.List(r.Context(), sq)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	next := ""
	if len(list) > page.size {
		list = list[:page.size]
		next = list[len(list)-1].ID
	}
	KeysetLinks(w, r, page.size, NilUUID, next)
	h.writeIdentities(w, r, list, include)
}

func (h *Handler) writeIdentities(w http.ResponseWriter, r *http.Request, list []core.Identity, include []core.CredentialType) {
	out := make([]IdentityJSON, len(list))
	for n := range list {
		v, err := h.view(r.Context(), &list[n], include)
		if err != nil {
			h.errs.Write(w, r, err)
			return
		}
		out[n] = v
	}
	api.WriteJSON(w, http.StatusOK, out)
}

// updateIdentity serves PUT /admin/identities/{id}.
func (h *Handler) updateIdentity(w http.ResponseWriter, r *http.Request) {
	h.limitBody(w, r, 1)
	var b UpdateIdentityBody
	if err := api.DecodeJSON(r, &b); err != nil {
		h.errs.Write(w, r, err)
		return
	}
	if b.SchemaID == "" {
		h.errs.Write(w, r, &core.Error{Code: core.CodeInvalid, Field: "schema_id", Message: "The field schema_id is required."})
		return
	}
	creds, err := b.Credentials.draft()
	d := identity.Draft{ID: canonicalUUID(r.PathValue("id")),
		SchemaID: b.SchemaID, Traits: b.Traits, State: b.State, MetadataPublic: b.MetadataPublic,
		MetadataAdmin: b.MetadataAdmin, ExternalID: b.ExternalID, Credentials: creds}
	if err == nil {
		err = h.sealSecondFactors(&d, b.Credentials)
	}
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	d.ID = ""
	i, err := h.ids.Update(r.Context(), r.PathValue("id"), d)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	h.writeView(w, r, http.StatusOK, i, nil)
}

// patchIdentity serves PATCH /admin/identities/{id} (JSON Patch).
func (h *Handler) patchIdentity(w http.ResponseWriter, r *http.Request) {
	h.limitBody(w, r, 1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		h.errs.Write(w, r, &core.Error{Code: core.CodeInvalid,
			Message: fmt.Sprintf("The request body is larger than the limit of %d bytes.", h.maxBody), Cause: err})
		return
	}
	i, err := h.ids.Patch(r.Context(), r.PathValue("id"), body)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	h.writeView(w, r, http.StatusOK, i, nil)
}

// deleteIdentity serves DELETE /admin/identities/{id}.
func (h *Handler) deleteIdentity(w http.ResponseWriter, r *http.Request) {
	if err := h.ids.Delete(r.Context(), r.PathValue("id")); err != nil {
		h.errs.Write(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deleteIdentityCredentials serves DELETE /admin/identities/{id}/credentials/{type}.
func (h *Handler) deleteIdentityCredentials(w http.ResponseWriter, r *http.Request) {
	err := h.ids.DeleteCredential(r.Context(), r.PathValue("id"), core.CredentialType(r.PathValue("type")),
		r.URL.Query().Get("identifier"))
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// BatchPatchBody is Kratos' patchIdentitiesBody.
type BatchPatchBody struct {
	Identities []BatchPatch `json:"identities"`
}

// BatchPatch is Kratos' identityPatch.
type BatchPatch struct {
	Create  *CreateIdentityBody `json:"create,omitempty"`
	PatchID *string             `json:"patch_id,omitempty"`
}

// BatchPatchResult is Kratos' identityPatchResponse.
type BatchPatchResult struct {
	Action   string        `json:"action"`
	Identity string        `json:"identity,omitempty"`
	PatchID  string        `json:"patch_id,omitempty"`
	Error    *GenericError `json:"error,omitempty"`
}

// BatchPatchResponse is Kratos' batchPatchIdentitiesResponse.
type BatchPatchResponse struct {
	Identities []BatchPatchResult `json:"identities"`
}

// batchPatchIdentities serves PATCH /admin/identities: many creates in one
// call, each with its own result.
func (h *Handler) batchPatchIdentities(w http.ResponseWriter, r *http.Request) {
	h.limitBody(w, r, 32)
	var b BatchPatchBody
	if err := api.DecodeJSON(r, &b); err != nil {
		h.errs.Write(w, r, err)
		return
	}
	if len(b.Identities) > BatchMaxPatches {
		h.errs.Write(w, r, &core.Error{Code: core.CodeInvalid, Field: "identities",
			Message: fmt.Sprintf("A batch may hold at most %d patches, but this one has %d; split it.", BatchMaxPatches, len(b.Identities))})
		return
	}
	cleartext := 0
	for n, p := range b.Identities {
		if p.PatchID != nil {
			if _, ok := core.ParseID(*p.PatchID); !ok {
				h.errs.Write(w, r, &core.Error{Code: core.CodeInvalid, Field: fmt.Sprintf("identities.%d.patch_id", n),
					Message: fmt.Sprintf("identities[%d].patch_id %q is not a valid UUID.", n, *p.PatchID)})
				return
			}
		}
		if p.Create != nil && p.Create.hasCleartextPassword() {
			cleartext++
		}
	}
	if cleartext > BatchMaxCleartextPasswords {
		h.errs.Write(w, r, &core.Error{Code: core.CodeInvalid, Field: "identities",
			Message: fmt.Sprintf("A batch may hold at most %d identities with cleartext passwords, but this one has %d; split it or import hashed passwords.", BatchMaxCleartextPasswords, cleartext)})
		return
	}

	results := make([]BatchPatchResult, len(b.Identities))
	drafts := make([]identity.Draft, 0, len(b.Identities))
	index := make([]int, 0, len(b.Identities))
	rid := api.RequestID(r.Context())
	fail := func(n int, err error) {
		g := NewGenericError(err, rid)
		results[n].Action = "error"
		results[n].Error = &g
		if g.Code >= 500 {
			h.errs.Log.ErrorContext(r.Context(), "batch identity create failed", "error", err, "request_id", rid, "row", n)
		}
	}
	for n, p := range b.Identities {
		if p.PatchID != nil {
			results[n].PatchID = *p.PatchID
		}
		if p.Create == nil {
			fail(n, &core.Error{Code: core.CodeInvalid, Message: "This patch has no create action."})
			continue
		}
		d, err := p.Create.draft()
		if err == nil {
			err = h.sealSecondFactors(&d, p.Create.Credentials)
		}
		if err != nil {
			fail(n, err)
			continue
		}
		drafts = append(drafts, d)
		index = append(index, n)
	}
	for k, res := range h.ids.BatchCreate(r.Context(), drafts) {
		n := index[k]
		if res.Err != nil {
			fail(n, res.Err)
			continue
		}
		results[n].Action = "create"
		results[n].Identity = res.Identity.ID
	}
	api.WriteJSON(w, http.StatusOK, BatchPatchResponse{Identities: results})
}

// Encrypter seals secrets at rest (cipher.Cipher satisfies it).
type Encrypter interface {
	Encrypt(plaintext, aad []byte) ([]byte, error)
}

// sealSecondFactors reads imported totp (totp_url) and lookup_secret
// (codes) credentials and puts them, sealed for the identity, into d. A
// new identity gets its id here, as the seal is bound to it. Errors are
// 400s naming the field.
func (h *Handler) sealSecondFactors(d *identity.Draft, c *CredentialsBody) error {
	if c == nil {
		return nil
	}
	present := func(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }
	if !present(c.TOTP) && !present(c.LookupSecret) {
		return nil
	}
	if h.enc == nil {
		return &core.Error{Code: core.CodeInvalid, Field: "credentials",
			Message: "Importing totp and lookup_secret credentials needs the cipher secrets (secrets.cipher) configured."}
	}
	if d.ID == "" {
		d.ID = uuid.NewString()
	}
	if d.Credentials == nil {
		d.Credentials = &identity.CredentialsDraft{}
	}
	d.Credentials.SecondFactors = map[core.CredentialType]json.RawMessage{}
	if present(c.TOTP) {
		var body struct {
			Config struct {
				URL string `json:"totp_url"`
			} `json:"config"`
		}
		if err := json.Unmarshal(c.TOTP, &body); err != nil || body.Config.URL == "" {
			return &core.Error{Code: core.CodeInvalid, Field: "credentials.totp.config.totp_url",
				Message: "Importing a totp credential needs config.totp_url, an otpauth://totp/ URL."}
		}
		k, err := totp.ParseURL(body.Config.URL)
		if err != nil {
			return &core.Error{Code: core.CodeInvalid, Field: "credentials.totp.config.totp_url", Message: core.ErrorMessage(err)}
		}
		cfg, err := totp.SealConfig(h.enc, d.ID, k)
		if err != nil {
			return &core.Error{Code: core.CodeInternal, Message: "Sealing the TOTP key failed.", Cause: err}
		}
		d.Credentials.SecondFactors[core.CredentialTOTP] = cfg
	}
	if present(c.LookupSecret) {
		var body struct {
			Config struct {
				Codes []struct {
					Code   string     `json:"code"`
					UsedAt *time.Time `json:"used_at"`
				} `json:"codes"`
			} `json:"config"`
		}
		if err := json.Unmarshal(c.LookupSecret, &body); err != nil || len(body.Config.Codes) == 0 {
			return &core.Error{Code: core.CodeInvalid, Field: "credentials.lookup_secret.config.codes",
				Message: "Importing a lookup_secret credential needs config.codes, a list of {code, used_at}."}
		}
		codes := make([]lookup.Code, len(body.Config.Codes))
		for n, bc := range body.Config.Codes {
			codes[n] = lookup.Code{Code: bc.Code, UsedAt: bc.UsedAt}
		}
		cfg, err := lookup.SealConfig(h.enc, d.ID, codes)
		if err != nil {
			if core.ErrorCode(err) == core.CodeInvalid {
				return &core.Error{Code: core.CodeInvalid, Field: "credentials.lookup_secret.config.codes", Message: core.ErrorMessage(err)}
			}
			return &core.Error{Code: core.CodeInternal, Message: "Sealing the lookup secrets failed.", Cause: err}
		}
		d.Credentials.SecondFactors[core.CredentialLookupSecret] = cfg
	}
	return nil
}

// canonicalUUID returns id in canonical form, or id itself when it is not a
// UUID (the service then answers 404).
func canonicalUUID(id string) string {
	if u, err := uuid.Parse(id); err == nil {
		return u.String()
	}
	return id
}
