package core

import (
	"encoding/json"
	"slices"
	"time"
)

// IdentityState says whether an identity may log in and hold sessions.
type IdentityState string

// The identity states Kratos defines.
const (
	IdentityActive   IdentityState = "active"
	IdentityInactive IdentityState = "inactive"
)

// Valid reports whether s is a known identity state.
func (s IdentityState) Valid() bool { return s == IdentityActive || s == IdentityInactive }

// Identity is one user of Latchkey, shared by both API faces.
//
// IDs are canonical lower-case UUID strings. Traits is the JSON document
// validated by the identity schema named by SchemaID. Credentials are keyed by
// CredentialType. Addresses hold every e-mail address or phone number of the
// identity, whether it came from the traits or was added through the Hanko
// face.
type Identity struct {
	ID             string
	SchemaID       string
	Traits         json.RawMessage
	State          IdentityState
	StateChangedAt time.Time
	MetadataPublic json.RawMessage // nil when unset
	MetadataAdmin  json.RawMessage // nil when unset
	MetadataUnsafe json.RawMessage // Hanko's unsafe_metadata, writable by the user; nil when unset
	ExternalID     string          // empty when unset; unique when set
	OrganizationID string          // empty when unset
	Locale         string          // preferred language for messages (BCP 47), empty when unknown
	Addresses      []Address
	Credentials    map[CredentialType]Credential
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Credential returns the identity's credential of type t.
func (i *Identity) Credential(t CredentialType) (Credential, bool) {
	if i.Credentials == nil {
		return Credential{}, false
	}
	c, ok := i.Credentials[t]
	return c, ok
}

// SetCredential stores c under its type, creating the map when needed.
func (i *Identity) SetCredential(c Credential) {
	if i.Credentials == nil {
		i.Credentials = make(map[CredentialType]Credential)
	}
	i.Credentials[c.Type] = c
}

// Clone copies i deeply enough that changing the copy's addresses and
// credentials (their maps, slices and the addresses' VerifiedAt) leaves i
// alone. The JSON documents (traits, metadata, credential configs) are
// shared: they are replaced, never written into.
func (i *Identity) Clone() *Identity {
	c := *i
	c.Addresses = slices.Clone(i.Addresses)
	for n := range c.Addresses {
		if v := c.Addresses[n].VerifiedAt; v != nil {
			at := *v
			c.Addresses[n].VerifiedAt = &at
		}
	}
	if i.Credentials != nil {
		c.Credentials = make(map[CredentialType]Credential, len(i.Credentials))
		for ct, cr := range i.Credentials {
			cr.Identifiers = slices.Clone(cr.Identifiers)
			c.Credentials[ct] = cr
		}
	}
	return &c
}

// PrimaryAddress returns the identity's primary address on channel via.
func (i *Identity) PrimaryAddress(via AddressVia) (Address, bool) {
	for _, a := range i.Addresses {
		if a.Via == via && a.Primary {
			return a, true
		}
	}
	return Address{}, false
}

// AddressVia is the channel an address is reached through.
type AddressVia string

// The channels addresses are reached through.
const (
	ViaEmail AddressVia = "email"
	ViaSMS   AddressVia = "sms"
)

// AddressStatus is the verification status Kratos reports for an address.
type AddressStatus string

// Kratos' verifiable address statuses.
const (
	AddressPending   AddressStatus = "pending"
	AddressSent      AddressStatus = "sent"
	AddressCompleted AddressStatus = "completed"
)

// Address is an e-mail address or phone number of an identity. One record
// serves Kratos' verifiable_addresses (when Verifiable) and
// recovery_addresses (when Recovery) and Hanko's e-mail list. (Via, Value) is
// unique across all identities.
type Address struct {
	ID         string
	IdentityID string
	Via        AddressVia
	Value      string // normalised: e-mail lower-cased and trimmed
	Verified   bool
	VerifiedAt *time.Time
	Status     AddressStatus
	Primary    bool // Hanko's primary e-mail
	Verifiable bool // listed in Kratos' verifiable_addresses
	Recovery   bool // listed in Kratos' recovery_addresses
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// CredentialType names a kind of credential, using Kratos' names.
type CredentialType string

// The credential types Latchkey knows.
const (
	CredentialPassword     CredentialType = "password"
	CredentialOIDC         CredentialType = "oidc"
	CredentialTOTP         CredentialType = "totp"
	CredentialLookupSecret CredentialType = "lookup_secret"
	CredentialWebAuthn     CredentialType = "webauthn"
	CredentialPasskey      CredentialType = "passkey"
	CredentialCode         CredentialType = "code"
	CredentialSAML         CredentialType = "saml"
)

// CredentialTypes lists every credential type Latchkey stores.
var CredentialTypes = []CredentialType{
	CredentialPassword, CredentialOIDC, CredentialTOTP, CredentialLookupSecret,
	CredentialWebAuthn, CredentialPasskey, CredentialCode, CredentialSAML,
}

// Valid reports whether t is a credential type Latchkey stores.
func (t CredentialType) Valid() bool {
	for _, k := range CredentialTypes {
		if t == k {
			return true
		}
	}
	return false
}

// Credential is one credential of an identity. Identifiers are the login
// identifiers it answers to (normalised); each is unique per credential type
// across all identities. Config is the method-specific JSON (for passwords
// {"hashed_password": "..."}); secrets inside it are encrypted by the method
// that owns them.
type Credential struct {
	ID          string
	Type        CredentialType
	Identifiers []string
	Config      json.RawMessage
	Version     int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}
