package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/queue"
	"github.com/latchkey/latchkey/store"
)

// ExpireAfter is how long a webhook created through the admin API lives
// after its last update or successful delivery when
// hanko.webhooks.allow_time_expiration is on (Hanko's 30 days).
const ExpireAfter = 30 * 24 * time.Hour

// Matches reports whether a hook listening to the events in hookEvents
// receives event: one of them equals event or is a dot-separated prefix of
// it ("user.update" matches "user.update.email.create", not
// "user.updated").
func Matches(hookEvents []string, event string) bool {
	for _, e := range hookEvents {
		if e == "" {
			continue
		}
		if event == e || strings.HasPrefix(event, e+".") {
			return true
		}
	}
	return false
}

// DispatcherOptions configures a Dispatcher.
type DispatcherOptions struct {
	// Config is hanko.webhooks: whether events are sent at all, the
	// configured hooks and whether stored hooks expire.
	Config config.HankoWebhooks
	// Now is the clock; default time.Now.
	Now func() time.Time
	// NewID returns delivery ids; default a random UUID v4.
	NewID func() string
	// Tracer, when set, gives a queued delivery the traceparent of the
	// request that queued it.
	Tracer queue.Tracer
}

// Dispatcher queues webhook events. It implements the Events interface of
// the Hanko face and is safe for concurrent use.
type Dispatcher struct {
	cfg    config.HankoWebhooks
	now    func() time.Time
	newID  func() string
	tracer queue.Tracer
}

// NewDispatcher returns a Dispatcher over o. It never fails today; the
// error is there so that checks can be added without changing callers.
func NewDispatcher(o DispatcherOptions) (*Dispatcher, error) {
	d := &Dispatcher{cfg: o.Config, now: o.Now, newID: o.NewID, tracer: o.Tracer}
	if d.now == nil {
		d.now = time.Now
	}
	if d.newID == nil {
		d.newID = uuid.NewString
	}
	return d, nil
}

// Enabled reports whether events are sent at all (hanko.webhooks.enabled):
// when not, Enqueue does nothing, and a caller may skip building the data.
func (d *Dispatcher) Enabled() bool { return d.cfg.Enabled }

// Enqueue queues event with data for every enabled, unexpired webhook
// listening to it, through tx, so the deliveries commit or roll back with
// the change that caused them. With webhooks disabled it does nothing. It
// returns an error when data does not encode to JSON (data is encoded only
// when a hook takes the event) and a wrapped store error otherwise.
func (d *Dispatcher) Enqueue(ctx context.Context, tx store.Tx, event string, data any) error {
	if !d.cfg.Enabled {
		return nil
	}
	// The data is encoded once, for the first hook that takes the event:
	// with none (the usual case) it is not encoded at all.
	var payload []byte
	now := d.now().UTC()
	tp := queue.TraceParent(d.tracer, ctx)
	enqueue := func(webhookID, callback string) error {
		if payload == nil {
			var err error
			if payload, err = json.Marshal(data); err != nil {
				return fmt.Errorf("webhook: encode %s data: %w", event, err)
			}
		}
		del := &store.WebhookDelivery{ID: d.newID(), WebhookID: webhookID, Callback: callback, Event: event,
			Data: payload, Status: store.DeliveryQueued, NextAttempt: now, CreatedAt: now, UpdatedAt: now, TraceParent: tp}
		if err := tx.CreateWebhookDelivery(ctx, del); err != nil {
			return fmt.Errorf("webhook: queue %s for %s: %w", event, callback, err)
		}
		return nil
	}
	for _, h := range d.cfg.Hooks {
		if Matches(h.Events, event) {
			if err := enqueue("", h.Callback); err != nil {
				return err
			}
		}
	}
	hooks, err := tx.ListWebhooks(ctx)
	if err != nil {
		return fmt.Errorf("webhook: queue %s: %w", event, err)
	}
	for _, h := range hooks {
		if !Active(&h, d.cfg.AllowTimeExpiration, now) || !Matches(h.Events, event) {
			continue
		}
		if err := enqueue(h.ID, h.Callback); err != nil {
			return err
		}
	}
	return nil
}

// Active reports whether a stored webhook takes events at now: it is
// enabled and, when expiry is on, has not expired.
func Active(h *store.Webhook, expire bool, now time.Time) bool {
	if !h.Enabled {
		return false
	}
	return !expire || h.ExpiresAt.IsZero() || h.ExpiresAt.After(now)
}
