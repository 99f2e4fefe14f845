package identity

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// Imported WebAuthn credentials (passkeys and security keys) are not part of
// core.Identity: they live in the store's one WebAuthn table, which both
// faces read. An import writes them in the transaction that stores the
// identity, so an identity and its keys come together or not at all.

// checkWebAuthnDrafts refuses imported WebAuthn credentials that cannot be
// stored or used: a missing or undecodable id, a missing public key, an id
// listed twice, or user handles that differ (every credential of one
// identity carries the same handle).
func checkWebAuthnDrafts(list []core.WebAuthnCredential) error {
	seen := map[string]bool{}
	var handle []byte
	for n, c := range list {
		field := fmt.Sprintf("credentials.webauthn.config.credentials.%d", n)
		raw, err := base64.RawURLEncoding.DecodeString(c.ID)
		if err != nil || len(raw) == 0 || len(raw) > 1023 {
			return &core.Error{Code: core.CodeInvalid, Field: field + ".id",
				Message: fmt.Sprintf("WebAuthn credential %d has no id, or one longer than 1023 bytes.", n)}
		}
		if len(c.PublicKey) == 0 {
			return &core.Error{Code: core.CodeInvalid, Field: field + ".public_key",
				Message: fmt.Sprintf("WebAuthn credential %d has no public_key.", n)}
		}
		if seen[c.ID] {
			return &core.Error{Code: core.CodeInvalid, Field: field + ".id",
				Message: fmt.Sprintf("WebAuthn credential %d is listed twice.", n)}
		}
		seen[c.ID] = true
		if len(c.UserHandle) > 64 {
			return &core.Error{Code: core.CodeInvalid, Field: "credentials.webauthn.config.user_handle",
				Message: "The WebAuthn user handle is longer than 64 bytes (WebAuthn §5.4.3)."}
		}
		if len(c.UserHandle) > 0 {
			if handle != nil && !bytes.Equal(handle, c.UserHandle) {
				return &core.Error{Code: core.CodeInvalid, Field: "credentials.webauthn.config.user_handle",
					Message: "The passkey and webauthn credentials name different user handles; one identity has one."}
			}
			handle = c.UserHandle
		}
	}
	return nil
}

// webauthnDrafts returns the drafted WebAuthn credentials of d.
func webauthnDrafts(d Draft) []core.WebAuthnCredential {
	if d.Credentials == nil {
		return nil
	}
	return d.Credentials.WebAuthn
}

// writeWebAuthn stores the imported credentials for the identity in tx: new
// ids are created, ids the identity holds already are replaced, and an id
// another identity holds is CodeConflict. A credential without a user
// handle gets the one the identity's credentials carry, or the 16 bytes of
// its id.
func writeWebAuthn(ctx context.Context, tx store.Tx, identityID string, list []core.WebAuthnCredential, now time.Time) error {
	if len(list) == 0 {
		return nil
	}
	have, err := tx.ListWebAuthnCredentials(ctx, identityID)
	if err != nil {
		return txStoreError("list webauthn credentials", err, identityID)
	}
	var handle []byte
	for _, c := range list {
		if len(c.UserHandle) > 0 {
			handle = c.UserHandle
		}
	}
	for _, c := range have {
		if len(c.UserHandle) == 0 {
			continue
		}
		if handle != nil && !bytes.Equal(handle, c.UserHandle) {
			return &core.Error{Code: core.CodeInvalid, Field: "credentials.webauthn.config.user_handle",
				Message: "The imported user handle differs from the one this identity's WebAuthn credentials carry; leave it out or use that one."}
		}
		handle = c.UserHandle
		break
	}
	if handle == nil {
		u, err := uuid.Parse(identityID)
		if err != nil {
			return &core.Error{Code: core.CodeInternal, Message: "The identity store failed.", Cause: err}
		}
		handle = u[:]
	}
	for _, c := range list {
		c.IdentityID = identityID
		c.UserHandle = handle
		if c.CreatedAt.IsZero() {
			c.CreatedAt = now
		}
		c.UpdatedAt = now
		old, err := tx.GetWebAuthnCredential(ctx, c.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if err := tx.CreateWebAuthnCredential(ctx, &c); err != nil {
				return txStoreError("import webauthn credential", err, identityID)
			}
		case err != nil:
			return txStoreError("look up webauthn credential", err, identityID)
		case old.IdentityID != identityID:
			return &core.Error{Code: core.CodeConflict, Field: "credentials.webauthn",
				Message: "A WebAuthn credential with this id belongs to another identity."}
		default:
			if err := tx.DeleteWebAuthnCredential(ctx, identityID, c.ID); err != nil {
				return txStoreError("replace webauthn credential", err, identityID)
			}
			if err := tx.CreateWebAuthnCredential(ctx, &c); err != nil {
				return txStoreError("replace webauthn credential", err, identityID)
			}
		}
	}
	return nil
}
