package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

var _ store.Maintenance = (*Store)(nil)

// QueueDepth implements store.Maintenance.
func (s *Store) QueueDepth(ctx context.Context) (store.QueueDepth, error) {
	var d store.QueueDepth
	if err := s.ops.queryRow(ctx, `SELECT COUNT(*) FROM courier_messages WHERE status IN (?, ?)`,
		string(core.MessageQueued), string(core.MessageProcessing)).Scan(&d.Messages); err != nil {
		return d, fmt.Errorf("count queued messages: %w", err)
	}
	if err := s.ops.queryRow(ctx, `SELECT COUNT(*) FROM webhook_deliveries WHERE status IN (?, ?)`,
		string(store.DeliveryQueued), string(store.DeliveryProcessing)).Scan(&d.Deliveries); err != nil {
		return d, fmt.Errorf("count queued web-hook deliveries: %w", err)
	}
	return d, nil
}

// DeleteFlowsExpiredBefore implements store.Maintenance.
func (s *Store) DeleteFlowsExpiredBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	return s.deleteBatch(ctx, "expired flows", "flows", "expires_at < ?", limit, s.d.timeArg(t))
}

// DeleteSessionsExpiredBefore implements store.Maintenance.
func (s *Store) DeleteSessionsExpiredBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	return s.deleteBatch(ctx, "expired sessions", "sessions", "expires_at < ?", limit, s.d.timeArg(t))
}

// DeleteMessagesFinishedBefore implements store.Maintenance; dispatches go
// with their message (ON DELETE CASCADE).
func (s *Store) DeleteMessagesFinishedBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	return s.deleteBatch(ctx, "finished courier messages", "courier_messages", "status IN (?, ?) AND updated_at < ?", limit,
		string(core.MessageSent), string(core.MessageAbandoned), s.d.timeArg(t))
}

// DeleteDeliveriesFinishedBefore implements store.Maintenance.
func (s *Store) DeleteDeliveriesFinishedBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	return s.deleteBatch(ctx, "finished web-hook deliveries", "webhook_deliveries", "status IN (?, ?) AND updated_at < ?", limit,
		string(store.DeliverySent), string(store.DeliveryAbandoned), s.d.timeArg(t))
}

// DeleteAuditLogsCreatedBefore implements store.Maintenance.
func (s *Store) DeleteAuditLogsCreatedBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	return s.deleteBatch(ctx, "old audit logs", "audit_logs", "created_at < ?", limit, s.d.timeArg(t))
}

// DeleteTrustedDevicesExpiredBefore implements store.Maintenance.
func (s *Store) DeleteTrustedDevicesExpiredBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	return s.deleteBatch(ctx, "expired trusted devices", "trusted_devices", "expires_at < ?", limit, s.d.timeArg(t))
}

// deleteBatch deletes at most limit rows of table matching cond in one
// transaction. MySQL has DELETE … LIMIT; PostgreSQL and SQLite (as built
// here) do not, so they delete by the ids of a limited sub-select.
func (s *Store) deleteBatch(ctx context.Context, what, table, cond string, limit int, args ...any) (n int, err error) {
	if limit <= 0 {
		return 0, errors.New("delete " + what + ": the batch limit must be positive")
	}
	q := `DELETE FROM ` + table + ` WHERE id IN (SELECT id FROM ` + table + ` WHERE ` + cond + ` LIMIT ` + strconv.Itoa(limit) + `)`
	if s.d.Flavor == MySQL {
		q = `DELETE FROM ` + table + ` WHERE ` + cond + ` LIMIT ` + strconv.Itoa(limit)
	}
	err = s.inTx(ctx, func(o *ops) error {
		n, err = o.execAffected(ctx, q, args...)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete %s: %w", what, err)
	}
	return n, nil
}
