package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// credentialID reports whether id can be a stored credential id: base64url
// without padding, at most 1364 characters (1023 bytes, WebAuthn §5.1).
// Anything else is an id no row has, refused before any SQL.
func credentialID(id string) bool {
	if id == "" || len(id) > 1400 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

const webauthnColumns = `id, identity_id, user_handle, public_key, attestation_type, aaguid, sign_count,
	clone_warning, transports, backup_eligible, backup_state, user_verified, attachment, display_name,
	mfa_only, created_at, updated_at, last_used_at`

var webauthnSelectList = selectList(webauthnColumns)

func scanWebAuthnCredential(r rowScanner, c *core.WebAuthnCredential) error {
	var transports string
	var signCount int64
	if err := r.Scan(&c.ID, &c.IdentityID, bytesScan{&c.UserHandle}, bytesScan{&c.PublicKey}, &c.AttestationType,
		bytesScan{&c.AAGUID}, &signCount, &c.CloneWarning, &transports, &c.BackupEligible, &c.BackupState,
		&c.UserVerified, &c.Attachment, &c.DisplayName, &c.MFAOnly, timeScan{&c.CreatedAt}, timeScan{&c.UpdatedAt},
		timePtrScan{&c.LastUsedAt}); err != nil {
		return err
	}
	c.SignCount = uint32(signCount)
	c.Transports = nil
	if transports != "" && transports != "[]" {
		if err := json.Unmarshal([]byte(transports), &c.Transports); err != nil {
			return fmt.Errorf("decode transports: %w", err)
		}
	}
	return nil
}

func transportsArg(t []string) string {
	if len(t) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(t) // a []string always encodes
	return string(b)
}

// CreateWebAuthnCredential implements store.WebAuthnCredentials.
func (o *ops) CreateWebAuthnCredential(ctx context.Context, c *core.WebAuthnCredential) error {
	if c == nil || c.ID == "" || c.IdentityID == "" {
		return errors.New("create webauthn credential: no credential id or identity id")
	}
	if !credentialID(c.ID) {
		return fmt.Errorf("create webauthn credential: id %q is not base64url", c.ID)
	}
	if !core.IsID(c.IdentityID) {
		return fmt.Errorf("create webauthn credential: identity %q: %w", c.IdentityID, store.ErrNotFound)
	}
	// A foreign key failure is reported differently by every driver; asking
	// first gives the contract's ErrNotFound.
	var one int
	if err := o.queryRow(ctx, `SELECT 1 FROM identities WHERE id = ?`, c.IdentityID).Scan(&one); err != nil {
		return fmt.Errorf("create webauthn credential: identity %s: %w", c.IdentityID, o.wrap(err))
	}
	var lastUsed any
	if c.LastUsedAt != nil {
		lastUsed = o.d.timeArg(*c.LastUsedAt)
	}
	_, err := o.exec(ctx, `INSERT INTO webauthn_credentials (`+webauthnColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.IdentityID, c.UserHandle, c.PublicKey, c.AttestationType, bytesArg(c.AAGUID), int64(c.SignCount),
		c.CloneWarning, transportsArg(c.Transports), c.BackupEligible, c.BackupState, c.UserVerified, c.Attachment,
		c.DisplayName, c.MFAOnly, o.d.timeArg(c.CreatedAt), o.d.timeArg(c.UpdatedAt), lastUsed)
	if err != nil {
		return fmt.Errorf("create webauthn credential: %w", o.wrap(err))
	}
	return o.logChange(ctx, c.IdentityID, "")
}

// GetWebAuthnCredential implements store.WebAuthnCredentials.
func (o *ops) GetWebAuthnCredential(ctx context.Context, id string) (*core.WebAuthnCredential, error) {
	if !credentialID(id) {
		return nil, fmt.Errorf("get webauthn credential: %w", store.ErrNotFound)
	}
	var c core.WebAuthnCredential
	err := scanWebAuthnCredential(o.queryRow(ctx, `SELECT `+webauthnColumns+` FROM webauthn_credentials WHERE id = ?`+o.forUpdate(), id), &c)
	if err != nil {
		return nil, fmt.Errorf("get webauthn credential: %w", o.wrap(err))
	}
	return &c, nil
}

// ListWebAuthnCredentials implements store.WebAuthnCredentials.
func (o *ops) ListWebAuthnCredentials(ctx context.Context, identityID string) ([]core.WebAuthnCredential, error) {
	if !core.IsID(identityID) {
		return []core.WebAuthnCredential{}, nil
	}
	rows, err := o.query(ctx, `SELECT `+o.cols(webauthnSelectList)+` FROM webauthn_credentials
		WHERE identity_id = ? ORDER BY created_at, id`, identityID)
	if err != nil {
		return nil, fmt.Errorf("list webauthn credentials of %s: %w", identityID, err)
	}
	defer rows.Close()
	list := []core.WebAuthnCredential{}
	for rows.Next() {
		var c core.WebAuthnCredential
		if err := scanWebAuthnCredential(rows, &c); err != nil {
			return nil, fmt.Errorf("list webauthn credentials of %s: scan: %w", identityID, err)
		}
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list webauthn credentials of %s: %w", identityID, err)
	}
	return list, nil
}

// UpdateWebAuthnCredential implements store.WebAuthnCredentials.
func (o *ops) UpdateWebAuthnCredential(ctx context.Context, c *core.WebAuthnCredential) error {
	if !credentialID(c.ID) || !core.IsID(c.IdentityID) {
		return fmt.Errorf("update webauthn credential: %w", store.ErrNotFound)
	}
	var lastUsed any
	if c.LastUsedAt != nil {
		lastUsed = o.d.timeArg(*c.LastUsedAt)
	}
	// MySQL reports rows changed, not rows matched, so a no-op update looks
	// like a missing row; check existence explicitly when nothing changed.
	n, err := o.execAffected(ctx, `UPDATE webauthn_credentials SET sign_count = ?, clone_warning = ?,
		transports = ?, backup_eligible = ?, backup_state = ?, user_verified = ?, attachment = ?, display_name = ?,
		mfa_only = ?, updated_at = ?, last_used_at = ? WHERE id = ? AND identity_id = ?`,
		int64(c.SignCount), c.CloneWarning, transportsArg(c.Transports), c.BackupEligible, c.BackupState,
		c.UserVerified, c.Attachment, c.DisplayName, c.MFAOnly, o.d.timeArg(c.UpdatedAt), lastUsed, c.ID, c.IdentityID)
	if err != nil {
		return fmt.Errorf("update webauthn credential: %w", o.wrap(err))
	}
	if n == 0 {
		var one int
		if err := o.queryRow(ctx, `SELECT 1 FROM webauthn_credentials WHERE id = ? AND identity_id = ?`, c.ID, c.IdentityID).Scan(&one); err != nil {
			return fmt.Errorf("update webauthn credential: %w", o.wrap(err))
		}
	}
	return o.logChange(ctx, c.IdentityID, "")
}

// DeleteWebAuthnCredential implements store.WebAuthnCredentials.
func (o *ops) DeleteWebAuthnCredential(ctx context.Context, identityID, id string) error {
	if !credentialID(id) || !core.IsID(identityID) {
		return fmt.Errorf("delete webauthn credential: %w", store.ErrNotFound)
	}
	n, err := o.execAffected(ctx, `DELETE FROM webauthn_credentials WHERE id = ? AND identity_id = ?`, id, identityID)
	if err != nil {
		return fmt.Errorf("delete webauthn credential: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("delete webauthn credential: %w", store.ErrNotFound)
	}
	return o.logChange(ctx, identityID, "")
}
