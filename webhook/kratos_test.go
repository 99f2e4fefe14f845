package webhook_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/jsonnet"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
	"github.com/latchkey/latchkey/webhook"
)

func TestMain(m *testing.M) {
	jsonnet.RunWorker() // web_hook bodies are rendered in a child process
	os.Exit(m.Run())
}

// hookReceiver records Kratos web_hook requests and answers with
// answer(n) (n counts from 1).
type hookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []*http.Request
	bodies []string
	answer func(n int) (int, string)
}

func newHookReceiver(t *testing.T, answer func(n int) (int, string)) *hookReceiver {
	t.Helper()
	h := &hookReceiver{answer: answer}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs = append(h.reqs, r)
		h.bodies = append(h.bodies, string(b))
		n := len(h.reqs)
		h.mu.Unlock()
		status, body := 200, ""
		if h.answer != nil {
			status, body = h.answer(n)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.reqs)
}

func (h *hookReceiver) last() (*http.Request, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.reqs) == 0 {
		return nil, ""
	}
	return h.reqs[len(h.reqs)-1], h.bodies[len(h.bodies)-1]
}

func b64(s string) string { return "base64://" + base64.StdEncoding.EncodeToString([]byte(s)) }

// webHook returns a web_hook config.Hook with cfg plus url (and a body
// template sending {} unless cfg has one: the configuration requires one).
func webHook(url string, cfg map[string]any) config.Hook {
	c := map[string]any{"url": url, "body": b64(`function(ctx) {}`)}
	for k, v := range cfg {
		c[k] = v
	}
	return config.Hook{Hook: "web_hook", Config: c}
}

func parsed(t *testing.T, hooks ...config.Hook) []*config.WebHook {
	t.Helper()
	var out []*config.WebHook
	for _, h := range hooks {
		w, p := config.ParseWebHook("hook", h.Config)
		if len(p) > 0 {
			t.Fatal(p)
		}
		out = append(out, w)
	}
	return out
}

var testEvaluator = sync.OnceValues(func() (*jsonnet.Evaluator, error) {
	return jsonnet.New(jsonnet.Options{Timeout: 5 * time.Second})
})

func newKratos(t *testing.T, st store.Store, c *clock, hooks ...config.Hook) *webhook.Kratos {
	t.Helper()
	ev, err := testEvaluator()
	if err != nil {
		t.Fatal(err)
	}
	k, err := webhook.NewKratos(webhook.KratosOptions{Store: st, Hooks: parsed(t, hooks...), Jsonnet: ev,
		Client: webhook.NewClient(5 * time.Second), Now: c.now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func kratosWorker(t *testing.T, st store.Store, c *clock, k *webhook.Kratos) *webhook.Worker {
	t.Helper()
	w, err := webhook.NewWorker(webhook.WorkerOptions{Store: st, Kratos: k, Config: config.HankoWebhooks{Timeout: 5 * time.Second},
		BackoffBase: time.Second, BackoffMax: 8 * time.Second, Now: c.now, Jitter: func() float64 { return 0.999999 },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var hookCtx = &webhook.Context{
	Flow:           json.RawMessage(`{"id":"f1","type":"api"}`),
	RequestHeaders: http.Header{"User-Agent": {"test"}},
	RequestMethod:  "POST",
	RequestURL:     "http://127.0.0.1:4433/self-service/registration?flow=f1",
	RequestCookies: map[string]string{"a": "b"},
	Identity:       json.RawMessage(`{"id":"i1","traits":{"email":"ada@example.com"}}`),
}

const bodyTemplate = `function(ctx) { id: ctx.identity.id, email: ctx.identity.traits.email, flow: ctx.flow.id, url: ctx.request_url, ua: ctx.request_headers['User-Agent'][0], c: ctx.request_cookies.a }`

func TestKratosSyncRequest(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	c := &clock{t: time.Now().UTC()}
	rcv := newHookReceiver(t, nil)
	for _, tc := range []struct {
		name  string
		cfg   map[string]any
		check func(t *testing.T, r *http.Request, body string)
	}{
		{"json body from template, api key header", map[string]any{"body": b64(bodyTemplate),
			"auth": map[string]any{"type": "api_key", "config": map[string]any{"name": "X-Key", "value": "s3cret", "in": "header"}}},
			func(t *testing.T, r *http.Request, body string) {
				want := `{"c":"b","email":"ada@example.com","flow":"f1","id":"i1","ua":"test","url":"http://127.0.0.1:4433/self-service/registration?flow=f1"}`
				if r.Method != "POST" || body != want || r.Header.Get("X-Key") != "s3cret" || r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("%s %q key %q ct %q", r.Method, body, r.Header.Get("X-Key"), r.Header.Get("Content-Type"))
				}
			}},
		{"api key cookie, PUT", map[string]any{"method": "PUT",
			"auth": map[string]any{"type": "api_key", "config": map[string]any{"name": "k", "value": "v", "in": "cookie"}}},
			func(t *testing.T, r *http.Request, body string) {
				ck, err := r.Cookie("k")
				if r.Method != "PUT" || body != "{}" || err != nil || ck.Value != "v" {
					t.Errorf("%s %q cookie %v %v", r.Method, body, ck, err)
				}
			}},
		{"basic auth, form body", map[string]any{"body": b64(`function(ctx) { email: ctx.identity.traits.email, n: 1 }`),
			"headers": map[string]any{"Content-Type": "application/x-www-form-urlencoded"},
			"auth":    map[string]any{"type": "basic_auth", "config": map[string]any{"user": "u", "password": "p"}}},
			func(t *testing.T, r *http.Request, body string) {
				u, p, ok := r.BasicAuth()
				if !ok || u != "u" || p != "p" || body != "email=ada%40example.com&n=1" {
					t.Errorf("basic %v %q %q body %q", ok, u, p, body)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := webHook(rcv.srv.URL+"/hook", tc.cfg)
			k := newKratos(t, st, c, h)
			if _, err := k.Run(context.Background(), []config.Hook{{Hook: "session"}, h}, hookCtx, webhook.SelectAll); err != nil {
				t.Fatal(err)
			}
			r, body := rcv.last()
			if r == nil || r.URL.Path != "/hook" {
				t.Fatalf("no request to /hook: %v", r)
			}
			tc.check(t, r, body)
		})
	}
}

func TestKratosParseAndInterrupt(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	c := &clock{t: time.Now().UTC()}
	for _, tc := range []struct {
		name      string
		cfg       map[string]any
		status    int
		answer    string
		wantPatch string
		wantErr   func(error) bool
	}{
		{"parse changes traits and metadata", map[string]any{"response": map[string]any{"parse": true}}, 200,
			`{"identity":{"traits":{"email":"ada@example.com","name":"Ada L."},"metadata_public":{"plan":"pro"}}}`,
			`{"traits":{"email":"ada@example.com","name":"Ada L."},"metadata_public":{"plan":"pro"}}`, nil},
		{"parse with 204 changes nothing", map[string]any{"response": map[string]any{"parse": true}}, 204, ``, `null`, nil},
		{"interrupt with messages", map[string]any{"can_interrupt": true}, 400,
			`{"messages":[{"instance_ptr":"#/traits/email","messages":[{"id":123,"text":"Not on the list","type":"error","context":{"value":"x"}}]}]}`,
			``, func(err error) bool {
				var in *webhook.Interrupt
				return errors.As(err, &in) && in.Messages[0].InstancePtr == "#/traits/email" && in.Messages[0].Messages[0].ID == 123
			}},
		{"error without messages is upstream", map[string]any{"can_interrupt": true}, 500, `oops`, ``, func(err error) bool {
			var ue *webhook.UpstreamError
			return errors.As(err, &ue) && !ue.Timeout
		}},
		{"error of a plain sync hook is upstream", nil, 403, `{"messages":[{"instance_ptr":"#/","messages":[{"id":1,"text":"x"}]}]}`, ``, func(err error) bool {
			var ue *webhook.UpstreamError
			return errors.As(err, &ue)
		}},
		{"answer over the size limit", map[string]any{"response": map[string]any{"parse": true}}, 200,
			`{"identity":{"traits":{"a":"` + strings.Repeat("x", webhook.MaxResponseBody) + `"}}}`, ``, func(err error) bool {
				var ue *webhook.UpstreamError
				return errors.As(err, &ue) && strings.Contains(err.Error(), "larger than")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := newHookReceiver(t, func(int) (int, string) { return tc.status, tc.answer })
			h := webHook(rcv.srv.URL, tc.cfg)
			k := newKratos(t, st, c, h)
			patch, err := k.Run(context.Background(), []config.Hook{h}, hookCtx, webhook.SelectAll)
			if tc.wantErr != nil {
				if !tc.wantErr(err) {
					t.Fatalf("error %v (%T)", err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(patch)
			if string(got) != tc.wantPatch {
				t.Errorf("patch %s, want %s", got, tc.wantPatch)
			}
		})
	}
}

func TestKratosSelectAndCancel(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	c := &clock{t: time.Now().UTC()}
	rcv := newHookReceiver(t, nil)
	interrupting := webHook(rcv.srv.URL+"/i", map[string]any{"can_interrupt": true})
	plain := webHook(rcv.srv.URL+"/p", nil)
	cancelled := webHook(rcv.srv.URL+"/c", map[string]any{"body": b64(`function(ctx) error "cancel"`)})
	k := newKratos(t, st, c, interrupting, plain, cancelled)
	hooks := []config.Hook{interrupting, plain, cancelled}
	if _, err := k.Run(context.Background(), hooks, hookCtx, webhook.SelectInterrupting); err != nil {
		t.Fatal(err)
	}
	if r, _ := rcv.last(); rcv.count() != 1 || r.URL.Path != "/i" {
		t.Fatalf("interrupting selection sent %d requests", rcv.count())
	}
	if _, err := k.Run(context.Background(), hooks, hookCtx, webhook.SelectOthers); err != nil {
		t.Fatal(err)
	}
	if r, _ := rcv.last(); rcv.count() != 2 || r.URL.Path != "/p" {
		t.Fatalf("others: %d requests; error \"cancel\" must send none", rcv.count())
	}
}

func TestKratosTimeoutAndRedirects(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	c := &clock{t: time.Now().UTC()}
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	t.Cleanup(func() { close(block); slow.Close() })
	other := newHookReceiver(t, nil)
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.srv.URL, http.StatusFound)
	}))
	t.Cleanup(redir.Close)

	ev, _ := testEvaluator()
	hs := webHook(slow.URL, nil)
	k, err := webhook.NewKratos(webhook.KratosOptions{Store: st, Hooks: parsed(t, hs), Jsonnet: ev,
		Client: webhook.NewClient(200 * time.Millisecond), Now: c.now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Run(context.Background(), []config.Hook{hs}, hookCtx, webhook.SelectAll)
	var ue *webhook.UpstreamError
	if !errors.As(err, &ue) || !ue.Timeout {
		t.Fatalf("slow receiver: %v", err)
	}
	hr := webHook(redir.URL, nil)
	_, err = newKratos(t, st, c, hr).Run(context.Background(), []config.Hook{hr}, hookCtx, webhook.SelectAll)
	if !errors.As(err, &ue) || other.count() != 0 {
		t.Fatalf("redirect to another host: err %v, %d requests there", err, other.count())
	}
}

// TestKratosAsyncQueuedRetriedAndRestart queues a response.ignore call,
// lets the receiver fail it once, then delivers it from a new runner and
// worker on the same database (a restart), on every backend.
func TestKratosAsyncQueuedRetriedAndRestart(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			c := &clock{t: time.Now().UTC().Truncate(time.Second)}
			rcv := newHookReceiver(t, func(n int) (int, string) {
				if n == 1 {
					return 503, ""
				}
				return 200, ""
			})
			h := webHook(rcv.srv.URL, map[string]any{"response": map[string]any{"ignore": true}, "body": b64(bodyTemplate),
				"auth": map[string]any{"type": "api_key", "config": map[string]any{"name": "X-Key", "value": "s3cret"}}})
			k := newKratos(t, st, c, h)
			if _, err := k.Run(context.Background(), []config.Hook{h}, hookCtx, webhook.SelectAll); err != nil {
				t.Fatal(err)
			}
			if rcv.count() != 0 {
				t.Fatal("an ignored hook was called synchronously")
			}
			q := deliveries(t, st, store.WebhookDeliveryQuery{Event: webhook.KratosEvent})
			if len(q) != 1 || q[0].Status != store.DeliveryQueued || strings.Contains(string(q[0].Data), "s3cret") {
				t.Fatalf("queue %+v", q)
			}
			var failures int
			w, err := webhook.NewWorker(webhook.WorkerOptions{Store: st, Kratos: k, Config: config.HankoWebhooks{Timeout: 5 * time.Second},
				BackoffBase: time.Second, BackoffMax: 8 * time.Second, Now: c.now, Jitter: func() float64 { return 0.999999 },
				OnKratosFailure: func(abandoned bool) {
					if !abandoned {
						failures++
					}
				}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := w.Tick(context.Background()); err != nil || n != 1 {
				t.Fatalf("tick: %d %v", n, err)
			}
			q = deliveries(t, st, store.WebhookDeliveryQuery{Event: webhook.KratosEvent})
			if q[0].Status != store.DeliveryQueued || q[0].Attempts != 1 || !strings.Contains(q[0].LastError, "503") || failures != 1 {
				t.Fatalf("after a failure: %+v", q[0])
			}
			// A new server: new runner and worker over the same database
			// and configuration; the retry is due after the back-off.
			c.add(2 * time.Second)
			k2 := newKratos(t, st, c, h)
			w2, err := webhook.NewWorker(webhook.WorkerOptions{Store: st, Kratos: k2, Config: config.HankoWebhooks{Timeout: 5 * time.Second},
				Now: c.now, OnKratosFailure: func(bool) { failures++ }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := w2.Tick(context.Background()); err != nil || n != 1 {
				t.Fatalf("tick after restart: %d %v", n, err)
			}
			q = deliveries(t, st, store.WebhookDeliveryQuery{Event: webhook.KratosEvent})
			if q[0].Status != store.DeliverySent || q[0].Attempts != 2 || rcv.count() != 2 || failures != 1 {
				t.Fatalf("after restart: %+v, %d requests", q[0], rcv.count())
			}
			r, body := rcv.last()
			if r.Header.Get("X-Key") != "s3cret" || !strings.Contains(body, `"email":"ada@example.com"`) {
				t.Errorf("delivered request: key %q body %s", r.Header.Get("X-Key"), body)
			}
		})
	}
}

// TestKratosEnqueueInTransaction: Enqueue queues only the asynchronous
// hooks, through the caller's transaction (rolled back with it, committed
// with it), and Run with SelectSync calls the synchronous ones without
// queueing the others again; on every backend.
func TestKratosEnqueueInTransaction(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			c := &clock{t: time.Now().UTC().Truncate(time.Second)}
			rcv := newHookReceiver(t, func(int) (int, string) { return 200, "" })
			async := webHook(rcv.srv.URL+"/async", map[string]any{"response": map[string]any{"ignore": true}, "body": b64(bodyTemplate)})
			sync := webHook(rcv.srv.URL+"/sync", map[string]any{"body": b64(bodyTemplate)})
			hooks := []config.Hook{sync, async}
			k := newKratos(t, st, c, hooks...)
			ctx := context.Background()
			rollback := errors.New("the change failed")
			err := st.Update(ctx, func(tx store.Tx) error {
				if err := k.Enqueue(ctx, tx, hooks, hookCtx, webhook.SelectOthers); err != nil {
					return err
				}
				return rollback
			})
			if !errors.Is(err, rollback) {
				t.Fatal(err)
			}
			if q := deliveries(t, st, store.WebhookDeliveryQuery{Event: webhook.KratosEvent}); len(q) != 0 {
				t.Fatalf("a rolled back change left queued calls: %+v", q)
			}
			if err := st.Update(ctx, func(tx store.Tx) error { return k.Enqueue(ctx, tx, hooks, hookCtx, webhook.SelectOthers) }); err != nil {
				t.Fatal(err)
			}
			q := deliveries(t, st, store.WebhookDeliveryQuery{Event: webhook.KratosEvent})
			if len(q) != 1 || q[0].Callback != rcv.srv.URL+"/async" || !strings.Contains(string(q[0].Data), "ada@example.com") || rcv.count() != 0 {
				t.Fatalf("committed: queue %+v, %d requests", q, rcv.count())
			}
			if _, err := k.Run(ctx, hooks, hookCtx, webhook.SelectOthers|webhook.SelectSync); err != nil {
				t.Fatal(err)
			}
			r, _ := rcv.last()
			if q := deliveries(t, st, store.WebhookDeliveryQuery{Event: webhook.KratosEvent}); len(q) != 1 || rcv.count() != 1 || r.URL.Path != "/sync" {
				t.Fatalf("SelectSync: %d queued, %d requests", len(q), rcv.count())
			}
		})
	}
}

// TestKratosRetryPolicy: queued calls are tried as Kratos' web hook
// client tries them (go-retryablehttp, two retries, 1s then 2s apart):
// 5xx other than 501, 429 and unreachable receivers are tried again (a
// Retry-After on 429/503 sets the wait, capped at MaxRetryAfter), other
// answers are given up at once; on every backend.
func TestKratosRetryPolicy(t *testing.T) {
	t.Parallel()
	type try struct {
		status   store.DeliveryStatus
		attempts int
		wait     time.Duration // NextAttempt after the try, from its time
	}
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		down       bool
		tries      []try
	}{
		{"503 three times", 503, "", false, []try{{store.DeliveryQueued, 1, time.Second}, {store.DeliveryQueued, 2, 2 * time.Second}, {store.DeliveryAbandoned, 3, 0}}},
		{"unreachable", 0, "", true, []try{{store.DeliveryQueued, 1, time.Second}, {store.DeliveryQueued, 2, 2 * time.Second}, {store.DeliveryAbandoned, 3, 0}}},
		{"429 with Retry-After", 429, "120", false, []try{{store.DeliveryQueued, 1, 120 * time.Second}}},
		{"503 with a long Retry-After", 503, "86400", false, []try{{store.DeliveryQueued, 1, webhook.MaxRetryAfter}}},
		{"400 not retried", 400, "", false, []try{{store.DeliveryAbandoned, 1, 0}}},
		{"404 not retried", 404, "", false, []try{{store.DeliveryAbandoned, 1, 0}}},
		{"501 not retried", 501, "", false, []try{{store.DeliveryAbandoned, 1, 0}}},
	} {
		for name, open := range storetest.Backends(t) {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				st := open(t)
				c := &clock{t: time.Now().UTC().Truncate(time.Second)}
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if tc.retryAfter != "" {
						w.Header().Set("Retry-After", tc.retryAfter)
					}
					w.WriteHeader(tc.status)
				}))
				t.Cleanup(srv.Close)
				url := srv.URL
				if tc.down {
					srv.Close()
				}
				h := webHook(url, map[string]any{"response": map[string]any{"ignore": true}})
				k := newKratos(t, st, c, h)
				if _, err := k.Run(context.Background(), []config.Hook{h}, hookCtx, webhook.SelectAll); err != nil {
					t.Fatal(err)
				}
				w := kratosWorker(t, st, c, k)
				for i, want := range tc.tries {
					if n, err := w.Tick(context.Background()); err != nil || n != 1 {
						t.Fatalf("try %d: tick %d %v", i+1, n, err)
					}
					q := deliveries(t, st, store.WebhookDeliveryQuery{Event: webhook.KratosEvent})
					got := try{q[0].Status, q[0].Attempts, 0}
					if got.status == store.DeliveryQueued {
						got.wait = q[0].NextAttempt.Sub(c.now())
					}
					if got != want {
						t.Fatalf("try %d: %+v, want %+v (%s)", i+1, got, want, q[0].LastError)
					}
					c.add(want.wait)
				}
				if tc.tries[len(tc.tries)-1].status != store.DeliveryAbandoned {
					return
				}
				if n, err := w.Tick(context.Background()); err != nil || n != 0 {
					t.Fatalf("after the last try: tick %d %v", n, err)
				}
			})
		}
	}
}

// TestKratosQueuedHookRemoved abandons a queued call whose hook is no
// longer configured instead of sending it anywhere.
func TestKratosQueuedHookRemoved(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	c := &clock{t: time.Now().UTC()}
	rcv := newHookReceiver(t, nil)
	h := webHook(rcv.srv.URL, map[string]any{"response": map[string]any{"ignore": true}})
	if _, err := newKratos(t, st, c, h).Run(context.Background(), []config.Hook{h}, hookCtx, webhook.SelectAll); err != nil {
		t.Fatal(err)
	}
	other := webHook(rcv.srv.URL+"/other", map[string]any{"response": map[string]any{"ignore": true}})
	w := kratosWorker(t, st, c, newKratos(t, st, c, other))
	if _, err := w.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	q := deliveries(t, st, store.WebhookDeliveryQuery{Event: webhook.KratosEvent})
	if q[0].Status != store.DeliveryAbandoned || rcv.count() != 0 {
		t.Fatalf("%+v, %d requests", q[0], rcv.count())
	}
}

// TestHankoDeliveriesWaitWithoutSigner: a worker for Kratos hooks alone
// leaves Hanko events queued.
func TestHankoDeliveriesWaitWithoutSigner(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t))
	e.cfg.Hooks = []config.HankoWebhook{{Callback: "http://127.0.0.1:9/x", Events: []string{"user"}}}
	e.enqueue(t, e.dispatcher(t), "user.create", map[string]int{"n": 1})
	w := kratosWorker(t, e.st, e.clock, newKratos(t, e.st, e.clock))
	if _, err := w.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	q := deliveries(t, e.st, store.WebhookDeliveryQuery{})
	if len(q) != 1 || q[0].Status != store.DeliveryQueued || q[0].Attempts != 0 || !q[0].NextAttempt.After(e.clock.now()) {
		t.Fatalf("%+v", q)
	}
}
