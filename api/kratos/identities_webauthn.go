package kratos

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
)

// The admin API's view of WebAuthn credentials. Passkeys and security keys
// live in the store's one WebAuthn table (shared with the Hanko face), not
// in core.Identity; Kratos shows them as the credentials "passkey"
// (discoverable, first factor: MFAOnly false) and "webauthn" (security
// keys: MFAOnly true), each with the config shape of Kratos'
// identity.CredentialsWebAuthnConfig when include_credential asks for it.

// WebAuthnLister lists an identity's WebAuthn credentials (store.Store
// satisfies it).
type WebAuthnLister interface {
	ListWebAuthnCredentials(ctx context.Context, identityID string) ([]core.WebAuthnCredential, error)
}

// webauthnConfigJSON is Kratos' CredentialsWebAuthnConfig. Byte fields are
// base64 (standard, padded) as Kratos' JSON encoder writes []byte.
type webauthnConfigJSON struct {
	Credentials []webauthnCredentialJSON `json:"credentials"`
	UserHandle  []byte                   `json:"user_handle"`
}

type webauthnCredentialJSON struct {
	ID              []byte                `json:"id"`
	PublicKey       []byte                `json:"public_key"`
	AttestationType string                `json:"attestation_type"`
	Authenticator   webauthnAuthenticator `json:"authenticator"`
	DisplayName     string                `json:"display_name"`
	AddedAt         time.Time             `json:"added_at"`
	IsPasswordless  bool                  `json:"is_passwordless"`
	Flags           webauthnFlags         `json:"flags"`
	Transport       []string              `json:"transport"`
}

type webauthnAuthenticator struct {
	AAGUID       []byte `json:"aaguid"`
	SignCount    uint32 `json:"sign_count"`
	CloneWarning bool   `json:"clone_warning"`
}

type webauthnFlags struct {
	UserPresent    bool `json:"user_present"`
	UserVerified   bool `json:"user_verified"`
	BackupEligible bool `json:"backup_eligible"`
	BackupState    bool `json:"backup_state"`
}

// addWebAuthnCredentials adds the identity's passkey and webauthn entries to
// an admin view (config only for the types include names).
func (h *Handler) addWebAuthnCredentials(ctx context.Context, v *IdentityJSON, i *core.Identity, include []core.CredentialType) error {
	if h.webauthn == nil || v.Credentials == nil {
		return nil
	}
	list, err := h.webauthn.ListWebAuthnCredentials(ctx, i.ID)
	if err != nil {
		return &core.Error{Code: core.CodeInternal, Message: "Loading the identity's WebAuthn credentials failed.", Cause: err}
	}
	for _, kind := range []struct {
		t       core.CredentialType
		mfaOnly bool
		version int
	}{{core.CredentialPasskey, false, 0}, {core.CredentialWebAuthn, true, 1}} {
		var cfg webauthnConfigJSON
		var created, updated time.Time
		for _, c := range list {
			if c.MFAOnly != kind.mfaOnly {
				continue
			}
			raw, err := base64.RawURLEncoding.DecodeString(c.ID)
			if err != nil {
				continue
			}
			cfg.UserHandle = c.UserHandle
			tr := c.Transports
			if tr == nil {
				tr = []string{}
			}
			cfg.Credentials = append(cfg.Credentials, webauthnCredentialJSON{ID: raw, PublicKey: c.PublicKey,
				AttestationType: c.AttestationType, DisplayName: c.DisplayName, AddedAt: c.CreatedAt.UTC(),
				IsPasswordless: !c.MFAOnly, Transport: tr,
				Authenticator: webauthnAuthenticator{AAGUID: c.AAGUID, SignCount: c.SignCount, CloneWarning: c.CloneWarning},
				Flags: webauthnFlags{UserPresent: true, UserVerified: c.UserVerified, BackupEligible: c.BackupEligible,
					BackupState: c.BackupState}})
			if created.IsZero() || c.CreatedAt.Before(created) {
				created = c.CreatedAt
			}
			if c.UpdatedAt.After(updated) {
				updated = c.UpdatedAt
			}
		}
		if len(cfg.Credentials) == 0 {
			continue
		}
		cj := CredentialJSON{Type: kind.t, Identifiers: h.webauthnIdentifiers(kind.t, i, cfg.UserHandle),
			Version: kind.version, CreatedAt: created, UpdatedAt: updated}
		for _, t := range include {
			if t == kind.t {
				raw, err := json.Marshal(cfg)
				if err != nil {
					return &core.Error{Code: core.CodeInternal, Message: "Encoding the WebAuthn credentials failed.", Cause: err}
				}
				cj.Config = raw
			}
		}
		v.Credentials[string(kind.t)] = cj
	}
	return nil
}

// webauthnIdentifiers are the identifiers Kratos lists for the type: a
// passkey credential's user handle (as the identity's UUID when it is one),
// a webauthn credential's login identifiers (the traits the schema marks).
func (h *Handler) webauthnIdentifiers(t core.CredentialType, i *core.Identity, handle []byte) []string {
	if t == core.CredentialPasskey {
		if u, err := uuid.FromBytes(handle); err == nil && len(handle) == 16 {
			return []string{u.String()}
		}
		return []string{base64.RawURLEncoding.EncodeToString(handle)}
	}
	if sch, err := h.ids.Schemas().Schema(i.SchemaID); err == nil {
		if ex, err := sch.Extract(i.Traits); err == nil && len(ex.Identifiers[core.CredentialWebAuthn]) > 0 {
			return ex.Identifiers[core.CredentialWebAuthn]
		}
	}
	return []string{}
}

// bytesJSON decodes Kratos' []byte fields: a base64 string (standard or
// URL alphabet, padded or not) or an array of byte values.
type bytesJSON []byte

func (b *bytesJSON) UnmarshalJSON(raw []byte) error {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		*b = nil
		return nil
	}
	if len(raw) > 0 && raw[0] == '[' {
		var ints []int
		if err := json.Unmarshal(raw, &ints); err != nil {
			return fmt.Errorf("not a list of bytes")
		}
		out := make([]byte, len(ints))
		for n, v := range ints {
			if v < 0 || v > 255 {
				return fmt.Errorf("%d is not a byte", v)
			}
			out[n] = byte(v)
		}
		*b = out
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("not a base64 string")
	}
	s = strings.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	out, err := enc.DecodeString(s)
	if err != nil {
		return fmt.Errorf("not base64")
	}
	*b = out
	return nil
}

// webauthnImportBody is identityWithCredentialsWebAuthnConfig (and the
// passkey one, of the same shape).
type webauthnImportBody struct {
	Config struct {
		Credentials []struct {
			ID              bytesJSON `json:"id"`
			PublicKey       bytesJSON `json:"public_key"`
			AttestationType string    `json:"attestation_type"`
			Authenticator   *struct {
				AAGUID       bytesJSON `json:"aaguid"`
				SignCount    uint32    `json:"sign_count"`
				CloneWarning bool      `json:"clone_warning"`
			} `json:"authenticator"`
			DisplayName    string     `json:"display_name"`
			AddedAt        *time.Time `json:"added_at"`
			IsPasswordless *bool      `json:"is_passwordless"`
			Flags          *struct {
				UserPresent    bool `json:"user_present"`
				UserVerified   bool `json:"user_verified"`
				BackupEligible bool `json:"backup_eligible"`
				BackupState    bool `json:"backup_state"`
			} `json:"flags"`
			Transport   []string        `json:"transport"`
			Attestation json.RawMessage `json:"attestation"` // accepted; not kept
		} `json:"credentials"`
		UserHandle bytesJSON `json:"user_handle"`
	} `json:"config"`
}

// webauthnImport converts credentials.passkey or credentials.webauthn of an
// import body. Passkeys are first factors; webauthn credentials are
// security keys unless is_passwordless is true.
func webauthnImport(name string, raw json.RawMessage) ([]core.WebAuthnCredential, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var b webauthnImportBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, &core.Error{Code: core.CodeInvalid, Field: "credentials." + name,
			Message: fmt.Sprintf("credentials.%s is not a valid %s credential import: %v.", name, name, err)}
	}
	out := make([]core.WebAuthnCredential, 0, len(b.Config.Credentials))
	for _, c := range b.Config.Credentials {
		rec := core.WebAuthnCredential{ID: base64.RawURLEncoding.EncodeToString(c.ID), PublicKey: c.PublicKey,
			AttestationType: c.AttestationType, DisplayName: c.DisplayName, Transports: c.Transport,
			UserHandle: b.Config.UserHandle, MFAOnly: name == string(core.CredentialWebAuthn)}
		if len(c.ID) == 0 {
			rec.ID = ""
		}
		if rec.AttestationType == "" {
			rec.AttestationType = "none"
		}
		if name == string(core.CredentialWebAuthn) && c.IsPasswordless != nil && *c.IsPasswordless {
			rec.MFAOnly = false
		}
		if a := c.Authenticator; a != nil {
			rec.AAGUID, rec.SignCount, rec.CloneWarning = a.AAGUID, a.SignCount, a.CloneWarning
		}
		if len(rec.AAGUID) == 0 {
			rec.AAGUID = make([]byte, 16)
		}
		if f := c.Flags; f != nil {
			rec.UserVerified, rec.BackupEligible, rec.BackupState = f.UserVerified, f.BackupEligible, f.BackupState
		}
		if c.AddedAt != nil {
			rec.CreatedAt = c.AddedAt.UTC()
		}
		out = append(out, rec)
	}
	return out, nil
}
