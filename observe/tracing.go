package observe

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Tracing creates OpenTelemetry spans: one per HTTP request, child spans
// per SQL statement and per outbound HTTP request.
type Tracing struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	system string // db.system.name of the SQL spans
}

// TracingEnabled reports whether the standard OpenTelemetry environment
// asks for traces: OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) with
// OTEL_TRACES_EXPORTER unset; never with OTEL_SDK_DISABLED=true or
// OTEL_TRACES_EXPORTER=none. It returns an error for an exporter other
// than otlp and none, which Latchkey does not have.
func TracingEnabled(getenv func(string) string) (bool, error) {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false, nil
	}
	switch exp := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); exp {
	case "none":
		return false, nil
	case "otlp":
		return true, nil
	case "":
		return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "", nil
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER=%s is not supported; use otlp (OTLP over HTTP) or none", exp)
	}
}

// NewTracingFromEnv builds tracing that exports over OTLP/HTTP, configured
// by the standard OTEL_EXPORTER_OTLP_* variables (endpoint, headers,
// timeout, …), OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES (the service
// name defaults to latchkey), OTEL_TRACES_SAMPLER and OTEL_BSP_*. Call it
// only when TracingEnabled says so. dbSystem names the database engine.
func NewTracingFromEnv(ctx context.Context, version, dbSystem string) (*Tracing, error) {
	if strings.EqualFold(getenvProtocol(), "grpc") {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported; Latchkey exports OTLP over HTTP (http/protobuf)")
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "latchkey"), attribute.String("service.version", version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	return NewTracing(sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), dbSystem), nil
}

// NewTracing uses tp (tests pass one with an in-memory exporter).
func NewTracing(tp *sdktrace.TracerProvider, dbSystem string) *Tracing {
	return &Tracing{tp: tp, tracer: tp.Tracer("github.com/latchkey/latchkey"),
		prop:   propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		system: dbSystem}
}

// Shutdown flushes the spans not yet exported and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.tp.Shutdown(ctx) }

// StartRequest starts the server span of r, continuing a trace its
// traceparent header carries. The returned function ends the span with the
// matched route pattern and the status code.
func (t *Tracing) StartRequest(r *http.Request) (context.Context, func(route string, status int)) {
	ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := t.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.Method)))
	return ctx, func(route string, status int) {
		if route != "" {
			span.SetName(route)
			span.SetAttributes(attribute.String("http.route", route))
		}
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
	}
}

// StartQuery starts a client span for one SQL statement (the parameterised
// text only).
func (t *Tracing) StartQuery(ctx context.Context, query string) (context.Context, func(error)) {
	if !trace.SpanFromContext(ctx).SpanContext().IsValid() {
		// Background work outside any request: no orphan spans per poll.
		return ctx, func(error) {}
	}
	name, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	ctx, span := t.tracer.Start(ctx, strings.ToUpper(name), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", t.system), attribute.String("db.query.text", query)))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "query failed")
		}
		span.End()
	}
}

// Transport wraps rt (nil means http.DefaultTransport) so that each
// outbound request gets a client span — a child of the span in the
// request's context (for a queued delivery, its StartJob span) — and
// carries the trace context (traceparent). On a nil
// *Tracing it returns rt unchanged, so callers need not check whether
// tracing is on.
func (t *Tracing) Transport(rt http.RoundTripper) http.RoundTripper {
	if t == nil {
		return rt
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	return tracingTransport{t: t, next: rt}
}

// Client returns a copy of c whose transport is wrapped by Transport, for
// every outbound HTTP call (OIDC providers, courier HTTP, web hooks). On a
// nil *Tracing it returns c itself; c must not be nil.
func (t *Tracing) Client(c *http.Client) *http.Client {
	if t == nil {
		return c
	}
	cp := *c
	cp.Transport = t.Transport(c.Transport)
	return &cp
}

// StartClient starts a client span named name for an outbound call that is
// not HTTP (an SMTP delivery), with attrs as string key/value pairs. The
// returned function ends it, recording err when not nil. On a nil *Tracing
// both are no-ops.
func (t *Tracing) StartClient(ctx context.Context, name string, attrs ...string) (context.Context, func(error)) {
	if t == nil {
		return ctx, func(error) {}
	}
	kv := make([]attribute.KeyValue, 0, len(attrs)/2)
	for i := 0; i+1 < len(attrs); i += 2 {
		kv = append(kv, attribute.String(attrs[i], attrs[i+1]))
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(kv...))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "failed")
		}
		span.End()
	}
}

// TraceParent returns the W3C traceparent of the span in ctx, "" when
// there is none or t is nil. A queued courier message or web-hook delivery
// keeps it so that its delivery continues the request's trace (StartJob).
func (t *Tracing) TraceParent(ctx context.Context) string {
	if t == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c.Get("traceparent")
}

// StartJob starts the consumer span of one delivery attempt of a queued
// job: a child of the span traceparent names (the request that queued the
// job; the span has ended, the trace goes on), a root span when
// traceparent is empty or malformed. attrs are string key/value pairs; the
// returned function ends the span, recording err when not nil. On a nil
// *Tracing both are no-ops.
func (t *Tracing) StartJob(ctx context.Context, name, traceparent string, attrs ...string) (context.Context, func(error)) {
	if t == nil {
		return ctx, func(error) {}
	}
	if traceparent != "" {
		ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
	}
	kv := make([]attribute.KeyValue, 0, len(attrs)/2)
	for i := 0; i+1 < len(attrs); i += 2 {
		kv = append(kv, attribute.String(attrs[i], attrs[i+1]))
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(kv...))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "failed")
		}
		span.End()
	}
}

type tracingTransport struct {
	t    *Tracing
	next http.RoundTripper
}

func (tt tracingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := tt.t.tracer.Start(r.Context(), r.Method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("server.address", r.URL.Hostname())))
	defer span.End()
	r = r.Clone(ctx)
	tt.t.prop.Inject(ctx, propagation.HeaderCarrier(r.Header))
	res, err := tt.next.RoundTrip(r)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "request failed")
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", res.StatusCode))
	if res.StatusCode >= 500 {
		span.SetStatus(codes.Error, http.StatusText(res.StatusCode))
	}
	return res, nil
}

func getenvProtocol() string {
	if p := osGetenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"); p != "" {
		return p
	}
	return osGetenv("OTEL_EXPORTER_OTLP_PROTOCOL")
}

var osGetenv = os.Getenv
