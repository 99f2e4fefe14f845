package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

const messageColumns = `id, channel, recipient, subject, body, html_body, template_type,
	template_data, status, send_count, next_attempt, created_at, updated_at, trace_parent`

func scanMessage(r rowScanner, m *core.Message) error {
	return r.Scan(&m.ID, &m.Channel, &m.Recipient, &m.Subject, &m.Body, &m.HTMLBody,
		&m.TemplateType, bytesScan{(*[]byte)(&m.TemplateData)}, &m.Status, &m.SendCount,
		timeScan{&m.NextAttempt}, timeScan{&m.CreatedAt}, timeScan{&m.UpdatedAt}, &m.TraceParent)
}

// CreateMessage implements store.Messages.
func (o *ops) CreateMessage(ctx context.Context, m *core.Message) error {
	if m == nil || m.ID == "" {
		return errors.New("create message: no message id")
	}
	if m.Status == "" {
		m.Status = core.MessageQueued
	}
	_, err := o.exec(ctx, `INSERT INTO courier_messages (`+messageColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, string(m.Channel), m.Recipient, m.Subject, m.Body, m.HTMLBody, m.TemplateType,
		jsonArg(m.TemplateData), string(m.Status), m.SendCount, o.d.timeArg(m.NextAttempt),
		o.d.timeArg(m.CreatedAt), o.d.timeArg(m.UpdatedAt), m.TraceParent)
	if err != nil {
		return fmt.Errorf("create message %s: %w", m.ID, o.wrap(err))
	}
	return nil
}

// GetMessage implements store.Messages.
func (o *ops) GetMessage(ctx context.Context, id string) (*core.Message, error) {
	if !core.IsID(id) {
		return nil, fmt.Errorf("get message %q: %w", id, store.ErrNotFound)
	}
	var m core.Message
	err := scanMessage(o.queryRow(ctx, `SELECT `+messageColumns+` FROM courier_messages WHERE id = ?`, id), &m)
	if err != nil {
		return nil, fmt.Errorf("get message %s: %w", id, o.wrap(err))
	}
	rows, err := o.query(ctx, `SELECT id, message_id, status, error, created_at
		FROM courier_message_dispatches WHERE message_id = ? ORDER BY created_at, id`, id)
	if err != nil {
		return nil, fmt.Errorf("get message %s dispatches: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var d core.Dispatch
		if err := rows.Scan(&d.ID, &d.MessageID, &d.Status, &d.Error, timeScan{&d.CreatedAt}); err != nil {
			return nil, fmt.Errorf("get message %s: scan dispatch: %w", id, err)
		}
		m.Dispatches = append(m.Dispatches, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get message %s dispatches: %w", id, err)
	}
	return &m, nil
}

// ListMessages implements store.Messages.
func (o *ops) ListMessages(ctx context.Context, q store.MessageQuery) ([]core.Message, error) {
	if malformed(q.BeforeID) {
		return nil, nil
	}
	var conds []string
	var args []any
	if q.Status != "" {
		conds = append(conds, `status = ?`)
		args = append(args, string(q.Status))
	}
	if q.Recipient != "" {
		conds = append(conds, `recipient = ?`)
		args = append(args, q.Recipient)
	}
	if !q.BeforeCreatedAt.IsZero() || q.BeforeID != "" {
		c := o.d.timeArg(q.BeforeCreatedAt)
		conds = append(conds, `(created_at < ? OR (created_at = ? AND id < ?))`)
		args = append(args, c, c, q.BeforeID)
	}
	list, err := o.messages(ctx, `SELECT `+messageColumns+` FROM courier_messages`+where(conds)+
		` ORDER BY created_at DESC, id DESC`+limitOffset(q.Limit, 0), args...)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return list, nil
}

func (o *ops) messages(ctx context.Context, q string, args ...any) ([]core.Message, error) {
	rows, err := o.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []core.Message
	for rows.Next() {
		var m core.Message
		if err := scanMessage(rows, &m); err != nil {
			return nil, fmt.Errorf("scan message: %w", err)
		}
		list = append(list, m)
	}
	return list, rows.Err()
}

// ClaimMessages implements store.Messages. It must run inside a
// transaction: the rows it selects stay locked (see claimIDs) until they
// are marked processing.
func (o *ops) ClaimMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]core.Message, error) {
	if limit <= 0 {
		return nil, nil
	}
	ids, err := o.claimIDs(ctx, "courier_messages", string(core.MessageQueued), string(core.MessageProcessing), now, lease, limit)
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	in := placeholders(len(ids))
	args := append([]any{string(core.MessageProcessing), o.d.timeArg(now)}, anys(ids)...)
	if _, err := o.exec(ctx, `UPDATE courier_messages SET status = ?, updated_at = ?
		WHERE id IN (`+in+`)`, args...); err != nil {
		return nil, fmt.Errorf("claim messages: mark processing: %w", err)
	}
	list, err := o.messages(ctx, `SELECT `+messageColumns+` FROM courier_messages
		WHERE id IN (`+in+`) ORDER BY created_at, id`, anys(ids)...)
	if err != nil {
		return nil, fmt.Errorf("claim messages: load: %w", err)
	}
	return list, nil
}

// UpdateMessage implements store.Messages.
func (o *ops) UpdateMessage(ctx context.Context, m *core.Message) error {
	if m == nil {
		return errors.New("update message: message is nil")
	}
	if !core.IsID(m.ID) {
		return fmt.Errorf("update message %q: %w", m.ID, store.ErrNotFound)
	}
	n, err := o.execAffected(ctx, `UPDATE courier_messages SET status = ?, send_count = ?,
		next_attempt = ?, updated_at = ? WHERE id = ?`,
		string(m.Status), m.SendCount, o.d.timeArg(m.NextAttempt), o.d.timeArg(m.UpdatedAt), m.ID)
	if err != nil {
		return fmt.Errorf("update message %s: %w", m.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("update message %s: %w", m.ID, store.ErrNotFound)
	}
	return nil
}

// AddDispatch implements store.Messages. It returns store.ErrNotFound when
// the message does not exist.
func (o *ops) AddDispatch(ctx context.Context, d *core.Dispatch) error {
	if d == nil || d.ID == "" {
		return errors.New("add dispatch: no dispatch id")
	}
	n, err := o.execAffected(ctx, `INSERT INTO courier_message_dispatches
		(id, message_id, status, error, created_at)
		SELECT ?, id, ?, ?, ? FROM courier_messages WHERE id = ?`,
		d.ID, d.Status, d.Error, o.d.timeArg(d.CreatedAt), d.MessageID)
	if err != nil {
		return fmt.Errorf("add dispatch to message %s: %w", d.MessageID, o.wrap(err))
	}
	if n == 0 {
		return fmt.Errorf("add dispatch to message %s: %w", d.MessageID, store.ErrNotFound)
	}
	return nil
}
