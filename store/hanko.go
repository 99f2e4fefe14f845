package store

import (
	"context"
	"encoding/json"
	"time"
)

// The Hanko face's records: audit log entries, webhooks created through its
// admin API, and the webhook delivery queue. They are part of Tx through
// AuditLogs and Webhooks.

// AuditLog is one audit log entry (Hanko's audit_logs row).
type AuditLog struct {
	ID          string
	Type        string // Hanko's audit log type, e.g. "password_login_succeeded"
	Error       string // why it failed; empty on success
	RequestID   string
	SourceIP    string
	UserAgent   string
	ActorUserID string // empty when unknown
	ActorEmail  string // empty when unknown
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// AuditLogQuery selects audit log entries. Zero fields do not filter.
type AuditLogQuery struct {
	Types       []string // any of these types
	ActorUserID string
	ActorEmail  string
	SourceIP    string
	Search      string    // case-insensitive substring of source IP, actor user id or actor e-mail
	From        time.Time // created at or after
	To          time.Time // created at or before
	Offset      int
	Limit       int // 0 means no limit
}

// AuditLogs stores the audit log.
type AuditLogs interface {
	// CreateAuditLog inserts l (its ID and CreatedAt set by the caller).
	// ErrConflict when the id exists.
	CreateAuditLog(ctx context.Context, l *AuditLog) error
	// ListAuditLogs returns entries as q says, newest first (created_at
	// descending, then id descending).
	ListAuditLogs(ctx context.Context, q AuditLogQuery) ([]AuditLog, error)
	// CountAuditLogs returns how many entries match q's filters.
	CountAuditLogs(ctx context.Context, q AuditLogQuery) (int, error)
	// DeleteAuditLogsBefore removes entries created before t and returns how
	// many.
	DeleteAuditLogsBefore(ctx context.Context, t time.Time) (int, error)
}

// Webhook is a webhook created through the Hanko admin API (Hanko's
// "database" webhooks; webhooks from the configuration are not stored).
type Webhook struct {
	ID        string
	Callback  string
	Events    []string
	Enabled   bool
	Failures  int       // consecutive failed deliveries
	ExpiresAt time.Time // zero when it never expires
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DeliveryStatus is where a webhook delivery stands.
type DeliveryStatus string

// Webhook delivery statuses.
const (
	DeliveryQueued     DeliveryStatus = "queued"
	DeliveryProcessing DeliveryStatus = "processing"
	DeliverySent       DeliveryStatus = "sent"
	DeliveryAbandoned  DeliveryStatus = "abandoned"
)

// WebhookDelivery is one event to deliver to one callback. The worker signs
// the event's token when it sends it, so a retried delivery carries a fresh
// token.
type WebhookDelivery struct {
	ID          string
	WebhookID   string // the stored webhook; empty for a webhook from the configuration
	Callback    string
	Event       string
	Data        json.RawMessage // the event's data, as the token's "data" claim
	Status      DeliveryStatus
	Attempts    int
	LastError   string
	NextAttempt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// TraceParent is the W3C traceparent of the request that queued the
	// delivery ("" outside a traced request); sending it continues that
	// trace.
	TraceParent string
}

// WebhookDeliveryQuery selects deliveries. Zero fields do not filter.
type WebhookDeliveryQuery struct {
	WebhookID string
	Status    DeliveryStatus
	Event     string
	Limit     int
}

// Webhooks stores the Hanko admin API's webhooks and the delivery queue.
type Webhooks interface {
	// CreateWebhook inserts w (ID and times set by the caller). ErrConflict
	// when the id exists.
	CreateWebhook(ctx context.Context, w *Webhook) error
	// GetWebhook returns the webhook, or ErrNotFound. Inside Update it locks
	// the row (PostgreSQL, MySQL) so that a read-modify-write of Failures
	// cannot lose a concurrent worker's change.
	GetWebhook(ctx context.Context, id string) (*Webhook, error)
	// ListWebhooks returns every webhook (enabled or not) in creation order.
	ListWebhooks(ctx context.Context) ([]Webhook, error)
	// UpdateWebhook stores every field of w, or returns ErrNotFound.
	UpdateWebhook(ctx context.Context, w *Webhook) error
	// DeleteWebhook removes the webhook and all its deliveries, or returns
	// ErrNotFound.
	DeleteWebhook(ctx context.Context, id string) error

	// CreateWebhookDelivery queues d (ID and times set by the caller; status
	// queued unless set). ErrNotFound when d.WebhookID names no webhook.
	CreateWebhookDelivery(ctx context.Context, d *WebhookDelivery) error
	// ClaimWebhookDeliveries atomically moves up to limit deliveries that are
	// queued with NextAttempt <= now, or processing with UpdatedAt <=
	// now-lease (a worker died holding them), to processing and returns them,
	// oldest first. Two concurrent callers never receive the same delivery.
	ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]WebhookDelivery, error)
	// UpdateWebhookDelivery stores d's status, attempts, last error, next
	// attempt and updated_at, or returns ErrNotFound.
	UpdateWebhookDelivery(ctx context.Context, d *WebhookDelivery) error
	// ListWebhookDeliveries returns deliveries as q says, oldest first.
	ListWebhookDeliveries(ctx context.Context, q WebhookDeliveryQuery) ([]WebhookDelivery, error)
	// DeleteWebhookDeliveriesBefore removes sent and abandoned deliveries
	// last updated before t and returns how many.
	DeleteWebhookDeliveriesBefore(ctx context.Context, t time.Time) (int, error)
}
