package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

const sessionColumns = `id, identity_id, token_hash, logout_token_hash, active, aal, methods, devices,
	issued_at, authenticated_at, expires_at, created_at, updated_at`

func scanSession(r rowScanner, s *core.Session) error {
	var methods, devices []byte
	err := r.Scan(&s.ID, &s.IdentityID, bytesScan{&s.TokenHash}, bytesScan{&s.LogoutTokenHash},
		&s.Active, &s.AAL, bytesScan{&methods}, bytesScan{&devices},
		timeScan{&s.IssuedAt}, timeScan{&s.AuthenticatedAt}, timeScan{&s.ExpiresAt},
		timeScan{&s.CreatedAt}, timeScan{&s.UpdatedAt})
	if err != nil {
		return err
	}
	if len(methods) > 0 {
		if err := json.Unmarshal(methods, &s.Methods); err != nil {
			return fmt.Errorf("decode session methods: %w", err)
		}
	}
	if len(devices) > 0 {
		if err := json.Unmarshal(devices, &s.Devices); err != nil {
			return fmt.Errorf("decode session devices: %w", err)
		}
	}
	return nil
}

// sessionJSON encodes the methods (times in UTC, microseconds) and devices
// of s.
func sessionJSON(s *core.Session) (methods, devices string, err error) {
	ms := make([]core.AuthMethod, len(s.Methods))
	for k, m := range s.Methods {
		if !m.CompletedAt.IsZero() {
			m.CompletedAt = normTime(m.CompletedAt)
		}
		ms[k] = m
	}
	mb, err := json.Marshal(ms)
	if err != nil {
		return "", "", fmt.Errorf("encode session methods: %w", err)
	}
	ds := s.Devices
	if ds == nil {
		ds = []core.Device{}
	}
	db, err := json.Marshal(ds)
	if err != nil {
		return "", "", fmt.Errorf("encode session devices: %w", err)
	}
	return string(mb), string(db), nil
}

// CreateSession implements store.Sessions.
func (o *ops) CreateSession(ctx context.Context, s *core.Session) error {
	if s == nil || s.ID == "" {
		return errors.New("create session: no session id")
	}
	if len(s.TokenHash) == 0 {
		return fmt.Errorf("create session %s: no token hash", s.ID)
	}
	methods, devices, err := sessionJSON(s)
	if err != nil {
		return fmt.Errorf("create session %s: %w", s.ID, err)
	}
	_, err = o.exec(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.IdentityID, s.TokenHash, bytesArg(s.LogoutTokenHash), s.Active, string(s.AAL),
		methods, devices, o.d.timeArg(s.IssuedAt), o.d.timeArg(s.AuthenticatedAt),
		o.d.timeArg(s.ExpiresAt), o.d.timeArg(s.CreatedAt), o.d.timeArg(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create session %s: %w", s.ID, o.wrap(err))
	}
	return nil
}

func (o *ops) oneSession(ctx context.Context, q string, args ...any) (*core.Session, error) {
	var s core.Session
	if err := scanSession(o.queryRow(ctx, q, args...), &s); err != nil {
		return nil, o.wrap(err)
	}
	return &s, nil
}

// GetSession implements store.Sessions.
func (o *ops) GetSession(ctx context.Context, id string) (*core.Session, error) {
	if !core.IsID(id) {
		return nil, fmt.Errorf("get session %q: %w", id, store.ErrNotFound)
	}
	s, err := o.oneSession(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`+o.forUpdate(), id)
	if err != nil {
		return nil, fmt.Errorf("get session %s: %w", id, err)
	}
	return s, nil
}

// GetSessionByTokenHash implements store.Sessions.
func (o *ops) GetSessionByTokenHash(ctx context.Context, h []byte) (*core.Session, error) {
	if len(h) == 0 {
		return nil, fmt.Errorf("get session by token: %w", store.ErrNotFound)
	}
	s, err := o.oneSession(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE token_hash = ?`+o.forUpdate(), h)
	if err != nil {
		return nil, fmt.Errorf("get session by token: %w", err)
	}
	return s, nil
}

// GetSessionByLogoutTokenHash implements store.Sessions.
func (o *ops) GetSessionByLogoutTokenHash(ctx context.Context, h []byte) (*core.Session, error) {
	if len(h) == 0 {
		return nil, fmt.Errorf("get session by logout token: %w", store.ErrNotFound)
	}
	s, err := o.oneSession(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE logout_token_hash = ?`, h)
	if err != nil {
		return nil, fmt.Errorf("get session by logout token: %w", err)
	}
	return s, nil
}

// UpdateSession implements store.Sessions.
func (o *ops) UpdateSession(ctx context.Context, s *core.Session) error {
	if s == nil {
		return errors.New("update session: session is nil")
	}
	if !core.IsID(s.ID) {
		return fmt.Errorf("update session %q: %w", s.ID, store.ErrNotFound)
	}
	methods, devices, err := sessionJSON(s)
	if err != nil {
		return fmt.Errorf("update session %s: %w", s.ID, err)
	}
	n, err := o.execAffected(ctx, `UPDATE sessions SET identity_id = ?, token_hash = ?,
		logout_token_hash = ?, active = ?, aal = ?, methods = ?, devices = ?, issued_at = ?,
		authenticated_at = ?, expires_at = ?, created_at = ?, updated_at = ? WHERE id = ?`,
		s.IdentityID, s.TokenHash, bytesArg(s.LogoutTokenHash), s.Active, string(s.AAL),
		methods, devices, o.d.timeArg(s.IssuedAt), o.d.timeArg(s.AuthenticatedAt),
		o.d.timeArg(s.ExpiresAt), o.d.timeArg(s.CreatedAt), o.d.timeArg(s.UpdatedAt), s.ID)
	if err != nil {
		return fmt.Errorf("update session %s: %w", s.ID, o.wrap(err))
	}
	if n == 0 {
		return fmt.Errorf("update session %s: %w", s.ID, store.ErrNotFound)
	}
	return nil
}

// sessionFilter renders q's filters as conditions.
func (o *ops) sessionFilter(q store.SessionQuery) ([]string, []any, error) {
	var conds []string
	var args []any
	if q.IdentityID != "" {
		conds = append(conds, `identity_id = ?`)
		args = append(args, q.IdentityID)
	}
	if q.ExceptID != "" {
		conds = append(conds, `id <> ?`)
		args = append(args, q.ExceptID)
	}
	if q.Active != nil {
		if q.Now.IsZero() {
			return nil, nil, errors.New("the active filter needs Now")
		}
		now := o.d.timeArg(q.Now)
		if *q.Active {
			conds = append(conds, `active = ? AND expires_at > ?`)
			args = append(args, true, now)
		} else {
			conds = append(conds, `(active = ? OR expires_at <= ?)`)
			args = append(args, false, now)
		}
	}
	return conds, args, nil
}

// ListSessions implements store.Sessions.
func (o *ops) ListSessions(ctx context.Context, q store.SessionQuery) ([]core.Session, error) {
	if malformed(q.IdentityID, q.BeforeID) {
		return nil, nil
	}
	if malformed(q.ExceptID) {
		q.ExceptID = ""
	}
	conds, args, err := o.sessionFilter(q)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	offset := q.Offset
	if !q.BeforeCreatedAt.IsZero() || q.BeforeID != "" {
		c := o.d.timeArg(q.BeforeCreatedAt)
		conds = append(conds, `(created_at < ? OR (created_at = ? AND id < ?))`)
		args = append(args, c, c, q.BeforeID)
		offset = 0
	}
	rows, err := o.query(ctx, `SELECT `+sessionColumns+` FROM sessions`+where(conds)+
		` ORDER BY created_at DESC, id DESC`+limitOffset(q.Limit, offset), args...)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var list []core.Session
	for rows.Next() {
		var s core.Session
		if err := scanSession(rows, &s); err != nil {
			return nil, fmt.Errorf("list sessions: scan: %w", err)
		}
		list = append(list, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return list, nil
}

// CountSessions implements store.Sessions.
func (o *ops) CountSessions(ctx context.Context, q store.SessionQuery) (int, error) {
	if malformed(q.IdentityID) {
		return 0, nil
	}
	if malformed(q.ExceptID) {
		q.ExceptID = ""
	}
	conds, args, err := o.sessionFilter(q)
	if err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	var n int
	if err := o.queryRow(ctx, `SELECT COUNT(*) FROM sessions`+where(conds), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	return n, nil
}

// RevokeSessions implements store.Sessions.
func (o *ops) RevokeSessions(ctx context.Context, identityID, exceptID string) (int, error) {
	if !core.IsID(identityID) {
		return 0, nil
	}
	if malformed(exceptID) {
		exceptID = "" // no session has it
	}
	q := `UPDATE sessions SET active = ? WHERE identity_id = ? AND active = ?`
	args := []any{false, identityID, true}
	if exceptID != "" {
		q += ` AND id <> ?`
		args = append(args, exceptID)
	}
	n, err := o.execAffected(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("revoke sessions of %s: %w", identityID, err)
	}
	return n, nil
}

// DeleteSession implements store.Sessions.
func (o *ops) DeleteSession(ctx context.Context, id string) error {
	if !core.IsID(id) {
		return fmt.Errorf("delete session %q: %w", id, store.ErrNotFound)
	}
	n, err := o.execAffected(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete session %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete session %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// DeleteIdentitySessions implements store.Sessions.
func (o *ops) DeleteIdentitySessions(ctx context.Context, identityID string) (int, error) {
	if !core.IsID(identityID) {
		return 0, nil
	}
	n, err := o.execAffected(ctx, `DELETE FROM sessions WHERE identity_id = ?`, identityID)
	if err != nil {
		return 0, fmt.Errorf("delete sessions of %s: %w", identityID, err)
	}
	return n, nil
}
