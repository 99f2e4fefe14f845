package courier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/queue"
	"github.com/latchkey/latchkey/store"
)

// WorkerOptions configures a Worker (courier.*). Zero fields take defaults.
type WorkerOptions struct {
	// Store holds the queue; required.
	Store store.Store
	// Email delivers e-mail (SMTP, HTTP or the development LogSender). Nil
	// abandons e-mail messages.
	Email Sender
	// SMS delivers text messages (an HTTP channel). Nil abandons them.
	SMS Sender
	// MessageRetries is courier.message_retries: how many times a failed
	// message is retried before it is abandoned, so a message is attempted
	// at most MessageRetries+1 times (as Kratos counts). Default 5; negative
	// means 0.
	MessageRetries *int
	// BatchSize is how many messages one claim takes; default 10.
	BatchSize int
	// PullWait is the pause between polls of an empty queue; default 1s.
	PullWait time.Duration
	// Lease is how long a claimed message stays with this worker before
	// another may take it over (if this one died); default 5m.
	Lease time.Duration
	// SendTimeout bounds one delivery; default 30s; must be below Lease.
	SendTimeout time.Duration
	// BackoffBase is the delay after the first failure, doubled after each
	// further one up to BackoffMax; defaults 10s and 1h. The delay is
	// jittered to between half and all of it.
	BackoffBase, BackoffMax time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Jitter returns a number in [0, 1); default math/rand/v2.Float64.
	Jitter func() float64
	// NewID returns dispatch ids; default a random UUID v4.
	NewID func() string
	// Logger logs delivery failures; default slog.Default().
	Logger *slog.Logger
	// OnFailure, when set, is called after each failed delivery attempt;
	// abandoned is true when the job will not be tried again (metrics).
	OnFailure func(abandoned bool)
	// Tracer, when set, makes each delivery attempt a span
	// ("courier.deliver") in the trace of the request that queued the
	// message.
	Tracer queue.Tracer
}

// Worker delivers queued messages. Several workers, in one process or in
// many replicas, may run on one store: ClaimMessages hands each message to
// one of them.
type Worker struct {
	o       WorkerOptions
	retries int
	backoff queue.Backoff
	log     *slog.Logger
}

// NewWorker checks o and returns a Worker. It returns an error when Store is
// nil or SendTimeout is not below Lease.
func NewWorker(o WorkerOptions) (*Worker, error) {
	if o.Store == nil {
		return nil, errors.New("courier worker: no store")
	}
	w := &Worker{o: o, retries: 5, log: o.Logger}
	if o.MessageRetries != nil {
		w.retries = max(*o.MessageRetries, 0)
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
	if w.o.SendTimeout <= 0 {
		w.o.SendTimeout = min(30*time.Second, w.o.Lease/2)
	}
	if w.o.SendTimeout >= w.o.Lease {
		return nil, fmt.Errorf("courier worker: send timeout %s must be below the lease %s", w.o.SendTimeout, w.o.Lease)
	}
	if w.o.BackoffBase <= 0 {
		w.o.BackoffBase = 10 * time.Second
	}
	if w.o.BackoffMax <= 0 {
		w.o.BackoffMax = time.Hour
	}
	if w.o.BackoffMax < w.o.BackoffBase {
		w.o.BackoffMax = w.o.BackoffBase
	}
	if w.o.Now == nil {
		w.o.Now = time.Now
	}
	if w.o.Jitter == nil {
		w.o.Jitter = rand.Float64
	}
	if w.o.NewID == nil {
		w.o.NewID = uuid.NewString
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	w.backoff = queue.Backoff{Base: w.o.BackoffBase, Max: w.o.BackoffMax, Jitter: w.o.Jitter}
	return w, nil
}

// Run delivers messages until ctx is cancelled, then returns nil: it polls
// the queue every PullWait (at once again after a full batch). On
// cancellation the message being sent is finished and recorded, and the
// rest of its batch is handed back to the queue. Store errors are logged and
// retried on the next poll.
func (w *Worker) Run(ctx context.Context) error {
	queue.Poll(ctx, w.o.PullWait, w.o.BatchSize, w.Tick, func(err error) {
		w.log.ErrorContext(ctx, "courier: delivering messages", slog.Any("error", err))
	})
	return nil
}

// Tick claims one batch of due messages and delivers them, returning how
// many it claimed. It returns an error only when the store fails; delivery
// failures are recorded on the messages. If ctx is cancelled meanwhile, the
// message in flight is finished and the rest are released.
func (w *Worker) Tick(ctx context.Context) (int, error) {
	msgs, err := w.o.Store.ClaimMessages(ctx, w.o.Now().UTC(), w.o.Lease, w.o.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("claim messages: %w", err)
	}
	return len(msgs), queue.Drain(ctx, msgs, w.deliver, w.release)
}

// release hands a claimed, unsent message back to the queue.
func (w *Worker) release(ctx context.Context, m *core.Message) error {
	rctx, cancel := queue.Detached(ctx, 10*time.Second)
	defer cancel()
	m.Status = core.MessageQueued
	m.UpdatedAt = w.o.Now().UTC()
	if err := w.o.Store.UpdateMessage(rctx, m); err != nil {
		return fmt.Errorf("release message %s: %w", m.ID, err)
	}
	return nil
}

func (w *Worker) deliver(ctx context.Context, m *core.Message) error {
	var sender Sender
	switch m.Channel {
	case core.ChannelEmail:
		sender = w.o.Email
	case core.ChannelSMS:
		sender = w.o.SMS
	}
	var sendErr error
	if sender == nil {
		sendErr = Permanent(fmt.Errorf("no sender configured for channel %q", m.Channel))
	} else {
		sctx, cancel := queue.Detached(ctx, w.o.SendTimeout)
		sctx, end := queue.StartJob(w.o.Tracer, sctx, "courier.deliver", m.TraceParent,
			"courier.channel", string(m.Channel), "courier.message_id", m.ID)
		sendErr = sender.Send(sctx, m)
		end(sendErr)
		cancel()
	}

	now := w.o.Now().UTC()
	m.SendCount++
	m.UpdatedAt = now
	d := &core.Dispatch{ID: w.o.NewID(), MessageID: m.ID, Status: "success", CreatedAt: now}
	switch {
	case sendErr == nil:
		m.Status = core.MessageSent
	case IsPermanent(sendErr) || m.SendCount > w.retries:
		m.Status = core.MessageAbandoned
	default:
		m.Status = core.MessageQueued
		m.NextAttempt = now.Add(w.backoff.Delay(m.SendCount))
	}
	if sendErr != nil && w.o.OnFailure != nil {
		w.o.OnFailure(m.Status == core.MessageAbandoned)
	}
	if sendErr != nil {
		d.Status = "failed"
		d.Error = queue.ErrorText(sendErr)
		w.log.WarnContext(ctx, "courier: delivery failed",
			slog.String("message_id", m.ID), slog.Int("attempt", m.SendCount),
			slog.String("status", string(m.Status)), slog.String("error", d.Error))
	}

	rctx, cancel := queue.Detached(ctx, 10*time.Second)
	defer cancel()
	err := w.o.Store.Update(rctx, func(tx store.Tx) error {
		if err := tx.AddDispatch(rctx, d); err != nil {
			return err
		}
		return tx.UpdateMessage(rctx, m)
	})
	if err != nil {
		return fmt.Errorf("record delivery of message %s: %w", m.ID, err)
	}
	return nil
}
