package courier

import (
	"context"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/observe"
	"github.com/latchkey/latchkey/store"
)

// spanSender records the span context each send ran in.
type spanSender struct{ seen []trace.SpanContext }

func (s *spanSender) Send(ctx context.Context, m *core.Message) error {
	s.seen = append(s.seen, trace.SpanContextFromContext(ctx))
	return nil
}

// TestDeliveryContinuesTheQueueingTrace: a message queued during a traced
// request keeps its traceparent, and the worker's "courier.deliver" span,
// in which the sender runs, is a child of the request's span (which ended
// long before); on every backend.
func TestDeliveryContinuesTheQueueingTrace(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		rec := tracetest.NewSpanRecorder()
		tr := observe.NewTracing(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)), "sql")
		s, clock := open(t), newClock()
		c, err := New(Options{ServiceName: "Acme", Now: clock.Now, Tracer: tr})
		if err != nil {
			t.Fatal(err)
		}
		ctx, end := tr.StartRequest(httptest.NewRequest("POST", "/self-service/login", nil))
		request := trace.SpanContextFromContext(ctx)
		if _, err := c.Enqueue(ctx, s, Request{TemplateType: TypeLoginCodeValid, Channel: core.ChannelEmail,
			Recipient: "ada@example.com", Data: map[string]any{"LoginCode": "123456"}}); err != nil {
			t.Fatal(err)
		}
		end("/self-service/login", 200)

		sender := &spanSender{}
		w, err := NewWorker(WorkerOptions{Store: s, Email: sender, Now: clock.Now, Tracer: tr, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		tick(t, w, 1)
		var job sdktrace.ReadOnlySpan
		for _, sp := range rec.Ended() {
			if sp.Name() == "courier.deliver" {
				job = sp
			}
		}
		if job == nil {
			t.Fatal("no courier.deliver span")
		}
		if job.SpanContext().TraceID() != request.TraceID() || job.Parent().SpanID() != request.SpanID() {
			t.Fatalf("courier.deliver: trace %s parent %s, want the request's %s/%s", job.SpanContext().TraceID(),
				job.Parent().SpanID(), request.TraceID(), request.SpanID())
		}
		if len(sender.seen) != 1 || sender.seen[0].SpanID() != job.SpanContext().SpanID() {
			t.Fatalf("the sender ran in %v, not in the delivery span", sender.seen)
		}
	})
}
