package store

import (
	"context"
	"time"
)

// QueueDepth is how many jobs wait in the queues: queued or being sent.
type QueueDepth struct {
	Messages   int // courier messages
	Deliveries int // web-hook deliveries
}

// Maintenance is what `latchkey cleanup`, serve's sweeper and the metrics
// need; every backend implements it beside Store (the conformance suite
// checks), but callers that only serve requests need not see it. Each Delete method removes at most limit rows (limit must be
// positive) in one short transaction and returns how many it removed, so
// a caller deletes a large backlog in batches that never lock the database
// for long: call again until it returns fewer than limit.
type Maintenance interface {
	// QueueDepth counts the courier messages and web-hook deliveries that
	// are queued or processing.
	QueueDepth(ctx context.Context) (QueueDepth, error)
	// DeleteFlowsExpiredBefore removes flows whose expiry is before t.
	DeleteFlowsExpiredBefore(ctx context.Context, t time.Time, limit int) (int, error)
	// DeleteSessionsExpiredBefore removes sessions whose expiry is before t
	// (active or not).
	DeleteSessionsExpiredBefore(ctx context.Context, t time.Time, limit int) (int, error)
	// DeleteMessagesFinishedBefore removes courier messages that were sent
	// or abandoned and last changed before t, with their dispatches.
	DeleteMessagesFinishedBefore(ctx context.Context, t time.Time, limit int) (int, error)
	// DeleteDeliveriesFinishedBefore removes web-hook deliveries that were
	// sent or abandoned and last changed before t.
	DeleteDeliveriesFinishedBefore(ctx context.Context, t time.Time, limit int) (int, error)
	// DeleteAuditLogsCreatedBefore removes audit log entries created before t.
	DeleteAuditLogsCreatedBefore(ctx context.Context, t time.Time, limit int) (int, error)
	// DeleteTrustedDevicesExpiredBefore removes Hanko trusted devices whose
	// expiry is before t.
	DeleteTrustedDevicesExpiredBefore(ctx context.Context, t time.Time, limit int) (int, error)
}
