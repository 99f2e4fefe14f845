package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/queue"
	"github.com/latchkey/latchkey/store"
)

// TokenSubject is the sub claim of every webhook token, as Hanko sets it.
const TokenSubject = "hanko webhooks"

// TokenLifetime is how long a webhook token is valid after it is signed.
const TokenLifetime = 5 * time.Minute

// Token is what a webhook token says: the event and its data, with its
// issue and expiry times. The signer adds sub (TokenSubject) and aud.
type Token struct {
	Event     string
	Data      json.RawMessage
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Signer signs webhook tokens with the server's signing keys. The Hanko
// face's Handler implements it over session.Keys (kept behind this small
// interface so this package does not depend on the session package).
type Signer interface {
	// SignWebhookToken returns the compact JWS of t, or an error.
	SignWebhookToken(ctx context.Context, t Token) (string, error)
}

// Payload is the body POSTed to a callback (Hanko's JobData).
type Payload struct {
	Token string `json:"token"`
	Event string `json:"event"`
}

// WorkerOptions configures a Worker. Zero fields take defaults.
type WorkerOptions struct {
	// Store holds the queue and the stored webhooks; required.
	Store store.Store
	// Signer signs the delivery tokens of Hanko events; nil when the Hanko
	// face's webhooks are off (such deliveries then wait in the queue).
	Signer Signer
	// Kratos sends queued Kratos web_hook calls (KratosEvent); nil when no
	// web_hook is configured (such deliveries then wait in the queue).
	Kratos *Kratos
	// Config is hanko.webhooks: max_attempts, max_failures, timeout and
	// allow_time_expiration are used. Zero MaxAttempts and MaxFailures mean
	// 5, zero Timeout 10s.
	Config config.HankoWebhooks
	// Client sends the requests; default a client that follows no
	// redirects. Its own Timeout, if any, applies besides Config.Timeout.
	Client *http.Client
	// BatchSize is how many deliveries one claim takes; default 10.
	BatchSize int
	// PullWait is the pause between polls of an empty queue; default 1s.
	PullWait time.Duration
	// Lease is how long a claimed delivery stays with this worker before
	// another may take it over (if this one died); default 5m; must be
	// above Config.Timeout.
	Lease time.Duration
	// BackoffBase is the delay after the first failure of a Hanko event,
	// doubled after each further one up to BackoffMax; defaults 10s and 1h,
	// jittered to between half and all of it. Kratos web_hook calls follow
	// Kratos' policy instead (KratosMaxAttempts, KratosRetryDelay).
	BackoffBase, BackoffMax time.Duration
	// Retain is how long sent and abandoned deliveries are kept; default
	// 7 days. Run deletes older ones about once an hour.
	Retain time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Jitter returns a number in [0, 1); default math/rand/v2.Float64.
	Jitter func() float64
	// Logger logs delivery failures; default slog.Default().
	Logger *slog.Logger
	// OnFailure, when set, is called after each failed delivery attempt of
	// a Hanko event; abandoned is true when the job will not be tried again
	// (metrics). OnKratosFailure is the same for Kratos web_hook calls.
	OnFailure, OnKratosFailure func(abandoned bool)
	// Tracer, when set, makes each delivery attempt a span
	// ("webhook.deliver <event>") in the trace of the request that queued
	// it.
	Tracer queue.Tracer
}

// Worker delivers queued webhook events. Several workers, in one process or
// in many replicas, may run on one store: ClaimWebhookDeliveries hands each
// delivery to one of them.
type Worker struct {
	o       WorkerOptions
	backoff queue.Backoff
	log     *slog.Logger
}

// NewWorker checks o and returns a Worker. It returns an error when Store is
// nil, Signer and Kratos are both nil, or the request timeout is not below
// the lease.
func NewWorker(o WorkerOptions) (*Worker, error) {
	if o.Store == nil || (o.Signer == nil && o.Kratos == nil) {
		return nil, errors.New("webhook worker: Store and a Signer or Kratos web hooks are required")
	}
	w := &Worker{o: o, log: o.Logger}
	c := &w.o.Config
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = 5
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if w.o.Client == nil {
		w.o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if w.o.BatchSize <= 0 {
		w.o.BatchSize = 10
	}
	if w.o.PullWait <= 0 {
		w.o.PullWait = time.Second
	}
	if w.o.Lease <= 0 {
		w.o.Lease = 5 * time.Minute
	}
	if c.Timeout >= w.o.Lease {
		return nil, fmt.Errorf("webhook worker: timeout %s must be below the lease %s", c.Timeout, w.o.Lease)
	}
	if w.o.BackoffBase <= 0 {
		w.o.BackoffBase = 10 * time.Second
	}
	if w.o.BackoffMax < w.o.BackoffBase {
		w.o.BackoffMax = max(time.Hour, w.o.BackoffBase)
	}
	if w.o.Retain <= 0 {
		w.o.Retain = 7 * 24 * time.Hour
	}
	if w.o.Now == nil {
		w.o.Now = time.Now
	}
	if w.o.Jitter == nil {
		w.o.Jitter = rand.Float64
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	w.backoff = queue.Backoff{Base: w.o.BackoffBase, Max: w.o.BackoffMax, Jitter: w.o.Jitter}
	return w, nil
}

// cleanupEvery is how often Run deletes finished deliveries.
const cleanupEvery = time.Hour

// Run delivers events until ctx is cancelled, then returns nil: it polls
// the queue every PullWait (at once again after a full batch). On
// cancellation the request in flight is finished and recorded, and the rest
// of its batch is handed back to the queue. Store errors are logged and
// retried on the next poll.
func (w *Worker) Run(ctx context.Context) error {
	var lastCleanup time.Time
	tick := func(ctx context.Context) (int, error) {
		if now := w.o.Now(); now.Sub(lastCleanup) >= cleanupEvery {
			lastCleanup = now
			if _, err := w.o.Store.DeleteWebhookDeliveriesBefore(ctx, now.Add(-w.o.Retain)); err != nil && ctx.Err() == nil {
				w.log.ErrorContext(ctx, "webhook: deleting old deliveries", slog.Any("error", err))
			}
		}
		return w.Tick(ctx)
	}
	queue.Poll(ctx, w.o.PullWait, w.o.BatchSize, tick, func(err error) {
		w.log.ErrorContext(ctx, "webhook: delivering events", slog.Any("error", err))
	})
	return nil
}

// Tick claims one batch of due deliveries and sends them, returning how
// many it claimed. It returns an error only when the store (or the signer)
// fails; failed requests are recorded on the deliveries. If ctx is
// cancelled meanwhile, the request in flight is finished and the rest are
// released.
func (w *Worker) Tick(ctx context.Context) (int, error) {
	list, err := w.o.Store.ClaimWebhookDeliveries(ctx, w.o.Now().UTC(), w.o.Lease, w.o.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	return len(list), queue.Drain(ctx, list, w.deliver, w.release)
}

// release hands a claimed, unsent delivery back to the queue.
func (w *Worker) release(ctx context.Context, d *store.WebhookDelivery) error {
	rctx, cancel := queue.Detached(ctx, 10*time.Second)
	defer cancel()
	d.Status = store.DeliveryQueued
	d.UpdatedAt = w.o.Now().UTC()
	if err := w.o.Store.UpdateWebhookDelivery(rctx, d); err != nil {
		return fmt.Errorf("release webhook delivery %s: %w", d.ID, err)
	}
	return nil
}

// errHookGone marks a delivery whose stored webhook was deleted, disabled
// or expired: it is abandoned without a request.
var errHookGone = errors.New("webhook deleted, disabled or expired")

// parkFor is how long a delivery no sender of this worker handles waits
// before it is claimed again.
const parkFor = time.Minute

func (w *Worker) deliver(ctx context.Context, d *store.WebhookDelivery) error {
	now := w.o.Now().UTC()
	kratos := d.Event == KratosEvent
	if (kratos && w.o.Kratos == nil) || (!kratos && w.o.Signer == nil) {
		d.NextAttempt = now.Add(parkFor)
		return w.release(ctx, d)
	}
	if kratos {
		// Finish a request that started, even on shutdown (the client's
		// own timeout bounds it).
		sctx, cancel := queue.Detached(ctx, w.o.Config.Timeout)
		sctx, end := w.startJob(sctx, d)
		err := w.o.Kratos.Deliver(sctx, d)
		end(err)
		cancel()
		return w.record(ctx, d, err, false)
	}
	if d.WebhookID != "" {
		h, err := w.o.Store.GetWebhook(ctx, d.WebhookID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return w.record(ctx, d, errHookGone, false)
		case err != nil:
			return fmt.Errorf("webhook delivery %s: %w", d.ID, err)
		case !Active(h, w.o.Config.AllowTimeExpiration, now):
			if h.Enabled { // expired: disable it, as Hanko does on its expiry date
				return w.record(ctx, d, errHookGone, true)
			}
			return w.record(ctx, d, errHookGone, false)
		}
	}
	token, err := w.o.Signer.SignWebhookToken(ctx, Token{Event: d.Event, Data: d.Data,
		IssuedAt: now, ExpiresAt: now.Add(TokenLifetime)})
	if err != nil {
		// A signing failure is ours, not the receiver's: put it back for the
		// next poll without counting an attempt.
		if rerr := w.release(ctx, d); rerr != nil {
			return errors.Join(fmt.Errorf("sign webhook token: %w", err), rerr)
		}
		return fmt.Errorf("sign webhook token for delivery %s: %w", d.ID, err)
	}
	jctx, end := w.startJob(ctx, d)
	sendErr := w.send(jctx, d.Callback, Payload{Token: token, Event: d.Event})
	end(sendErr)
	return w.record(ctx, d, sendErr, false)
}

// startJob starts the span of one delivery attempt, in the trace of the
// request that queued d.
func (w *Worker) startJob(ctx context.Context, d *store.WebhookDelivery) (context.Context, func(error)) {
	return queue.StartJob(w.o.Tracer, ctx, "webhook.deliver "+d.Event, d.TraceParent,
		"webhook.delivery_id", d.ID, "webhook.event", d.Event)
}

// send POSTs p to callback; any status outside 2xx is a failure.
func (w *Worker) send(ctx context.Context, callback string, p Payload) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode payload: %w", err)
	}
	sctx, cancel := queue.Detached(ctx, w.o.Config.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(sctx, http.MethodPost, callback, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Latchkey-Webhooks/1")
	resp, err := w.o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("callback answered %d", resp.StatusCode)
	}
	return nil
}

// record stores the outcome of one delivery: on the delivery (sent, queued
// again with back-off, or abandoned) and, for a stored webhook, on the hook
// (failures counted and the hook disabled at max_failures, or reset on
// success), in one transaction. disable switches the hook off outright (it
// expired).
func (w *Worker) record(ctx context.Context, d *store.WebhookDelivery, sendErr error, disable bool) error {
	now := w.o.Now().UTC()
	d.UpdatedAt = now
	gone := errors.Is(sendErr, errHookGone)
	switch {
	case sendErr == nil:
		d.Attempts++
		d.Status, d.LastError = store.DeliverySent, ""
	case gone:
		d.Status, d.LastError = store.DeliveryAbandoned, sendErr.Error()
	default:
		d.Attempts++
		d.LastError = queue.ErrorText(sendErr)
		maxAttempts, delay := w.o.Config.MaxAttempts, time.Duration(0)
		var ce *callError
		switch {
		case d.Event != KratosEvent:
			delay = w.backoff.Delay(d.Attempts)
		case errors.As(sendErr, &ce) && ce.final:
			maxAttempts = d.Attempts // trying again cannot help
		default:
			maxAttempts, delay = KratosMaxAttempts, KratosRetryDelay(d.Attempts)
			if ce != nil && ce.after > 0 {
				delay = ce.after
			}
		}
		if d.Attempts >= maxAttempts {
			d.Status = store.DeliveryAbandoned
		} else {
			d.Status = store.DeliveryQueued
			d.NextAttempt = now.Add(delay)
		}
	}
	onFailure := w.o.OnFailure
	if d.Event == KratosEvent {
		onFailure = w.o.OnKratosFailure
	}
	if sendErr != nil && !gone && onFailure != nil {
		onFailure(d.Status == store.DeliveryAbandoned)
	}
	if sendErr != nil && !gone {
		w.log.WarnContext(ctx, "webhook: delivery failed", slog.String("delivery_id", d.ID),
			slog.String("event", d.Event), slog.Int("attempt", d.Attempts),
			slog.String("status", string(d.Status)), slog.String("error", d.LastError))
	}
	rctx, cancel := queue.Detached(ctx, 10*time.Second)
	defer cancel()
	err := w.o.Store.Update(rctx, func(tx store.Tx) error {
		if err := tx.UpdateWebhookDelivery(rctx, d); err != nil {
			return err
		}
		if d.WebhookID == "" || (gone && !disable) {
			return nil
		}
		if sendErr == nil && !w.o.Config.AllowTimeExpiration && !disable {
			// Only a failure count to reset; skip the write when there is none.
			h, err := tx.GetWebhook(rctx, d.WebhookID)
			if err != nil || h.Failures == 0 {
				return nil
			}
		}
		h, err := tx.GetWebhook(rctx, d.WebhookID) // locked until commit
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		switch {
		case disable:
			h.Enabled = false
		case sendErr == nil:
			h.Failures = 0
			if w.o.Config.AllowTimeExpiration {
				h.ExpiresAt = now.Add(ExpireAfter)
			}
		default:
			h.Failures++
			if h.Failures >= w.o.Config.MaxFailures && h.Enabled {
				h.Enabled = false
				w.log.WarnContext(rctx, "webhook: disabled after repeated failures",
					slog.String("webhook_id", h.ID), slog.Int("failures", h.Failures))
			}
		}
		h.UpdatedAt = now
		return tx.UpdateWebhook(rctx, h)
	})
	if err != nil {
		return fmt.Errorf("record webhook delivery %s: %w", d.ID, err)
	}
	return nil
}
