package identity

import (
	"encoding/json"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/method/code"
)

// Draft is what a caller supplies to create an identity or to replace one
// (PUT semantics): everything but ids and timestamps.
type Draft struct {
	// ID is the id to create the identity under (a UUID); empty means a
	// new one. A flow that must name the identity before creating it (a
	// passkey registered at sign-up carries a user handle derived from
	// it) sets it. Updates ignore it.
	ID string
	// SchemaID names the identity schema; empty means the default schema.
	SchemaID string
	// Traits is the JSON object validated by the schema.
	Traits json.RawMessage
	// State is active or inactive; empty means active.
	State          core.IdentityState
	MetadataPublic json.RawMessage
	MetadataAdmin  json.RawMessage
	ExternalID     string
	OrganizationID string
	// Credentials to import or replace; nil leaves credentials alone on
	// update and creates none on create.
	Credentials *CredentialsDraft
	// VerifiableAddresses and RecoveryAddresses carry imported verification
	// state. An imported address is kept only when the traits name it (the
	// schema decides which addresses exist); its Verified, VerifiedAt and
	// Status then override the defaults.
	VerifiableAddresses []AddressDraft
	RecoveryAddresses   []AddressDraft
}

// CredentialsDraft holds the credentials that can be imported.
type CredentialsDraft struct {
	Password *PasswordDraft
	OIDC     []OIDCProvider
	SAML     []OIDCProvider
	// WebAuthn are passkeys (MFAOnly false) and security keys to import
	// into the WebAuthn table. IdentityID and the timestamps are set by the
	// service (CreatedAt is kept when set); UserHandle may be empty (the
	// identity's handle is used).
	WebAuthn []core.WebAuthnCredential
	// SecondFactors are totp and lookup_secret credentials to import: their
	// configs sealed by method/totp and method/lookup for this identity's
	// id (set Draft.ID on create). Their identifier is the identity id.
	SecondFactors map[core.CredentialType]json.RawMessage
}

// PasswordDraft is a password credential to import: either a cleartext
// Password (hashed by the service) or a HashedPassword in any format the
// password package verifies. UseMigrationHook is stored as Kratos does.
type PasswordDraft struct {
	Password         string
	HashedPassword   string
	UseMigrationHook bool
}

// OIDCProvider links the identity to a subject at an OpenID Connect (or
// SAML) provider.
type OIDCProvider struct {
	Provider     string `json:"provider"`
	Subject      string `json:"subject"`
	Organization string `json:"organization,omitempty"`
	UseAutoLink  bool   `json:"use_auto_link,omitempty"`
	// The initial tokens are stored encrypted by the OIDC method; imports
	// leave them empty.
	InitialIDToken      string `json:"initial_id_token,omitempty"`
	InitialAccessToken  string `json:"initial_access_token,omitempty"`
	InitialRefreshToken string `json:"initial_refresh_token,omitempty"`
}

// AddressDraft is an imported verifiable or recovery address.
type AddressDraft struct {
	Via        core.AddressVia
	Value      string
	Verified   bool
	VerifiedAt *time.Time
	Status     core.AddressStatus
}

// PasswordConfig is the stored config of a password credential, in Kratos'
// shape (identityCredentialsPassword).
type PasswordConfig struct {
	HashedPassword   string `json:"hashed_password,omitempty"`
	UseMigrationHook bool   `json:"use_password_migration_hook,omitempty"`
}

// OIDCConfig is the stored config of an oidc or saml credential, in Kratos'
// shape (identityCredentialsOidc).
type OIDCConfig struct {
	Providers []OIDCProvider `json:"providers"`
}

// CodeConfig is the stored config of a code credential, in Kratos' shape
// (the code method's own type).
type CodeConfig = code.CredentialConfig

// CodeAddress is one address a login code may be sent to.
type CodeAddress = code.Address
