package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// CreateKey implements store.Keys.
func (o *ops) CreateKey(ctx context.Context, k *core.SigningKey) error {
	if k == nil || k.ID == "" {
		return errors.New("create key: no key id")
	}
	_, err := o.exec(ctx, `INSERT INTO signing_keys
		(id, algorithm, private_key_encrypted, public_jwk, created_at) VALUES (?, ?, ?, ?, ?)`,
		k.ID, k.Algorithm, k.PrivateKeyEncrypted, k.PublicJWK, o.d.timeArg(k.CreatedAt))
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, o.wrap(err))
	}
	return nil
}

// ListKeys implements store.Keys.
func (o *ops) ListKeys(ctx context.Context) ([]core.SigningKey, error) {
	rows, err := o.query(ctx, `SELECT id, algorithm, private_key_encrypted, public_jwk, created_at
		FROM signing_keys ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var list []core.SigningKey
	for rows.Next() {
		var k core.SigningKey
		if err := rows.Scan(&k.ID, &k.Algorithm, bytesScan{&k.PrivateKeyEncrypted},
			bytesScan{&k.PublicJWK}, timeScan{&k.CreatedAt}); err != nil {
			return nil, fmt.Errorf("list keys: scan: %w", err)
		}
		list = append(list, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return list, nil
}

// DeleteKey implements store.Keys.
func (o *ops) DeleteKey(ctx context.Context, id string) error {
	n, err := o.execAffected(ctx, `DELETE FROM signing_keys WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete key %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete key %s: %w", id, store.ErrNotFound)
	}
	return nil
}
