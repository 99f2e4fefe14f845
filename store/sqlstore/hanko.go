package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// The Hanko face's records: audit_logs, webhooks and webhook_deliveries
// (migration 00003).

const auditLogColumns = `id, type, error, request_id, source_ip, user_agent, actor_user_id,
	actor_email, created_at, updated_at`

// CreateAuditLog implements store.AuditLogs.
func (o *ops) CreateAuditLog(ctx context.Context, l *store.AuditLog) error {
	if l == nil || l.ID == "" {
		return errors.New("create audit log: no audit log id")
	}
	if l.UpdatedAt.IsZero() {
		l.UpdatedAt = l.CreatedAt
	}
	_, err := o.exec(ctx, `INSERT INTO audit_logs (`+auditLogColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.ID, l.Type, l.Error, l.RequestID, l.SourceIP, l.UserAgent, l.ActorUserID, l.ActorEmail,
		o.d.timeArg(l.CreatedAt), o.d.timeArg(l.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create audit log %s: %w", l.ID, o.wrap(err))
	}
	return nil
}

// auditLogWhere renders q's filters.
func (o *ops) auditLogWhere(q store.AuditLogQuery) (string, []any) {
	var conds []string
	var args []any
	if len(q.Types) > 0 {
		conds = append(conds, `type IN (`+placeholders(len(q.Types))+`)`)
		args = append(args, anys(q.Types)...)
	}
	if q.ActorUserID != "" {
		conds = append(conds, `actor_user_id = ?`)
		args = append(args, q.ActorUserID)
	}
	if q.ActorEmail != "" {
		conds = append(conds, `actor_email = ?`)
		args = append(args, q.ActorEmail)
	}
	if q.SourceIP != "" {
		conds = append(conds, `source_ip = ?`)
		args = append(args, q.SourceIP)
	}
	if q.Search != "" {
		pat := "%" + strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(strings.ToLower(q.Search)) + "%"
		conds = append(conds, `(LOWER(source_ip) LIKE ? ESCAPE '!' OR LOWER(actor_user_id) LIKE ? ESCAPE '!'
			OR LOWER(actor_email) LIKE ? ESCAPE '!')`)
		args = append(args, pat, pat, pat)
	}
	if !q.From.IsZero() {
		conds = append(conds, `created_at >= ?`)
		args = append(args, o.d.timeArg(q.From))
	}
	if !q.To.IsZero() {
		conds = append(conds, `created_at <= ?`)
		args = append(args, o.d.timeArg(q.To))
	}
	return where(conds), args
}

// ListAuditLogs implements store.AuditLogs.
func (o *ops) ListAuditLogs(ctx context.Context, q store.AuditLogQuery) ([]store.AuditLog, error) {
	if malformed(q.ActorUserID) {
		return nil, nil
	}
	w, args := o.auditLogWhere(q)
	rows, err := o.query(ctx, `SELECT `+auditLogColumns+` FROM audit_logs`+w+
		` ORDER BY created_at DESC, id DESC`+limitOffset(q.Limit, q.Offset), args...)
	if err != nil {
		return nil, fmt.Errorf("list audit logs: %w", err)
	}
	defer rows.Close()
	var list []store.AuditLog
	for rows.Next() {
		var l store.AuditLog
		if err := rows.Scan(&l.ID, &l.Type, &l.Error, &l.RequestID, &l.SourceIP, &l.UserAgent,
			&l.ActorUserID, &l.ActorEmail, timeScan{&l.CreatedAt}, timeScan{&l.UpdatedAt}); err != nil {
			return nil, fmt.Errorf("list audit logs: scan: %w", err)
		}
		list = append(list, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit logs: %w", err)
	}
	return list, nil
}

// CountAuditLogs implements store.AuditLogs.
func (o *ops) CountAuditLogs(ctx context.Context, q store.AuditLogQuery) (int, error) {
	if malformed(q.ActorUserID) {
		return 0, nil
	}
	w, args := o.auditLogWhere(q)
	var n int
	if err := o.queryRow(ctx, `SELECT COUNT(*) FROM audit_logs`+w, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count audit logs: %w", err)
	}
	return n, nil
}

// DeleteAuditLogsBefore implements store.AuditLogs.
func (o *ops) DeleteAuditLogsBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := o.execAffected(ctx, `DELETE FROM audit_logs WHERE created_at < ?`, o.d.timeArg(t))
	if err != nil {
		return 0, fmt.Errorf("delete audit logs before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

const webhookColumns = `id, callback, events, enabled, failures, expires_at, created_at, updated_at`

func scanWebhook(r rowScanner, w *store.Webhook) error {
	var events []byte
	if err := r.Scan(&w.ID, &w.Callback, bytesScan{&events}, &w.Enabled, &w.Failures,
		timeScan{&w.ExpiresAt}, timeScan{&w.CreatedAt}, timeScan{&w.UpdatedAt}); err != nil {
		return err
	}
	w.Events = nil
	if len(events) > 0 {
		if err := json.Unmarshal(events, &w.Events); err != nil {
			return fmt.Errorf("decode events of webhook %s: %w", w.ID, err)
		}
	}
	return nil
}

// eventsArg encodes a webhook's event list.
func eventsArg(events []string) (string, error) {
	if events == nil {
		events = []string{}
	}
	b, err := json.Marshal(events)
	return string(b), err
}

// CreateWebhook implements store.Webhooks.
func (o *ops) CreateWebhook(ctx context.Context, w *store.Webhook) error {
	if w == nil || w.ID == "" {
		return errors.New("create webhook: no webhook id")
	}
	events, err := eventsArg(w.Events)
	if err != nil {
		return fmt.Errorf("create webhook %s: %w", w.ID, err)
	}
	_, err = o.exec(ctx, `INSERT INTO webhooks (`+webhookColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		w.ID, w.Callback, events, w.Enabled, w.Failures, o.d.timeArg(w.ExpiresAt),
		o.d.timeArg(w.CreatedAt), o.d.timeArg(w.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create webhook %s: %w", w.ID, o.wrap(err))
	}
	return nil
}

// GetWebhook implements store.Webhooks.
func (o *ops) GetWebhook(ctx context.Context, id string) (*store.Webhook, error) {
	if !core.IsID(id) {
		return nil, fmt.Errorf("get webhook %q: %w", id, store.ErrNotFound)
	}
	var w store.Webhook
	err := scanWebhook(o.queryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = ?`+o.forUpdate(), id), &w)
	if err != nil {
		return nil, fmt.Errorf("get webhook %s: %w", id, o.wrap(err))
	}
	return &w, nil
}

// ListWebhooks implements store.Webhooks.
func (o *ops) ListWebhooks(ctx context.Context) ([]store.Webhook, error) {
	rows, err := o.query(ctx, `SELECT `+webhookColumns+` FROM webhooks ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	defer rows.Close()
	var list []store.Webhook
	for rows.Next() {
		var w store.Webhook
		if err := scanWebhook(rows, &w); err != nil {
			return nil, fmt.Errorf("list webhooks: scan: %w", err)
		}
		list = append(list, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return list, nil
}

// UpdateWebhook implements store.Webhooks.
func (o *ops) UpdateWebhook(ctx context.Context, w *store.Webhook) error {
	if w == nil {
		return errors.New("update webhook: webhook is nil")
	}
	if !core.IsID(w.ID) {
		return fmt.Errorf("update webhook %q: %w", w.ID, store.ErrNotFound)
	}
	events, err := eventsArg(w.Events)
	if err != nil {
		return fmt.Errorf("update webhook %s: %w", w.ID, err)
	}
	n, err := o.execAffected(ctx, `UPDATE webhooks SET callback = ?, events = ?, enabled = ?,
		failures = ?, expires_at = ?, updated_at = ? WHERE id = ?`,
		w.Callback, events, w.Enabled, w.Failures, o.d.timeArg(w.ExpiresAt), o.d.timeArg(w.UpdatedAt), w.ID)
	if err != nil {
		return fmt.Errorf("update webhook %s: %w", w.ID, o.wrap(err))
	}
	if n == 0 {
		return fmt.Errorf("update webhook %s: %w", w.ID, store.ErrNotFound)
	}
	return nil
}

// DeleteWebhook implements store.Webhooks. Its deliveries are deleted first
// (the foreign key also cascades).
func (o *ops) DeleteWebhook(ctx context.Context, id string) error {
	if !core.IsID(id) {
		return fmt.Errorf("delete webhook %q: %w", id, store.ErrNotFound)
	}
	if _, err := o.exec(ctx, `DELETE FROM webhook_deliveries WHERE webhook_id = ?`, id); err != nil {
		return fmt.Errorf("delete webhook %s deliveries: %w", id, err)
	}
	n, err := o.execAffected(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete webhook %s: %w", id, store.ErrNotFound)
	}
	return nil
}

const deliveryColumns = `id, webhook_id, callback, event, data, status, attempts, last_error,
	next_attempt, created_at, updated_at, trace_parent`

func scanDelivery(r rowScanner, d *store.WebhookDelivery) error {
	return r.Scan(&d.ID, stringScan{&d.WebhookID}, &d.Callback, &d.Event, bytesScan{(*[]byte)(&d.Data)},
		&d.Status, &d.Attempts, &d.LastError, timeScan{&d.NextAttempt}, timeScan{&d.CreatedAt},
		timeScan{&d.UpdatedAt}, &d.TraceParent)
}

func (o *ops) deliveries(ctx context.Context, q string, args ...any) ([]store.WebhookDelivery, error) {
	rows, err := o.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []store.WebhookDelivery
	for rows.Next() {
		var d store.WebhookDelivery
		if err := scanDelivery(rows, &d); err != nil {
			return nil, fmt.Errorf("scan webhook delivery: %w", err)
		}
		list = append(list, d)
	}
	return list, rows.Err()
}

// CreateWebhookDelivery implements store.Webhooks.
func (o *ops) CreateWebhookDelivery(ctx context.Context, d *store.WebhookDelivery) error {
	if d == nil || d.ID == "" {
		return errors.New("create webhook delivery: no delivery id")
	}
	if d.Status == "" {
		d.Status = store.DeliveryQueued
	}
	if d.UpdatedAt.IsZero() {
		d.UpdatedAt = d.CreatedAt
	}
	if d.WebhookID != "" {
		// A foreign key failure is reported differently by every driver;
		// asking first gives the contract's ErrNotFound.
		var one int
		if err := o.queryRow(ctx, `SELECT 1 FROM webhooks WHERE id = ?`, d.WebhookID).Scan(&one); err != nil {
			return fmt.Errorf("create webhook delivery %s: webhook %s: %w", d.ID, d.WebhookID, o.wrap(err))
		}
	}
	_, err := o.exec(ctx, `INSERT INTO webhook_deliveries (`+deliveryColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, nullArg(d.WebhookID), d.Callback, d.Event, jsonArg(d.Data), string(d.Status), d.Attempts,
		d.LastError, o.d.timeArg(d.NextAttempt), o.d.timeArg(d.CreatedAt), o.d.timeArg(d.UpdatedAt), d.TraceParent)
	if err != nil {
		return fmt.Errorf("create webhook delivery %s: %w", d.ID, o.wrap(err))
	}
	return nil
}

// ClaimWebhookDeliveries implements store.Webhooks. Like ClaimMessages it
// must run inside a transaction: the selected rows stay locked (see
// claimIDs) until they are marked processing.
func (o *ops) ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.WebhookDelivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	ids, err := o.claimIDs(ctx, "webhook_deliveries", string(store.DeliveryQueued), string(store.DeliveryProcessing), now, lease, limit)
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	in := placeholders(len(ids))
	args := append([]any{string(store.DeliveryProcessing), o.d.timeArg(now)}, anys(ids)...)
	if _, err := o.exec(ctx, `UPDATE webhook_deliveries SET status = ?, updated_at = ?
		WHERE id IN (`+in+`)`, args...); err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: mark processing: %w", err)
	}
	list, err := o.deliveries(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE id IN (`+in+`) ORDER BY created_at, id`, anys(ids)...)
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: load: %w", err)
	}
	return list, nil
}

// UpdateWebhookDelivery implements store.Webhooks.
func (o *ops) UpdateWebhookDelivery(ctx context.Context, d *store.WebhookDelivery) error {
	if d == nil {
		return errors.New("update webhook delivery: delivery is nil")
	}
	if !core.IsID(d.ID) {
		return fmt.Errorf("update webhook delivery %q: %w", d.ID, store.ErrNotFound)
	}
	n, err := o.execAffected(ctx, `UPDATE webhook_deliveries SET status = ?, attempts = ?, last_error = ?,
		next_attempt = ?, updated_at = ? WHERE id = ?`,
		string(d.Status), d.Attempts, d.LastError, o.d.timeArg(d.NextAttempt), o.d.timeArg(d.UpdatedAt), d.ID)
	if err != nil {
		return fmt.Errorf("update webhook delivery %s: %w", d.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("update webhook delivery %s: %w", d.ID, store.ErrNotFound)
	}
	return nil
}

// ListWebhookDeliveries implements store.Webhooks.
func (o *ops) ListWebhookDeliveries(ctx context.Context, q store.WebhookDeliveryQuery) ([]store.WebhookDelivery, error) {
	if malformed(q.WebhookID) {
		return nil, nil
	}
	var conds []string
	var args []any
	if q.WebhookID != "" {
		conds = append(conds, `webhook_id = ?`)
		args = append(args, q.WebhookID)
	}
	if q.Status != "" {
		conds = append(conds, `status = ?`)
		args = append(args, string(q.Status))
	}
	if q.Event != "" {
		conds = append(conds, `event = ?`)
		args = append(args, q.Event)
	}
	list, err := o.deliveries(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries`+where(conds)+
		` ORDER BY created_at, id`+limitOffset(q.Limit, 0), args...)
	if err != nil {
		return nil, fmt.Errorf("list webhook deliveries: %w", err)
	}
	return list, nil
}

// DeleteWebhookDeliveriesBefore implements store.Webhooks.
func (o *ops) DeleteWebhookDeliveriesBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := o.execAffected(ctx, `DELETE FROM webhook_deliveries WHERE status IN (?, ?) AND updated_at < ?`,
		string(store.DeliverySent), string(store.DeliveryAbandoned), o.d.timeArg(t))
	if err != nil {
		return 0, fmt.Errorf("delete webhook deliveries before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

// The methods below shadow the read-handle ops, as in writes.go.

// CreateAuditLog implements store.AuditLogs in its own transaction.
func (s *Store) CreateAuditLog(ctx context.Context, l *store.AuditLog) error {
	return s.inTx(ctx, func(o *ops) error { return o.CreateAuditLog(ctx, l) })
}

// DeleteAuditLogsBefore implements store.AuditLogs in its own transaction.
func (s *Store) DeleteAuditLogsBefore(ctx context.Context, t time.Time) (n int, err error) {
	err = s.inTx(ctx, func(o *ops) error {
		n, err = o.DeleteAuditLogsBefore(ctx, t)
		return err
	})
	return n, err
}

// CreateWebhook implements store.Webhooks in its own transaction.
func (s *Store) CreateWebhook(ctx context.Context, w *store.Webhook) error {
	return s.inTx(ctx, func(o *ops) error { return o.CreateWebhook(ctx, w) })
}

// UpdateWebhook implements store.Webhooks in its own transaction.
func (s *Store) UpdateWebhook(ctx context.Context, w *store.Webhook) error {
	return s.inTx(ctx, func(o *ops) error { return o.UpdateWebhook(ctx, w) })
}

// DeleteWebhook implements store.Webhooks in its own transaction.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	return s.inTx(ctx, func(o *ops) error { return o.DeleteWebhook(ctx, id) })
}

// CreateWebhookDelivery implements store.Webhooks in its own transaction.
func (s *Store) CreateWebhookDelivery(ctx context.Context, d *store.WebhookDelivery) error {
	return s.inTx(ctx, func(o *ops) error { return o.CreateWebhookDelivery(ctx, d) })
}

// ClaimWebhookDeliveries implements store.Webhooks in its own transaction.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) (list []store.WebhookDelivery, err error) {
	err = s.inClaimTx(ctx, func(o *ops) error {
		list, err = o.ClaimWebhookDeliveries(ctx, now, lease, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// UpdateWebhookDelivery implements store.Webhooks in its own transaction.
func (s *Store) UpdateWebhookDelivery(ctx context.Context, d *store.WebhookDelivery) error {
	return s.inTx(ctx, func(o *ops) error { return o.UpdateWebhookDelivery(ctx, d) })
}

// DeleteWebhookDeliveriesBefore implements store.Webhooks in its own
// transaction.
func (s *Store) DeleteWebhookDeliveriesBefore(ctx context.Context, t time.Time) (n int, err error) {
	err = s.inTx(ctx, func(o *ops) error {
		n, err = o.DeleteWebhookDeliveriesBefore(ctx, t)
		return err
	})
	return n, err
}
