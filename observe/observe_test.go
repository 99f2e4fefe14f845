package observe_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/observe"
	"github.com/latchkey/latchkey/ratelimit"
)

// TestTracingSpans: one server span per request, named by the route
// pattern and continuing an incoming traceparent, with child spans for SQL
// statements and outbound HTTP requests (which carry the trace onward).
func TestTracingSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr := observe.NewTracing(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)), "postgresql")

	var gotParent string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotParent = r.Header.Get("Traceparent")
	}))
	defer upstream.Close()
	client := &http.Client{Transport: tr.Transport(nil)}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /identities/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, end := tr.StartQuery(r.Context(), "SELECT id FROM identities WHERE id = $1")
		end(nil)
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, upstream.URL+"/hook", nil)
		res, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		res.Body.Close()
		w.WriteHeader(http.StatusCreated)
	})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := api.Chain(api.RecordRoute(mux), api.WithRequestID(), api.WithRequestLog(log, nil, tr))

	const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req := httptest.NewRequest(http.MethodPost, "/identities/42", nil)
	req.Header.Set("Traceparent", incoming)
	h.ServeHTTP(httptest.NewRecorder(), req)

	// SQL outside any request makes no span (no orphan spans per poll).
	_, end := tr.StartQuery(context.Background(), "SELECT 1")
	end(nil)

	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3: %v", len(spans), spans)
	}
	byKind := map[trace.SpanKind][]tracetest.SpanStub{}
	for _, s := range spans {
		byKind[s.SpanKind] = append(byKind[s.SpanKind], s)
	}
	server := byKind[trace.SpanKindServer]
	if len(server) != 1 || server[0].Name != "POST /identities/{id}" {
		t.Fatalf("server spans %v", server)
	}
	if got := server[0].SpanContext.TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("server span trace %s does not continue the incoming traceparent", got)
	}
	attrs := map[string]string{}
	for _, a := range server[0].Attributes {
		attrs[string(a.Key)] = a.Value.Emit()
	}
	if attrs["http.route"] != "POST /identities/{id}" || attrs["http.response.status_code"] != "201" {
		t.Errorf("server span attributes %v", attrs)
	}
	clients := byKind[trace.SpanKindClient]
	if len(clients) != 2 {
		t.Fatalf("client spans %v", clients)
	}
	names := []string{}
	for _, c := range clients {
		names = append(names, c.Name)
		if c.Parent.SpanID() != server[0].SpanContext.SpanID() {
			t.Errorf("span %s is not a child of the request span", c.Name)
		}
	}
	if strings.Join(names, ",") != "SELECT,POST" {
		t.Errorf("client spans %v, want SELECT then POST", names)
	}
	if !strings.Contains(gotParent, server[0].SpanContext.TraceID().String()) {
		t.Errorf("outbound traceparent %q does not carry the trace", gotParent)
	}
}

func TestTracingEnabled(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
		err  bool
	}{
		{map[string]string{}, false, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, false, false},
		{map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "jaeger"}, false, true},
	} {
		got, err := observe.TracingEnabled(func(k string) string { return tc.env[k] })
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%v: %v, %v; want %v, error %v", tc.env, got, err, tc.want, tc.err)
		}
	}
}

// TestTracingOff: with tracing off (a nil *Tracing) the helpers leave the
// client and transport alone and start no span, so callers need no check.
func TestTracingOff(t *testing.T) {
	var tr *observe.Tracing
	c := &http.Client{}
	if tr.Client(c) != c || tr.Transport(nil) != nil {
		t.Error("a nil Tracing changed the client or transport")
	}
	ctx := context.Background()
	if got, end := tr.StartClient(ctx, "x"); got != ctx {
		t.Error("a nil Tracing started a span")
	} else {
		end(nil)
	}
}

// batcher is a ratelimit.Batcher whose AllowAll refuses the events named in
// refuse.
type batcher struct {
	ratelimit.Limiter
	refuse map[string]bool
}

func (b batcher) AllowAll(_ context.Context, events []ratelimit.RuleKey) ([]ratelimit.Decision, error) {
	ds := make([]ratelimit.Decision, len(events))
	for i, e := range events {
		ds[i].Allowed = !b.refuse[e.Rule.Name]
	}
	return ds, nil
}

func (batcher) UndoAll(context.Context, []ratelimit.RuleKey) error { return nil }

func (batcher) SeenNow(context.Context, ratelimit.Rule, string) (bool, bool, error) {
	return false, false, nil
}

func (b batcher) AllowAllSeeing(ctx context.Context, events []ratelimit.RuleKey, _ ratelimit.Rule, _ string) ([]ratelimit.Decision, bool, bool, error) {
	ds, err := b.AllowAll(ctx, events)
	return ds, false, false, err
}

// TestLimiterKeepsBatches: the metrics decorator of a limiter that batches
// batches too (also bound to a transaction), so the attempt policy keeps
// its one statement per attempt, and counts the refusal of a batch once,
// by the first refusing rule, as Allow one event after the other would.
func TestLimiterKeepsBatches(t *testing.T) {
	m := observe.NewMetrics()
	inner := batcher{Limiter: ratelimit.NewLocal(nil, nil), refuse: map[string]bool{"b": true, "c": true}}
	l := m.Limiter(inner)
	b, ok := l.(ratelimit.Batcher)
	if !ok {
		t.Fatal("the decorator of a Batcher is no Batcher")
	}
	if _, ok := ratelimit.InTx(l, nil).(ratelimit.Batcher); !ok {
		t.Fatal("the decorator bound to a transaction is no Batcher")
	}
	if _, ok := m.Limiter(ratelimit.NewLocal(nil, nil)).(ratelimit.Batcher); ok {
		t.Fatal("the decorator of a limiter that does not batch claims to")
	}
	rule := func(name string) ratelimit.Rule { return ratelimit.Rule{Name: name, Limit: 1, Window: time.Minute} }
	ds, err := b.AllowAll(context.Background(), []ratelimit.RuleKey{{Rule: rule("a")}, {Rule: rule("b")}, {Rule: rule("c")}})
	if err != nil || len(ds) != 3 || !ds[0].Allowed || ds[1].Allowed || ds[2].Allowed {
		t.Fatalf("AllowAll = %+v, %v", ds, err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if !strings.Contains(body, `latchkey_ratelimit_refusals_total{rule="b"} 1`) || strings.Contains(body, `rule="c"`) {
		t.Fatalf("refusals:\n%s", grepLines(body, "refusals"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
