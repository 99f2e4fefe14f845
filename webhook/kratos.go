package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/queue"
	"github.com/latchkey/latchkey/store"
)

// KratosEvent is the event name of queued Kratos web_hook calls in the
// delivery queue they share with the Hanko face's events.
const KratosEvent = "kratos.web_hook"

// KratosMaxAttempts is how often a queued (response.ignore) web_hook call
// is tried before it is abandoned: three times, as Kratos' web hook client
// does (ory/x httpx.NewResilientClient with ResilientClientWithMaxRetry(2),
// a go-retryablehttp client).
const KratosMaxAttempts = 3

// KratosRetryWait and KratosRetryWaitMax are the waits between tries of a
// queued call, as go-retryablehttp's DefaultBackoff with Kratos' bounds
// (1s, 30s): KratosRetryWait doubled after each failure, no jitter (1s,
// then 2s).
const (
	KratosRetryWait    = time.Second
	KratosRetryWaitMax = 30 * time.Second
)

// MaxRetryAfter caps the wait a receiver asks for with Retry-After on a 429
// or 503 answer (Kratos' back-off honours it uncapped).
const MaxRetryAfter = time.Hour

// KratosRetryDelay is the wait after the n-th failed try of a queued call.
func KratosRetryDelay(n int) time.Duration {
	d := KratosRetryWait
	for i := 1; i < n && d < KratosRetryWaitMax; i++ {
		d *= 2
	}
	return min(d, KratosRetryWaitMax)
}

// callError is a failed try of a queued call, classified as
// go-retryablehttp's DefaultRetryPolicy does: final when trying again
// cannot help (an answer of 4xx other than 429, 501, or outside 2xx below
// 400; a TLS certificate the system does not trust), and after, when the
// receiver answered 429 or 503 with Retry-After.
type callError struct {
	err   error
	final bool
	after time.Duration
}

func (e *callError) Error() string { return e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

// MaxResponseBody is the most of a web hook's answer that is read.
const MaxResponseBody = 1 << 20

// DefaultKratosTimeout bounds one web_hook request (connect, send, answer).
const DefaultKratosTimeout = 10 * time.Second

// bodyCacheFor is how long a fetched http(s):// body template is kept, as
// Kratos caches them.
const bodyCacheFor = time.Hour

// Evaluator renders Jsonnet body templates (jsonnet.Evaluator).
type Evaluator interface {
	EvaluateWithArgs(ctx context.Context, name, code string, vars, args map[string]json.RawMessage) (json.RawMessage, error)
}

// KratosOptions configures Kratos web hooks.
type KratosOptions struct {
	// Store holds the queue of asynchronous calls; required.
	Store store.Store
	// Hooks are every web_hook of the configuration
	// (config.SelfService.WebHooks): a queued call is sent with the hook of
	// its fingerprint.
	Hooks []*config.WebHook
	// Jsonnet renders body templates; required when a hook has a body.
	Jsonnet Evaluator
	// Client sends the requests; default one with system TLS roots, a
	// Timeout of DefaultKratosTimeout and redirects followed only on the
	// configured host.
	Client *http.Client
	// Logger logs failed calls (never credentials); default slog.Default().
	Logger *slog.Logger
	// Now and NewID default to time.Now and random UUIDs.
	Now   func() time.Time
	NewID func() string
	// Tracer, when set, gives a queued call the traceparent of the request
	// that queued it.
	Tracer queue.Tracer
}

// Kratos runs Kratos web_hook hooks: synchronous ones at once (their answer
// may change the identity or interrupt the flow), asynchronous ones
// (response.ignore) by queueing them for the Worker. It is safe for
// concurrent use.
type Kratos struct {
	o      KratosOptions
	byFP   map[string]*config.WebHook
	log    *slog.Logger
	mu     sync.Mutex
	bodies map[string]cachedBody
}

type cachedBody struct {
	code    string
	fetched time.Time
}

// NewKratos returns the web hook runner over o. It fails when Store is nil.
func NewKratos(o KratosOptions) (*Kratos, error) {
	if o.Store == nil {
		return nil, errors.New("kratos web hooks: Store is required")
	}
	if o.Client == nil {
		o.Client = NewClient(DefaultKratosTimeout)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = uuid.NewString
	}
	k := &Kratos{o: o, byFP: map[string]*config.WebHook{}, log: o.Logger, bodies: map[string]cachedBody{}}
	if k.log == nil {
		k.log = slog.Default()
	}
	for _, h := range o.Hooks {
		k.byFP[h.Fingerprint()] = h
	}
	return k, nil
}

// NewClient returns the HTTP client web hooks use: the default transport
// (system TLS roots, TLS 1.2 at least, proxies from the environment), the
// timeout for a whole request, and redirects followed at most three times
// and only on the host first called (a redirect elsewhere is answered as
// the 3xx it is, which counts as a failure).
func NewClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if tr.TLSClientConfig != nil {
		tr.TLSClientConfig.MinVersion = max(tr.TLSClientConfig.MinVersion, 0x0303)
	}
	return &http.Client{Timeout: timeout, Transport: tr, CheckRedirect: sameHostRedirects}
}

func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 || req.URL.Host != via[0].URL.Host || (via[0].URL.Scheme == "https" && req.URL.Scheme != "https") {
		return http.ErrUseLastResponse
	}
	return nil
}

// Context is what a body template reads as ctx, with Kratos' field names.
// Request headers are limited to Kratos' allow-list (RequestHeaders).
type Context struct {
	Flow             json.RawMessage   `json:"flow"`
	RequestHeaders   http.Header       `json:"request_headers"`
	RequestMethod    string            `json:"request_method"`
	RequestURL       string            `json:"request_url"`
	RequestCookies   map[string]string `json:"request_cookies"`
	Identity         json.RawMessage   `json:"identity,omitempty"`
	Session          json.RawMessage   `json:"session,omitempty"`
	TransientPayload json.RawMessage   `json:"transient_payload,omitempty"`
}

// forwardedHeaders is the allow-list of request headers a template sees
// (Kratos' RequestHeaderAllowList): no Authorization, Cookie or session
// token headers.
var forwardedHeaders = map[string]bool{
	"Accept": true, "Accept-Encoding": true, "Accept-Language": true, "Content-Length": true,
	"Content-Type": true, "Origin": true, "Priority": true, "Referer": true, "Sec-Ch-Ua": true,
	"Sec-Ch-Ua-Mobile": true, "Sec-Ch-Ua-Platform": true, "Sec-Fetch-Dest": true, "Sec-Fetch-Mode": true,
	"Sec-Fetch-Site": true, "Sec-Fetch-User": true, "True-Client-Ip": true, "User-Agent": true,
}

// RequestHeaders returns the allow-listed headers of h.
func RequestHeaders(h http.Header) http.Header {
	out := http.Header{}
	for k, v := range h {
		if forwardedHeaders[textproto.CanonicalMIMEHeaderKey(k)] {
			out[k] = v
		}
	}
	return out
}

// RequestCookies returns the request's cookies by name.
func RequestCookies(r *http.Request) map[string]string {
	out := map[string]string{}
	for _, c := range r.Cookies() {
		if c.Name != "" {
			out[c.Name] = c.Value
		}
	}
	return out
}

// Select picks which of a hook list's web hooks a call runs.
type Select int

// The selections: before hooks run every web hook; around creating an
// identity, the interrupting ones (can_interrupt, response.parse) run
// before it is stored and the others after.
const (
	SelectAll Select = iota
	SelectInterrupting
	SelectOthers
)

// SelectSync narrows a selection to the hooks called at once (those
// without response.ignore), SelectQueued to the asynchronous ones:
// SelectOthers|SelectSync. A caller that queued the asynchronous hooks in
// the transaction of the change (Enqueue) calls the others with SelectSync
// once it committed.
const (
	SelectSync   Select = 1 << 4
	SelectQueued Select = 1 << 5
)

func (s Select) takes(w *config.WebHook) bool {
	switch {
	case s&SelectSync != 0 && w.Ignore, s&SelectQueued != 0 && !w.Ignore:
		return false
	}
	switch s &^ (SelectSync | SelectQueued) {
	case SelectInterrupting:
		return w.Interrupts()
	case SelectOthers:
		return !w.Interrupts()
	}
	return true
}

// IdentityPatch is what a parsed answer changes on the identity; nil
// fields are left alone.
type IdentityPatch struct {
	Traits         json.RawMessage `json:"traits,omitempty"`
	MetadataPublic json.RawMessage `json:"metadata_public,omitempty"`
	MetadataAdmin  json.RawMessage `json:"metadata_admin,omitempty"`
}

// Message is one message of an interrupting answer, in Kratos' shape.
type Message struct {
	ID      int64           `json:"id"`
	Text    string          `json:"text"`
	Type    string          `json:"type"`
	Context json.RawMessage `json:"context,omitempty"`
}

// FieldMessages are the messages for one field (InstancePtr "#/traits/email")
// or for the flow ("#/" or empty).
type FieldMessages struct {
	InstancePtr string    `json:"instance_ptr"`
	Messages    []Message `json:"messages"`
}

// Interrupt is the error of a web hook that stopped the flow with
// messages ({"messages": [...]} in a 4xx/5xx answer).
type Interrupt struct {
	Messages []FieldMessages
}

func (e *Interrupt) Error() string { return "web hook interrupted the flow" }

// UpstreamError is the error of a synchronous web hook that failed: the
// receiver could not be reached or timed out (Timeout), or it answered
// outside 2xx without messages that interrupt.
type UpstreamError struct {
	Timeout bool
	// Status is the answer's status; 0 when there was no answer.
	Status int
	Cause  error
	// retryAfter is the answer's Retry-After header.
	retryAfter string
}

func (e *UpstreamError) Error() string { return "web hook: " + e.Cause.Error() }
func (e *UpstreamError) Unwrap() error { return e.Cause }

// webHooks returns the parsed web hooks of hooks that sel takes.
func webHooks(hooks []config.Hook, sel Select) []*config.WebHook {
	var out []*config.WebHook
	for _, h := range hooks {
		if h.Hook != "web_hook" {
			continue
		}
		w, p := config.ParseWebHook("", h.Config)
		if len(p) > 0 || !sel.takes(w) {
			continue // Validate refused such a config at start
		}
		out = append(out, w)
	}
	return out
}

// Has reports whether hooks hold a web hook that sel takes.
func Has(hooks []config.Hook, sel Select) bool { return len(webHooks(hooks, sel)) > 0 }

// Run runs the web hooks among hooks that sel takes, in order, with c as
// the templates' ctx. Synchronous hooks are called now; asynchronous ones
// are rendered now and queued. The patches of parsed answers are merged
// (a later hook's fields win) and returned, nil when none. Errors:
// *Interrupt when a hook interrupted the flow, *UpstreamError when a
// synchronous call failed, other errors for a template or the store.
func (k *Kratos) Run(ctx context.Context, hooks []config.Hook, c *Context, sel Select) (*IdentityPatch, error) {
	list := webHooks(hooks, sel)
	if len(list) == 0 {
		return nil, nil
	}
	cj, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("web hook: encode ctx: %w", err)
	}
	var patch *IdentityPatch
	for _, w := range list {
		body, cancel, err := k.render(ctx, w, cj)
		if err != nil {
			return nil, err
		}
		if cancel {
			continue // the template called error "cancel": no request
		}
		if w.Ignore {
			err := k.o.Store.Update(ctx, func(tx store.Tx) error { return k.enqueue(ctx, tx, w, body) })
			if err != nil {
				return nil, err
			}
			continue
		}
		p, err := k.call(ctx, w, body)
		if err != nil {
			return nil, err
		}
		if p != nil {
			if patch == nil {
				patch = &IdentityPatch{}
			}
			if p.Traits != nil {
				patch.Traits = p.Traits
			}
			if p.MetadataPublic != nil {
				patch.MetadataPublic = p.MetadataPublic
			}
			if p.MetadataAdmin != nil {
				patch.MetadataAdmin = p.MetadataAdmin
			}
		}
	}
	return patch, nil
}

// render evaluates w's body template with ctx. cancel is true when the
// template called error "cancel". A hook without a body template fails as
// in Kratos (the configuration refuses one).
func (k *Kratos) render(ctx context.Context, w *config.WebHook, cj json.RawMessage) (body []byte, cancel bool, err error) {
	if w.Body == "" {
		return nil, false, fmt.Errorf("web hook %s: no body template (config.body is required)", w.URL)
	}
	code, err := k.template(ctx, w.Body)
	if err != nil {
		return nil, false, fmt.Errorf("web hook %s: body %s: %w", w.URL, trim(w.Body), err)
	}
	if k.o.Jsonnet == nil {
		return nil, false, errors.New("web hook: no Jsonnet evaluator")
	}
	out, err := k.o.Jsonnet.EvaluateWithArgs(ctx, trim(w.Body), code, nil, map[string]json.RawMessage{"ctx": cj})
	if err != nil {
		if strings.Contains(err.Error(), "RUNTIME ERROR: cancel") {
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("web hook %s: render body: %w", w.URL, err)
	}
	return out, false, nil
}

// template returns the Jsonnet program of a body URI, reading files and
// fetching http(s) URLs at most once an hour.
func (k *Kratos) template(ctx context.Context, uri string) (string, error) {
	k.mu.Lock()
	c, ok := k.bodies[uri]
	k.mu.Unlock()
	if ok && k.o.Now().Sub(c.fetched) < bodyCacheFor {
		return c.code, nil
	}
	var code string
	var err error
	if strings.HasPrefix(uri, "http://") || strings.HasPrefix(uri, "https://") {
		code, err = k.fetch(ctx, uri)
	} else {
		code, err = config.ReadWebHookBody(uri, true)
	}
	if err != nil {
		return "", err
	}
	k.mu.Lock()
	k.bodies[uri] = cachedBody{code: code, fetched: k.o.Now()}
	k.mu.Unlock()
	return code, nil
}

func (k *Kratos) fetch(ctx context.Context, uri string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return "", err
	}
	resp, err := k.o.Client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetching the template answered %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, config.MaxWebHookBody+1))
	if err != nil {
		return "", err
	}
	if len(b) > config.MaxWebHookBody {
		return "", fmt.Errorf("the template is larger than %d bytes", config.MaxWebHookBody)
	}
	return string(b), nil
}

// queued is the data of a queued call: the hook's fingerprint and the
// rendered body (the URL is the delivery's callback).
type queued struct {
	Hook string  `json:"hook"`
	Body *string `json:"body"`
}

// Enqueue renders the asynchronous (response.ignore) web hooks among hooks
// that sel takes, with c as the templates' ctx, and queues their calls
// through tx: they commit with the change that triggered them, or not at
// all, so a crash after the commit cannot lose a call. It runs no
// synchronous hook. Errors: a template that fails to render, or the
// store's.
func (k *Kratos) Enqueue(ctx context.Context, tx store.Tx, hooks []config.Hook, c *Context, sel Select) error {
	list := webHooks(hooks, sel|SelectQueued)
	if len(list) == 0 {
		return nil
	}
	cj, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("web hook: encode ctx: %w", err)
	}
	for _, w := range list {
		body, cancel, err := k.render(ctx, w, cj)
		if err != nil {
			return err
		}
		if cancel {
			continue
		}
		if err := k.enqueue(ctx, tx, w, body); err != nil {
			return err
		}
	}
	return nil
}

func (k *Kratos) enqueue(ctx context.Context, tx store.Tx, w *config.WebHook, body []byte) error {
	q := queued{Hook: w.Fingerprint()}
	if body != nil {
		s := string(body)
		q.Body = &s
	}
	data, err := json.Marshal(q)
	if err != nil {
		return fmt.Errorf("web hook: encode queued call: %w", err)
	}
	now := k.o.Now().UTC()
	d := &store.WebhookDelivery{ID: k.o.NewID(), Callback: w.URL, Event: KratosEvent, Data: data,
		Status: store.DeliveryQueued, NextAttempt: now, CreatedAt: now, UpdatedAt: now,
		TraceParent: queue.TraceParent(k.o.Tracer, ctx)}
	if err := tx.CreateWebhookDelivery(ctx, d); err != nil {
		return fmt.Errorf("web hook: queue call to %s: %w", w.URL, err)
	}
	return nil
}

// Deliver sends one queued call (the Worker calls it). It returns an error
// wrapping errHookGone when no configured hook has the call's fingerprint
// any more, and the request's failure otherwise.
func (k *Kratos) Deliver(ctx context.Context, d *store.WebhookDelivery) error {
	var q queued
	if err := json.Unmarshal(d.Data, &q); err != nil {
		return fmt.Errorf("%w: unreadable queued call: %v", errHookGone, err)
	}
	w, ok := k.byFP[q.Hook]
	if !ok || w.URL != d.Callback {
		return fmt.Errorf("%w: the web_hook it was queued for is no longer configured", errHookGone)
	}
	var body []byte
	if q.Body != nil {
		body = []byte(*q.Body)
	}
	_, err := k.send(ctx, w, body, false)
	var ue *UpstreamError
	if err == nil || !errors.As(err, &ue) {
		return err
	}
	ce := &callError{err: err}
	switch st := ue.Status; {
	case st == 0:
		ce.final = untrusted(ue.Cause)
	case st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable:
		ce.after = retryAfter(ue.retryAfter, k.o.Now())
	case st >= 500 && st != http.StatusNotImplemented:
	default:
		ce.final = true
	}
	return ce
}

// untrusted reports whether err is a TLS certificate the system does not
// trust, which go-retryablehttp does not try again.
func untrusted(err error) bool {
	var cve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cve) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// retryAfter reads a Retry-After value (seconds or an HTTP date), capped at
// MaxRetryAfter; 0 when there is none.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}

// call sends a synchronous request and reads its answer as the hook says.
func (k *Kratos) call(ctx context.Context, w *config.WebHook, body []byte) (*IdentityPatch, error) {
	start := k.o.Now()
	p, err := k.send(ctx, w, body, true)
	if err != nil {
		var in *Interrupt
		if !errors.As(err, &in) {
			k.log.WarnContext(ctx, "web hook failed", slog.String("url", w.URL), slog.String("hook_id", w.ID),
				slog.Duration("duration", k.o.Now().Sub(start)), slog.Any("error", err))
		}
	}
	return p, err
}

// send makes the request and, when sync, reads the answer.
func (k *Kratos) send(ctx context.Context, w *config.WebHook, body []byte, sync bool) (*IdentityPatch, error) {
	req, err := buildRequest(ctx, w, body)
	if err != nil {
		return nil, fmt.Errorf("web hook %s: build request: %w", w.URL, err)
	}
	resp, err := k.o.Client.Do(req)
	if err != nil {
		var ne net.Error
		timeout := errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
		return nil, &UpstreamError{Timeout: timeout, Cause: fmt.Errorf("%s %s: %w", w.Method, w.URL, scrub(err))}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	if err != nil {
		return nil, &UpstreamError{Cause: fmt.Errorf("%s %s: read answer: %w", w.Method, w.URL, scrub(err))}
	}
	tooLarge := len(raw) > MaxResponseBody
	switch {
	case resp.StatusCode >= 400:
		if sync && w.Interrupts() && !tooLarge {
			if in := interruptOf(raw); in != nil {
				return nil, in
			}
		}
		return nil, &UpstreamError{Status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"),
			Cause: fmt.Errorf("%s %s answered %d", w.Method, w.URL, resp.StatusCode)}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, &UpstreamError{Status: resp.StatusCode, Cause: fmt.Errorf("%s %s answered %d", w.Method, w.URL, resp.StatusCode)}
	}
	if !sync || !w.Parse || resp.StatusCode != http.StatusOK {
		return nil, nil
	}
	if tooLarge {
		return nil, &UpstreamError{Cause: fmt.Errorf("%s %s: the answer is larger than %d bytes", w.Method, w.URL, MaxResponseBody)}
	}
	var answer struct {
		Identity *IdentityPatch `json:"identity"`
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return nil, &UpstreamError{Cause: fmt.Errorf("%s %s: the answer is not JSON: %v", w.Method, w.URL, err)}
	}
	if p := answer.Identity; p != nil {
		for _, f := range []*json.RawMessage{&p.Traits, &p.MetadataPublic, &p.MetadataAdmin} {
			if string(*f) == "null" {
				*f = nil
			}
		}
	}
	return answer.Identity, nil
}

// interruptOf reads Kratos' {"messages": [...]} shape; nil when the body
// has no messages.
func interruptOf(raw []byte) *Interrupt {
	var v struct {
		Messages []FieldMessages `json:"messages"`
	}
	if json.Unmarshal(raw, &v) != nil || len(v.Messages) == 0 {
		return nil
	}
	return &Interrupt{Messages: v.Messages}
}

// buildRequest makes the request of w with body (rendered JSON, or nil).
func buildRequest(ctx context.Context, w *config.WebHook, body []byte) (*http.Request, error) {
	ct := w.Headers["Content-Type"]
	if ct == "" {
		ct = "application/json"
	}
	var rd io.Reader
	if body != nil {
		if ct == "application/x-www-form-urlencoded" {
			var fields map[string]any
			if err := json.Unmarshal(body, &fields); err != nil {
				return nil, fmt.Errorf("a form body must render to a JSON object: %v", err)
			}
			form := url.Values{}
			for k, v := range fields {
				if s, ok := v.(string); ok {
					form.Set(k, s)
				} else {
					b, _ := json.Marshal(v)
					form.Set(k, string(b))
				}
			}
			body = []byte(form.Encode())
		}
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, w.Method, w.URL, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", ct)
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "Latchkey-Webhooks/1")
	}
	if a := w.Auth; a != nil {
		switch a.Type {
		case "api_key":
			if a.In == "cookie" {
				req.AddCookie(&http.Cookie{Name: a.Name, Value: a.Value})
			} else {
				req.Header.Set(a.Name, a.Value)
			}
		case "basic_auth":
			req.SetBasicAuth(a.User, a.Password)
		}
	}
	return req, nil
}

// scrub drops the URL from a client error (*url.Error repeats it, and the
// caller names it already).
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func trim(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
