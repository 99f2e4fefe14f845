package kratos

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/lookup"
	"github.com/latchkey/latchkey/method/oidc"
	"github.com/latchkey/latchkey/method/totp"
)

// IdentityJSON is Kratos' identity as the admin API writes it (field order
// as Kratos marshals it). Credentials is nil unless the caller asked for the
// credentials view.
type IdentityJSON struct {
	ID                  string                    `json:"id"`
	Credentials         map[string]CredentialJSON `json:"credentials,omitempty"`
	SchemaID            string                    `json:"schema_id"`
	SchemaURL           string                    `json:"schema_url"`
	State               core.IdentityState        `json:"state"`
	StateChangedAt      *time.Time                `json:"state_changed_at,omitempty"`
	Traits              json.RawMessage           `json:"traits"`
	VerifiableAddresses []VerifiableAddressJSON   `json:"verifiable_addresses"`
	RecoveryAddresses   []RecoveryAddressJSON     `json:"recovery_addresses"`
	MetadataPublic      json.RawMessage           `json:"metadata_public"`
	MetadataAdmin       json.RawMessage           `json:"metadata_admin"`
	ExternalID          string                    `json:"external_id,omitempty"`
	CreatedAt           time.Time                 `json:"created_at"`
	UpdatedAt           time.Time                 `json:"updated_at"`
	OrganizationID      *string                   `json:"organization_id"`
}

// CredentialJSON is one entry of an identity's credentials map. Config is
// present only when the caller asked for it with include_credential.
type CredentialJSON struct {
	Type        core.CredentialType `json:"type"`
	Identifiers []string            `json:"identifiers"`
	Config      json.RawMessage     `json:"config,omitempty"`
	Version     int                 `json:"version"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
}

// VerifiableAddressJSON is Kratos' verifiableIdentityAddress.
type VerifiableAddressJSON struct {
	ID         string             `json:"id"`
	Value      string             `json:"value"`
	Verified   bool               `json:"verified"`
	Via        core.AddressVia    `json:"via"`
	Status     core.AddressStatus `json:"status"`
	VerifiedAt *time.Time         `json:"verified_at,omitempty"`
	CreatedAt  time.Time          `json:"created_at"`
	UpdatedAt  time.Time          `json:"updated_at"`
}

// RecoveryAddressJSON is Kratos' recoveryIdentityAddress.
type RecoveryAddressJSON struct {
	ID        string          `json:"id"`
	Value     string          `json:"value"`
	Via       core.AddressVia `json:"via"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// Decrypter decrypts secrets stored at rest (cipher.Cipher satisfies it).
type Decrypter interface {
	// Decrypt returns the plaintext of ct, or an error when no key opens it.
	Decrypt(ct, aad []byte) ([]byte, error)
}

// SchemaURL returns the URL Kratos reports as an identity's schema_url:
// <public base>/schemas/<base64url(id)>.
func SchemaURL(publicBase, schemaID string) string {
	return strings.TrimRight(publicBase, "/") + "/schemas/" + base64.RawURLEncoding.EncodeToString([]byte(schemaID))
}

// viewOptions says which parts of an identity a response shows.
type viewOptions struct {
	credentials bool                         // include the credentials map
	include     map[core.CredentialType]bool // types whose config is declassified
	decrypt     Decrypter                    // for OIDC tokens; nil yields empty tokens
}

// NewIdentityJSON renders i in Kratos' admin shape. With credentials set,
// the credentials map is included without any config; declassify lists the
// types whose config is shown as Kratos declassifies it (notes §8).
func NewIdentityJSON(i *core.Identity, publicBase string, credentials bool, declassify []core.CredentialType, dec Decrypter) IdentityJSON {
	o := viewOptions{credentials: credentials, decrypt: dec, include: map[core.CredentialType]bool{}}
	for _, t := range declassify {
		o.include[t] = true
	}
	return identityView(i, publicBase, o)
}

func identityView(i *core.Identity, publicBase string, o viewOptions) IdentityJSON {
	v := IdentityJSON{
		ID: i.ID, SchemaID: i.SchemaID, SchemaURL: SchemaURL(publicBase, i.SchemaID), State: i.State,
		Traits: i.Traits, MetadataPublic: i.MetadataPublic, MetadataAdmin: i.MetadataAdmin,
		ExternalID: i.ExternalID, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt,
		VerifiableAddresses: []VerifiableAddressJSON{}, RecoveryAddresses: []RecoveryAddressJSON{},
	}
	if len(v.Traits) == 0 {
		v.Traits = json.RawMessage(`{}`)
	}
	if v.State == "" {
		v.State = core.IdentityActive
	}
	if !i.StateChangedAt.IsZero() {
		t := i.StateChangedAt
		v.StateChangedAt = &t
	}
	if i.OrganizationID != "" {
		org := i.OrganizationID
		v.OrganizationID = &org
	}
	for _, a := range i.Addresses {
		if a.Verifiable {
			status := a.Status
			if status == "" {
				status = core.AddressPending
			}
			v.VerifiableAddresses = append(v.VerifiableAddresses, VerifiableAddressJSON{
				ID: a.ID, Value: a.Value, Verified: a.Verified, Via: a.Via, Status: status,
				VerifiedAt: a.VerifiedAt, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt})
		}
		if a.Recovery {
			v.RecoveryAddresses = append(v.RecoveryAddresses, RecoveryAddressJSON{
				ID: a.ID, Value: a.Value, Via: a.Via, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt})
		}
	}
	if o.credentials {
		v.Credentials = make(map[string]CredentialJSON, len(i.Credentials))
		for t, c := range i.Credentials {
			cj := CredentialJSON{Type: t, Identifiers: c.Identifiers, Version: c.Version,
				CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
			if cj.Identifiers == nil {
				cj.Identifiers = []string{}
			}
			if o.include[t] {
				cj.Config = declassify(i.ID, c, o.decrypt)
			}
			v.Credentials[string(t)] = cj
		}
	}
	return v
}

// declassify returns a credential's config as Kratos shows it with
// include_credential: the stored config, except that OIDC and SAML tokens
// are decrypted (stored as standard base64 of the cipher output; a token
// that does not decrypt is shown as "").
func declassify(identityID string, c core.Credential, dec Decrypter) json.RawMessage {
	cfg := c.Config
	if len(cfg) == 0 {
		return json.RawMessage(`{}`)
	}
	switch c.Type {
	case core.CredentialTOTP:
		return declassifyTOTP(identityID, cfg, dec)
	case core.CredentialLookupSecret:
		return declassifyLookup(identityID, cfg, dec)
	}
	if c.Type != core.CredentialOIDC && c.Type != core.CredentialSAML {
		return cfg
	}
	var oc identity.OIDCConfig
	if err := json.Unmarshal(cfg, &oc); err != nil {
		return json.RawMessage(`{}`)
	}
	open := func(s string, p identity.OIDCProvider) string {
		if s == "" || dec == nil {
			return ""
		}
		ct, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return ""
		}
		// The oidc method binds tokens to their link (oidc.TokenAAD);
		// tokens sealed without additional data open too.
		pt, err := dec.Decrypt(ct, oidc.TokenAAD(p.Provider, p.Subject))
		if err != nil {
			if pt, err = dec.Decrypt(ct, nil); err != nil {
				return ""
			}
		}
		return string(pt)
	}
	type provider struct {
		Subject             string `json:"subject"`
		Provider            string `json:"provider"`
		InitialIDToken      string `json:"initial_id_token"`
		InitialAccessToken  string `json:"initial_access_token"`
		InitialRefreshToken string `json:"initial_refresh_token"`
		Organization        string `json:"organization,omitempty"`
		UseAutoLink         bool   `json:"use_auto_link,omitempty"`
	}
	type samlProvider struct {
		Subject      string `json:"subject"`
		Provider     string `json:"provider"`
		Organization string `json:"organization,omitempty"`
	}
	if c.Type == core.CredentialSAML {
		out := struct {
			Providers []samlProvider `json:"providers"`
		}{Providers: []samlProvider{}}
		for _, p := range oc.Providers {
			out.Providers = append(out.Providers, samlProvider{Subject: p.Subject, Provider: p.Provider, Organization: p.Organization})
		}
		b, _ := json.Marshal(out)
		return b
	}
	out := struct {
		Providers []provider `json:"providers"`
	}{Providers: []provider{}}
	for _, p := range oc.Providers {
		out.Providers = append(out.Providers, provider{
			Subject: p.Subject, Provider: p.Provider, Organization: p.Organization, UseAutoLink: p.UseAutoLink,
			InitialIDToken: open(p.InitialIDToken, p), InitialAccessToken: open(p.InitialAccessToken, p),
			InitialRefreshToken: open(p.InitialRefreshToken, p),
		})
	}
	b, _ := json.Marshal(out)
	return b
}

// SessionJSON is Kratos' session object.
type SessionJSON struct {
	ID              string            `json:"id"`
	Active          bool              `json:"active"`
	ExpiresAt       *time.Time        `json:"expires_at,omitempty"`
	AuthenticatedAt *time.Time        `json:"authenticated_at,omitempty"`
	AAL             core.AAL          `json:"authenticator_assurance_level"`
	Methods         []core.AuthMethod `json:"authentication_methods"`
	IssuedAt        *time.Time        `json:"issued_at,omitempty"`
	Identity        *IdentityJSON     `json:"identity,omitempty"`
	Devices         []core.Device     `json:"devices,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// NewSessionJSON renders s. active is recomputed as Kratos does: the stored
// flag, not expired at now, and (when the identity is known) an active
// identity. ident, when not nil, is embedded; devices are included when
// withDevices is set.
func NewSessionJSON(s *core.Session, now time.Time, ident *IdentityJSON, identityState core.IdentityState, withDevices bool) SessionJSON {
	v := SessionJSON{
		ID: s.ID, Active: s.Usable(now) && identityState != core.IdentityInactive,
		ExpiresAt: timePtr(s.ExpiresAt), AuthenticatedAt: timePtr(s.AuthenticatedAt), IssuedAt: timePtr(s.IssuedAt),
		AAL: s.AAL, Methods: s.Methods, Identity: ident,
	}
	if v.AAL == "" {
		v.AAL = s.ComputeAAL()
	}
	if v.Methods == nil {
		v.Methods = []core.AuthMethod{}
	}
	if withDevices {
		v.Devices = s.Devices
		if v.Devices == nil {
			v.Devices = []core.Device{}
		}
	}
	return v
}

// declassifyTOTP shows a totp credential as Kratos' {"totp_url": …}; a key
// that does not open (a removed secret) shows as "".
func declassifyTOTP(identityID string, cfg json.RawMessage, dec Decrypter) json.RawMessage {
	out := struct {
		URL string `json:"totp_url"`
	}{}
	if dec != nil {
		if k, err := totp.OpenConfig(dec, identityID, cfg); err == nil {
			out.URL = k.URL()
		}
	}
	b, _ := json.Marshal(out)
	return b
}

// declassifyLookup shows a lookup_secret credential as Kratos'
// {"recovery_codes": [{"code", "used_at"}]}; codes that do not open are
// left out.
func declassifyLookup(identityID string, cfg json.RawMessage, dec Decrypter) json.RawMessage {
	type code struct {
		Code   string     `json:"code"`
		UsedAt *time.Time `json:"used_at"`
	}
	out := struct {
		Codes []code `json:"recovery_codes"`
	}{Codes: []code{}}
	if dec != nil {
		if codes, err := lookup.OpenConfig(dec, identityID, cfg); err == nil {
			for _, c := range codes {
				out.Codes = append(out.Codes, code{Code: c.Code, UsedAt: c.UsedAt})
			}
		}
	}
	b, _ := json.Marshal(out)
	return b
}
