package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// CreateTrustedDevice implements store.TrustedDevices.
func (o *ops) CreateTrustedDevice(ctx context.Context, d *store.TrustedDevice, keep int) error {
	if d == nil || !core.IsID(d.ID) || len(d.TokenHash) == 0 || keep < 1 {
		return errors.New("create trusted device: no id, token hash or cap")
	}
	if !core.IsID(d.IdentityID) {
		return fmt.Errorf("create trusted device: identity %q: %w", d.IdentityID, store.ErrNotFound)
	}
	var one int
	if err := o.queryRow(ctx, `SELECT 1 FROM identities WHERE id = ?`, d.IdentityID).Scan(&one); err != nil {
		return fmt.Errorf("create trusted device: identity %s: %w", d.IdentityID, o.wrap(err))
	}
	if _, err := o.exec(ctx, `INSERT INTO trusted_devices (id, identity_id, token_hash, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?)`, d.ID, d.IdentityID, d.TokenHash, o.d.timeArg(d.ExpiresAt), o.d.timeArg(d.CreatedAt)); err != nil {
		return fmt.Errorf("create trusted device: %w", o.wrap(err))
	}
	if _, err := o.exec(ctx, `DELETE FROM trusted_devices WHERE identity_id = ? AND expires_at < ?`,
		d.IdentityID, o.d.timeArg(d.CreatedAt)); err != nil {
		return fmt.Errorf("create trusted device: remove expired: %w", err)
	}
	rows, err := o.query(ctx, `SELECT id FROM trusted_devices WHERE identity_id = ?
		ORDER BY created_at DESC, id DESC`, d.IdentityID)
	if err != nil {
		return fmt.Errorf("create trusted device: list: %w", err)
	}
	var extra []string
	for n := 0; rows.Next(); n++ {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("create trusted device: list: %w", err)
		}
		if n >= keep {
			extra = append(extra, id)
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return fmt.Errorf("create trusted device: list: %w", err)
	}
	for _, id := range extra {
		if _, err := o.exec(ctx, `DELETE FROM trusted_devices WHERE id = ?`, id); err != nil {
			return fmt.Errorf("create trusted device: remove beyond cap: %w", err)
		}
	}
	return nil
}

// GetTrustedDevice implements store.TrustedDevices.
func (o *ops) GetTrustedDevice(ctx context.Context, id string) (*store.TrustedDevice, error) {
	if !core.IsID(id) {
		return nil, fmt.Errorf("get trusted device: %w", store.ErrNotFound)
	}
	var d store.TrustedDevice
	err := o.queryRow(ctx, `SELECT id, identity_id, token_hash, expires_at, created_at FROM trusted_devices WHERE id = ?`, id).
		Scan(&d.ID, &d.IdentityID, bytesScan{&d.TokenHash}, timeScan{&d.ExpiresAt}, timeScan{&d.CreatedAt})
	if err != nil {
		return nil, fmt.Errorf("get trusted device: %w", o.wrap(err))
	}
	return &d, nil
}
