package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/oauth2-proxy/mockoidc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/courier"
	"github.com/latchkey/latchkey/observe"
)

// TestOutboundSpans: with tracing on, the wiring of serve gives every
// outbound call a client span (issue #14): a courier HTTP delivery
// ("courier.send http" with the HTTP request's span under it, carrying the
// trace to the receiver), an SMTP delivery ("courier.send smtp", its error
// recorded), and the calls to an OpenID Connect provider, each a child of
// the span of the request that made it.
func TestOutboundSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tr := observe.NewTracing(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)), "sqlite")
	msg := &core.Message{ID: "m1", Channel: core.ChannelEmail, Recipient: "ada@example.com", Subject: "s", Body: "b"}

	// Courier over HTTP, as newCourierWorker builds it.
	var traceparent string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		traceparent = r.Header.Get("Traceparent")
	}))
	t.Cleanup(receiver.Close)
	cc := config.Courier{DeliveryStrategy: "http", HTTP: config.CourierHTTP{RequestConfig: config.RequestConfig{URL: receiver.URL, Method: "POST"}}}
	email, _, err := courier.SendersFromConfig(cc, false, nil, tr.Client(&http.Client{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := tracedSender(tr, "http", email).Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	send := findSpan(t, rec, "courier.send http")
	post := findSpan(t, rec, "POST")
	if post.Parent().SpanID() != send.SpanContext().SpanID() || post.SpanKind() != trace.SpanKindClient {
		t.Errorf("the HTTP request span is not a client span under courier.send http")
	}
	if traceparent == "" || traceparent[3:35] != send.SpanContext().TraceID().String() {
		t.Errorf("the receiver got traceparent %q, not the delivery's trace", traceparent)
	}

	// SMTP to a port nothing listens on: the span records the failure.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	smtp, err := courier.NewSMTP(courier.SMTPOptions{ConnectionURI: "smtp://" + addr + "/?disable_starttls=true", FromAddress: "no-reply@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tracedSender(tr, "smtp", smtp).Send(context.Background(), msg); err == nil {
		t.Fatal("SMTP to a closed port succeeded")
	}
	if s := findSpan(t, rec, "courier.send smtp"); s.Status().Code.String() != "Error" || len(s.Events()) == 0 {
		t.Errorf("smtp span status %v, events %v", s.Status(), s.Events())
	}

	// OpenID Connect: discovery during a request is a child of its span.
	mock, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mock.Shutdown() })
	c, err := cipher.New("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	m, err := buildOIDC(context.Background(), config.OIDCConfig{Providers: []config.OIDCProvider{{ID: "corp", Provider: "generic",
		ClientID: mock.ClientID, ClientSecret: mock.ClientSecret, IssuerURL: mock.Issuer(), PKCE: "auto"}}},
		config.HankoThirdParty{}, c, tr.Client(&http.Client{}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Provider("corp")
	if err != nil {
		t.Fatal(err)
	}
	ctx, end := tr.StartClient(context.Background(), "request")
	if _, err := m.Begin(ctx, p, "flow-1", "http://127.0.0.1/callback", nil); err != nil {
		t.Fatal(err)
	}
	end(nil)
	parent := findSpan(t, rec, "request")
	get := findSpan(t, rec, "GET")
	if get.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("the discovery request's span is not a child of the request span")
	}
}

func findSpan(t *testing.T, rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range rec.Ended() {
		if s.Name() == name {
			return s
		}
	}
	var names []string
	for _, s := range rec.Ended() {
		names = append(names, s.Name())
	}
	t.Fatalf("no span %q among %v", name, names)
	return nil
}
