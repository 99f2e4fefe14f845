package webhook_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/observe"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
	"github.com/latchkey/latchkey/webhook"
)

// TestDeliverySpansContinueTheRequestTrace: a Hanko event and a queued
// Kratos web_hook call queued during a traced request keep its
// traceparent; the worker's delivery spans (and the HTTP calls under them,
// whose traceparent the receivers get) are in the request's trace, children
// of its span, although the request ended long before. On every backend.
func TestDeliverySpansContinueTheRequestTrace(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec := tracetest.NewSpanRecorder()
			tr := observe.NewTracing(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)), "sql")
			var mu sync.Mutex
			got := map[string]string{} // path → traceparent received
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got[r.URL.Path] = r.Header.Get("Traceparent")
				mu.Unlock()
			}))
			t.Cleanup(srv.Close)

			e := newEnv(t, open(t))
			e.cfg.Hooks = []config.HankoWebhook{{Callback: srv.URL + "/hanko", Events: []string{"user"}}}
			d, err := webhook.NewDispatcher(webhook.DispatcherOptions{Config: e.cfg, Now: e.clock.now, Tracer: tr})
			if err != nil {
				t.Fatal(err)
			}
			h := webHook(srv.URL+"/kratos", map[string]any{"response": map[string]any{"ignore": true}})
			ev, err := testEvaluator()
			if err != nil {
				t.Fatal(err)
			}
			k, err := webhook.NewKratos(webhook.KratosOptions{Store: e.st, Hooks: parsed(t, h), Jsonnet: ev, Tracer: tr,
				Client: tr.Client(webhook.NewClient(5 * time.Second)), Now: e.clock.now,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}

			// The request: it queues both, commits and ends.
			ctx, end := tr.StartRequest(httptest.NewRequest("POST", "/self-service/registration", nil))
			request := trace.SpanContextFromContext(ctx)
			err = e.st.Update(ctx, func(tx store.Tx) error {
				if err := d.Enqueue(ctx, tx, "user.create", map[string]any{"id": "u1"}); err != nil {
					return err
				}
				return k.Enqueue(ctx, tx, []config.Hook{h}, hookCtx, webhook.SelectAll)
			})
			if err != nil {
				t.Fatal(err)
			}
			end("/self-service/registration", 200)

			w, err := webhook.NewWorker(webhook.WorkerOptions{Store: e.st, Signer: e.signer, Kratos: k, Config: e.cfg, Tracer: tr,
				Client: tr.Client(&http.Client{}), Now: e.clock.now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := w.Tick(context.Background()); err != nil || n != 2 {
				t.Fatalf("tick: %d %v", n, err)
			}
			for _, name := range []string{"webhook.deliver user.create", "webhook.deliver " + webhook.KratosEvent} {
				var job sdktrace.ReadOnlySpan
				for _, s := range rec.Ended() {
					if s.Name() == name {
						job = s
					}
				}
				if job == nil {
					t.Fatalf("no span %q", name)
				}
				if job.SpanContext().TraceID() != request.TraceID() || job.Parent().SpanID() != request.SpanID() {
					t.Errorf("%s: trace %s parent %s, want the request's %s/%s", name, job.SpanContext().TraceID(),
						job.Parent().SpanID(), request.TraceID(), request.SpanID())
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, path := range []string{"/hanko", "/kratos"} {
				if tp := got[path]; len(tp) < 35 || tp[3:35] != request.TraceID().String() {
					t.Errorf("%s received traceparent %q, not the request's trace %s", path, tp, request.TraceID())
				}
			}
		})
	}
}
