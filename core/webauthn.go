package core

import "time"

// WebAuthnCredential is one public key credential of an identity: a passkey
// (a discoverable credential usable as first factor) or a security key
// (MFAOnly: usable only as second factor). It is the WebAuthn "credential
// record" of WebAuthn Level 3 §4 (Terminology: Credential Record).
//
// Both faces read and write the same records: Hanko lists them as passkeys
// and security keys (webauthn_credentials), Kratos as the credentials of
// type "passkey" (MFAOnly false) and "webauthn" (MFAOnly true, or
// passwordless security keys). They are stored in one table of their own,
// never in Identity.Credentials: a face that shows Kratos' credential shape
// builds it from these records.
type WebAuthnCredential struct {
	// ID is the credential id (WebAuthn §5.1 rawId), base64url-encoded
	// without padding. Unique across all identities.
	ID         string
	IdentityID string
	// UserHandle is the WebAuthn user handle (§5.4.3 user.id) the
	// credential was created for. Every credential of one identity carries
	// the same handle.
	UserHandle      []byte
	PublicKey       []byte // COSE_Key (§6.5.1.1)
	AttestationType string // the attestation statement format (§8): "none", "packed", "tpm" …, as both faces show it
	AAGUID          []byte // 16 bytes (§6.5.1); zero bytes when the authenticator hides it
	SignCount       uint32 // signature counter (§6.1.1), updated on every use
	// CloneWarning is set when an assertion reported a signature counter
	// not greater than the stored one (§6.1.1, §7.2 step 22).
	CloneWarning   bool
	Transports     []string // "usb", "nfc", "ble", "internal", "hybrid" …
	BackupEligible bool     // BE flag (§6.3.3)
	BackupState    bool     // BS flag (§6.3.3), updated on every use
	UserVerified   bool     // uvInitialized: the UV flag was set at registration or since
	Attachment     string   // "platform" or "cross-platform"; empty when unknown
	DisplayName    string   // the user's name for the credential; empty when unset
	MFAOnly        bool     // a security key: second factor only, not offered for passkey login
	CreatedAt      time.Time
	UpdatedAt      time.Time
	LastUsedAt     *time.Time // nil when never used to sign in
}
