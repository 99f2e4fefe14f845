package store

import (
	"context"

	"github.com/latchkey/latchkey/core"
)

// WebAuthnCredentials stores the one table of WebAuthn credentials
// (passkeys and security keys) both faces share. The records are not part of
// core.Identity: CreateIdentity and UpdateIdentity neither write nor remove
// them, DeleteIdentity removes them with the identity.
type WebAuthnCredentials interface {
	// CreateWebAuthnCredential inserts c (every field set by the caller). It
	// returns ErrConflict when the credential id exists (for any identity)
	// and ErrNotFound when c.IdentityID names no identity.
	CreateWebAuthnCredential(ctx context.Context, c *core.WebAuthnCredential) error
	// GetWebAuthnCredential returns the credential with the (base64url) id,
	// or ErrNotFound. One indexed lookup. Inside Update it locks the row
	// (PostgreSQL, MySQL), so a read-modify-write of the signature counter
	// cannot lose a concurrent use.
	GetWebAuthnCredential(ctx context.Context, id string) (*core.WebAuthnCredential, error)
	// ListWebAuthnCredentials returns the identity's credentials, oldest
	// first (created_at, then id). An identity without any (or an unknown
	// identity) gives an empty list, not an error.
	ListWebAuthnCredentials(ctx context.Context, identityID string) ([]core.WebAuthnCredential, error)
	// UpdateWebAuthnCredential stores the mutable fields of c (sign count,
	// clone warning, flags, transports, attachment, display name, mfa_only,
	// updated_at, last_used_at), or returns ErrNotFound when no credential
	// with c.ID belongs to c.IdentityID.
	UpdateWebAuthnCredential(ctx context.Context, c *core.WebAuthnCredential) error
	// DeleteWebAuthnCredential removes the identity's credential with the
	// id, or returns ErrNotFound (also when it belongs to another identity).
	DeleteWebAuthnCredential(ctx context.Context, identityID, id string) error
}
