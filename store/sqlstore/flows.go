package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

const flowColumns = `id, kind, face, type, state, stash, csrf_token, identity_id, version,
	expires_at, created_at, updated_at`

// flowSelectList reads the time columns as text on SQLite, parsed by
// timeScan in our own layout first: the driver's TIMESTAMP parsing tried
// its layouts in turn, each miss an allocated time.ParseError, on every
// flow load.
var flowSelectList = selectList(flowColumns)

// flowSet is what UpdateFlow sets besides expires_at.
const flowSet = `kind = ?, face = ?, type = ?, state = ?, stash = ?, csrf_token = ?, identity_id = ?,
	version = ?, created_at = ?, updated_at = ?`

// CreateFlow implements store.Flows.
func (o *ops) CreateFlow(ctx context.Context, f *core.Flow) error {
	if f == nil || f.ID == "" {
		return errors.New("create flow: no flow id")
	}
	_, err := o.exec(ctx, `INSERT INTO flows (`+flowColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, string(f.Kind), f.Face, f.Type, f.State, jsonArg(f.Stash), f.CSRFToken,
		nullArg(f.IdentityID), 1, o.d.timeArg(f.ExpiresAt), o.d.timeArg(f.CreatedAt),
		o.d.timeArg(f.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create flow %s: %w", f.ID, o.wrap(err))
	}
	f.Version = 1
	return nil
}

// GetFlow implements store.Flows.
func (o *ops) GetFlow(ctx context.Context, id string) (*core.Flow, error) {
	if !core.IsID(id) {
		return nil, fmt.Errorf("get flow %q: %w", id, store.ErrNotFound)
	}
	var f core.Flow
	err := o.queryRow(ctx, `SELECT `+o.cols(flowSelectList)+` FROM flows WHERE id = ?`, id).Scan(
		&f.ID, &f.Kind, &f.Face, &f.Type, &f.State, bytesScan{(*[]byte)(&f.Stash)}, &f.CSRFToken,
		stringScan{&f.IdentityID}, &f.Version, timeScan{&f.ExpiresAt}, timeScan{&f.CreatedAt},
		timeScan{&f.UpdatedAt})
	if err != nil {
		return nil, fmt.Errorf("get flow %s: %w", id, o.wrap(err))
	}
	return &f, nil
}

// UpdateFlow implements store.Flows.
func (o *ops) UpdateFlow(ctx context.Context, f *core.Flow) error {
	if f == nil {
		return errors.New("update flow: flow is nil")
	}
	if !core.IsID(f.ID) {
		return fmt.Errorf("update flow %q: %w", f.ID, store.ErrNotFound)
	}
	set := []any{string(f.Kind), f.Face, f.Type, f.State, jsonArg(f.Stash), f.CSRFToken,
		nullArg(f.IdentityID), f.Version + 1, o.d.timeArg(f.CreatedAt), o.d.timeArg(f.UpdatedAt)}
	expires := o.d.timeArg(f.ExpiresAt)
	var n int
	var err error
	if o.d.Flavor == SQLite {
		// SQLite rewrites the entry of every index whose column an UPDATE
		// sets, equal value or not: setting expires_at dirties a page of
		// flows_expires_at_idx, a second page in the write-ahead log at
		// each step. Steps keep the expiry, so the update first leaves
		// expires_at out, on the condition that it is already f's; when
		// it is not (or the version is stale) the full update below runs.
		n, err = o.execAffected(ctx, `UPDATE flows SET `+flowSet+` WHERE id = ? AND version = ? AND expires_at IS ?`,
			slices.Concat(set, []any{f.ID, f.Version, expires})...)
		if err != nil {
			return fmt.Errorf("update flow %s: %w", f.ID, o.wrap(err))
		}
	}
	if n == 0 {
		n, err = o.execAffected(ctx, `UPDATE flows SET `+flowSet+`, expires_at = ? WHERE id = ? AND version = ?`,
			slices.Concat(set, []any{expires, f.ID, f.Version})...)
		if err != nil {
			return fmt.Errorf("update flow %s: %w", f.ID, o.wrap(err))
		}
	}
	if n == 0 {
		var one int
		err := o.queryRow(ctx, `SELECT 1 FROM flows WHERE id = ?`, f.ID).Scan(&one)
		if err == nil {
			return fmt.Errorf("update flow %s: version %d is stale: %w", f.ID, f.Version, store.ErrConflict)
		}
		return fmt.Errorf("update flow %s: %w", f.ID, o.wrap(err))
	}
	f.Version++
	return nil
}

// DeleteFlow implements store.Flows.
func (o *ops) DeleteFlow(ctx context.Context, id string) error {
	if !core.IsID(id) {
		return fmt.Errorf("delete flow %q: %w", id, store.ErrNotFound)
	}
	n, err := o.execAffected(ctx, `DELETE FROM flows WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete flow %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete flow %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// DeleteExpiredFlows implements store.Flows.
func (o *ops) DeleteExpiredFlows(ctx context.Context, t time.Time) (int, error) {
	n, err := o.execAffected(ctx, `DELETE FROM flows WHERE expires_at < ?`, o.d.timeArg(t))
	if err != nil {
		return 0, fmt.Errorf("delete expired flows: %w", err)
	}
	return n, nil
}
