package hanko

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // RFC 4122 §4.3 name-based UUIDs are defined over SHA-1; nothing secret is hashed.
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/method/oidc"
)

// traits are the fields of the default schema's traits that the Hanko face
// reads and writes: traits.email is the primary e-mail address.
type traits struct {
	Email      string `json:"email,omitempty"`
	Username   string `json:"username,omitempty"`
	Name       string `json:"name,omitempty"`
	GivenName  string `json:"given_name,omitempty"`
	FamilyName string `json:"family_name,omitempty"`
	Picture    string `json:"picture,omitempty"`
}

// traitsOf decodes the Hanko fields of i's traits; traits of another shape
// (a custom schema) leave the fields they lack empty.
func traitsOf(i *core.Identity) traits {
	var t traits
	_ = json.Unmarshal(i.Traits, &t)
	return t
}

// withTraits returns i's traits JSON with the Hanko fields of t written over
// it (empty fields removed) and every other trait kept.
func withTraits(raw json.RawMessage, t traits) (json.RawMessage, error) {
	m := map[string]any{}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
	}
	for k, v := range map[string]string{"email": t.Email, "username": t.Username, "name": t.Name,
		"given_name": t.GivenName, "family_name": t.FamilyName, "picture": t.Picture} {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// derivedID returns a stable name-based UUID (RFC 4122 §4.3, version 5) for a
// record Hanko keeps in its own table but Latchkey derives from an identity,
// such as the username row.
func derivedID(identityID, kind string) string {
	base, err := uuid.Parse(identityID)
	if err != nil {
		base = uuid.Nil
	}
	return uuid.NewHash(sha1.New(), base, []byte(kind), 5).String()
}

// emails returns i's e-mail addresses, the primary first.
func emails(i *core.Identity) []core.Address {
	out := make([]core.Address, 0, len(i.Addresses))
	for _, a := range i.Addresses {
		if a.Via == core.ViaEmail && a.Primary {
			out = append(out, a)
		}
	}
	for _, a := range i.Addresses {
		if a.Via == core.ViaEmail && !a.Primary {
			out = append(out, a)
		}
	}
	return out
}

// primaryEmail returns i's primary e-mail address.
func primaryEmail(i *core.Identity) (core.Address, bool) { return i.PrimaryAddress(core.ViaEmail) }

// EmailJSON is an e-mail address as the public API, the Flow API's profile
// data and the /me endpoint show it (Hanko's dto.EmailResponse).
type EmailJSON struct {
	ID         string `json:"id"`
	Address    string `json:"address"`
	IsVerified bool   `json:"is_verified"`
	IsPrimary  bool   `json:"is_primary"`
}

// AdminEmailJSON is an e-mail address as the admin API shows it.
type AdminEmailJSON struct {
	ID         string    `json:"id"`
	Address    string    `json:"address"`
	IsVerified bool      `json:"is_verified"`
	IsPrimary  bool      `json:"is_primary"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// UsernameJSON is a username as both APIs show it.
type UsernameJSON struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// EmailClaim is the "email" claim of a session JWT.
type EmailClaim struct {
	Address    string `json:"address"`
	IsPrimary  bool   `json:"is_primary"`
	IsVerified bool   `json:"is_verified"`
}

// MetadataJSON is a user's metadata; PrivateMetadata is shown only by the
// admin API.
type MetadataJSON struct {
	PublicMetadata  json.RawMessage `json:"public_metadata,omitempty"`
	PrivateMetadata json.RawMessage `json:"private_metadata,omitempty"`
	UnsafeMetadata  json.RawMessage `json:"unsafe_metadata,omitempty"`
}

// MFAConfigJSON says which second factors the user and the server have.
type MFAConfigJSON struct {
	AuthAppSetUp        bool `json:"auth_app_set_up"`
	TOTPEnabled         bool `json:"totp_enabled"`
	SecurityKeysEnabled bool `json:"security_keys_enabled"`
}

// WebauthnCredentialJSON is a passkey or security key (Hanko's
// dto.WebauthnCredentialResponse): id is the base64url credential id.
type WebauthnCredentialJSON struct {
	ID              string     `json:"id"`
	Name            string     `json:"name,omitempty"`
	PublicKey       string     `json:"public_key"`
	AttestationType string     `json:"attestation_type"`
	AAGUID          string     `json:"aaguid"`
	LastUsedAt      *time.Time `json:"last_used_at,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	Transports      []string   `json:"transports"`
	BackupEligible  bool       `json:"backup_eligible"`
	BackupState     bool       `json:"backup_state"`
	MFAOnly         bool       `json:"mfa_only"`
}

// ProfileJSON is the user as GET /me and the Flow API's payload.user show it
// (Hanko's dto.ProfileData).
type ProfileJSON struct {
	ID           string                   `json:"id"` // kept by Hanko for /me's older clients
	UserID       string                   `json:"user_id"`
	Passkeys     []WebauthnCredentialJSON `json:"passkeys,omitempty"`
	SecurityKeys []WebauthnCredentialJSON `json:"security_keys,omitempty"`
	MFAConfig    MFAConfigJSON            `json:"mfa_config"`
	Emails       []EmailJSON              `json:"emails,omitempty"`
	Username     *UsernameJSON            `json:"username,omitempty"`
	CreatedAt    time.Time                `json:"created_at"`
	UpdatedAt    time.Time                `json:"updated_at"`
	Metadata     *MetadataJSON            `json:"metadata,omitempty"`
	Name         string                   `json:"name,omitempty"`
	GivenName    string                   `json:"given_name,omitempty"`
	FamilyName   string                   `json:"family_name,omitempty"`
	Picture      string                   `json:"picture,omitempty"`
	Identities   []IdentityJSON           `json:"identities,omitempty"`
}

// IdentityJSON is a third-party connection (Hanko's dto.Identity): id is
// the user's id at the provider.
type IdentityJSON struct {
	ID         string `json:"id"`
	IdentityID string `json:"identity_id"`
	Provider   string `json:"provider"`
}

// identitiesJSON lists i's provider links; name gives a provider's display
// name (nil shows ids).
func identitiesJSON(i *core.Identity, name func(id string) string) []IdentityJSON {
	cfg, err := oidc.Links(i)
	if err != nil {
		return nil
	}
	var out []IdentityJSON
	for _, l := range cfg.Providers {
		n := l.Provider
		if name != nil {
			n = name(l.Provider)
		}
		out = append(out, IdentityJSON{ID: l.Subject, IdentityID: derivedID(i.ID, "oidc:"+oidc.Identifier(l.Provider, l.Subject)), Provider: n})
	}
	return out
}

// providerName returns a provider's display name, or its id.
func (h *Handler) providerName(id string) string {
	if h.oidc != nil {
		if p, err := h.oidc.Provider(id); err == nil {
			return p.DisplayName()
		}
	}
	return id
}

// PasswordJSON is the metadata of a password credential (never the hash).
type PasswordJSON struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// OTPJSON is the metadata of a TOTP secret (never the secret).
type OTPJSON struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
}

// AdminUserJSON is the user as the admin API shows it (Hanko's admin.User).
type AdminUserJSON struct {
	ID                  string                   `json:"id"`
	WebauthnCredentials []WebauthnCredentialJSON `json:"webauthn_credentials,omitempty"`
	Emails              []AdminEmailJSON         `json:"emails,omitempty"`
	Username            *UsernameJSON            `json:"username,omitempty"`
	CreatedAt           time.Time                `json:"created_at"`
	UpdatedAt           time.Time                `json:"updated_at"`
	Password            *PasswordJSON            `json:"password,omitempty"`
	OTP                 *OTPJSON                 `json:"otp,omitempty"`
	Metadata            *MetadataJSON            `json:"metadata,omitempty"`
	Name                string                   `json:"name,omitempty"`
	GivenName           string                   `json:"given_name,omitempty"`
	FamilyName          string                   `json:"family_name,omitempty"`
	Picture             string                   `json:"picture,omitempty"`
	Identities          []IdentityJSON           `json:"identities,omitempty"`
}

func emailJSON(a core.Address) EmailJSON {
	return EmailJSON{ID: a.ID, Address: a.Value, IsVerified: a.Verified, IsPrimary: a.Primary}
}

func adminEmailJSON(a core.Address) AdminEmailJSON {
	return AdminEmailJSON{ID: a.ID, Address: a.Value, IsVerified: a.Verified, IsPrimary: a.Primary,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// usernameJSON returns i's username, or nil when it has none.
func usernameJSON(i *core.Identity) *UsernameJSON {
	t := traitsOf(i)
	if t.Username == "" {
		return nil
	}
	return &UsernameJSON{ID: derivedID(i.ID, "username"), Username: t.Username, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt}
}

// emailClaim returns the "email" claim for i: its primary e-mail address.
func emailClaim(i *core.Identity) *EmailClaim {
	a, ok := primaryEmail(i)
	if !ok {
		return nil
	}
	return &EmailClaim{Address: a.Value, IsPrimary: true, IsVerified: a.Verified}
}

// metadataJSON returns i's metadata; private is included only when asked.
func metadataJSON(i *core.Identity, private bool) *MetadataJSON {
	m := &MetadataJSON{PublicMetadata: nonNull(i.MetadataPublic), UnsafeMetadata: nonNull(i.MetadataUnsafe)}
	if private {
		m.PrivateMetadata = nonNull(i.MetadataAdmin)
	}
	if m.PublicMetadata == nil && m.PrivateMetadata == nil && m.UnsafeMetadata == nil {
		return nil
	}
	return m
}

func nonNull(raw json.RawMessage) json.RawMessage {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil
	}
	return raw
}

// passwordJSON returns the metadata of i's password, or nil when it has no
// usable password.
func passwordJSON(i *core.Identity) *PasswordJSON {
	c, ok := i.Credential(core.CredentialPassword)
	if !ok || !hasPassword(c) {
		return nil
	}
	return &PasswordJSON{ID: c.ID, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// hasPassword reports whether the password credential holds a hash (Kratos
// keeps an empty one after the password is removed).
func hasPassword(c core.Credential) bool {
	var pc struct {
		HashedPassword string `json:"hashed_password"`
	}
	_ = json.Unmarshal(c.Config, &pc)
	return pc.HashedPassword != ""
}

// otpJSON returns the metadata of i's TOTP secret, or nil.
func otpJSON(i *core.Identity) *OTPJSON {
	c, ok := i.Credential(core.CredentialTOTP)
	if !ok {
		return nil
	}
	return &OTPJSON{ID: c.ID, CreatedAt: c.CreatedAt}
}

// profileJSON returns i, whose WebAuthn credentials are creds, as /me and
// the Flow API show it.
func (h *Handler) profileJSON(i *core.Identity, creds []core.WebAuthnCredential) ProfileJSON {
	t := traitsOf(i)
	p := ProfileJSON{ID: i.ID, UserID: i.ID, Username: usernameJSON(i), CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt,
		Metadata: metadataJSON(i, false), Name: t.Name, GivenName: t.GivenName, FamilyName: t.FamilyName, Picture: t.Picture}
	p.Passkeys, p.SecurityKeys = webauthnJSON(creds)
	_, totp := i.Credential(core.CredentialTOTP)
	p.MFAConfig = MFAConfigJSON{AuthAppSetUp: totp, TOTPEnabled: h.totpOn(),
		SecurityKeysEnabled: h.skOn()}
	for _, a := range emails(i) {
		p.Emails = append(p.Emails, emailJSON(a))
	}
	p.Identities = identitiesJSON(i, h.providerName)
	return p
}

// adminUserJSON returns i, whose WebAuthn credentials are creds, as the
// admin API shows it.
func adminUserJSON(i *core.Identity, creds []core.WebAuthnCredential) AdminUserJSON {
	t := traitsOf(i)
	u := AdminUserJSON{ID: i.ID, Username: usernameJSON(i), CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt,
		Password: passwordJSON(i), OTP: otpJSON(i), Metadata: metadataJSON(i, true),
		Name: t.Name, GivenName: t.GivenName, FamilyName: t.FamilyName, Picture: t.Picture}
	pk, sk := webauthnJSON(creds)
	u.WebauthnCredentials = append(pk, sk...)
	for _, a := range emails(i) {
		u.Emails = append(u.Emails, adminEmailJSON(a))
	}
	u.Identities = identitiesJSON(i, nil)
	return u
}
