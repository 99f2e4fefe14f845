package queue

import "context"

// Tracer links the delivery of a queued job to the request that queued it
// (observe.Tracing implements it). The job keeps the request's W3C
// traceparent; its delivery span continues that trace.
type Tracer interface {
	// TraceParent returns the W3C traceparent of the span in ctx, "" when
	// ctx holds none (tracing off, or work outside a request).
	TraceParent(ctx context.Context) string
	// StartJob starts the span of one delivery attempt of a queued job,
	// named name, as a child of the span traceparent names (a root span
	// when it is empty or malformed), with attrs as string key/value
	// pairs. The returned function ends it, recording err when not nil.
	StartJob(ctx context.Context, name, traceparent string, attrs ...string) (context.Context, func(error))
}

// TraceParent is t.TraceParent(ctx), "" for a nil t.
func TraceParent(t Tracer, ctx context.Context) string {
	if t == nil {
		return ""
	}
	return t.TraceParent(ctx)
}

// StartJob is t.StartJob; for a nil t it returns ctx and a no-op.
func StartJob(t Tracer, ctx context.Context, name, traceparent string, attrs ...string) (context.Context, func(error)) {
	if t == nil {
		return ctx, func(error) {}
	}
	return t.StartJob(ctx, name, traceparent, attrs...)
}
