package kratos_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/jsonnet"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
	"github.com/latchkey/latchkey/webhook"
)

// hookServer is a web hook receiver answering every request with status
// and body, recording what it got.
type hookServer struct {
	srv          *httptest.Server
	mu           sync.Mutex
	paths        []string
	bodies       []string
	status       int
	answer       string
	authOK, seen bool
}

func newHookServer(t *testing.T, status int, answer string) *hookServer {
	t.Helper()
	h := &hookServer{status: status, answer: answer}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.paths = append(h.paths, r.URL.Path)
		h.bodies = append(h.bodies, string(b))
		h.authOK = r.Header.Get("X-Hook-Key") == "hook-secret"
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(h.status)
		_, _ = io.WriteString(w, h.answer)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookServer) requests() ([]string, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.paths...), append([]string(nil), h.bodies...)
}

// hookConfig is a web_hook with an api_key and a body template that sends
// what ctx holds.
func hookConfig(url string, extra map[string]any) config.Hook {
	tpl := `function(ctx) { flow_id: ctx.flow.id, identity: if std.objectHas(ctx, 'identity') then ctx.identity else null, url: ctx.request_url }`
	c := map[string]any{"url": url, "body": "base64://" + base64.StdEncoding.EncodeToString([]byte(tpl)),
		"auth": map[string]any{"type": "api_key", "config": map[string]any{"name": "X-Hook-Key", "value": "hook-secret"}}}
	for k, v := range extra {
		c[k] = v
	}
	return config.Hook{Hook: "web_hook", Config: c}
}

// withWebHooks lets set place hooks in the flows' configuration and builds
// the runner over the environment's store.
func withWebHooks(t *testing.T, set func(ss *config.SelfService)) ssOption {
	return func(cfg *config.Config, o *kratos.SelfServiceOptions) {
		t.Helper()
		set(&o.SelfService)
		ev, err := jsonnet.New(jsonnet.Options{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		o.WebHooks, err = webhook.NewKratos(webhook.KratosOptions{Store: o.Store, Hooks: o.SelfService.WebHooks(), Jsonnet: ev,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func registerBody(email string) map[string]any {
	return map[string]any{"method": "password", "traits": map[string]any{"email": email, "name": "Alice"}, "password": "correct horse battery"}
}

// TestWebHookRegistrationParse: a response.parse hook after password
// registration changes the traits and metadata before the identity is
// stored, and sees the identity (with its final id) and the flow.
func TestWebHookRegistrationParse(t *testing.T) {
	t.Parallel()
	rcv := newHookServer(t, 200, `{"identity":{"traits":{"email":"alice@example.com","name":"Alice from the hook"},"metadata_public":{"plan":"pro"}}}`)
	e := newSelfServiceEnv(t, withWebHooks(t, func(ss *config.SelfService) {
		ss.Flows.Registration.After.Password.Hooks = []config.Hook{
			hookConfig(rcv.srv.URL+"/parse", map[string]any{"response": map[string]any{"parse": true}}), {Hook: "session"}}
	}))
	c := e.native(t)
	f := c.do("GET", "/self-service/registration/api", nil)
	must(t, f, 200)
	r := c.do("POST", "/self-service/registration?flow="+flowID(t, f), registerBody("alice@example.com"))
	must(t, r, 200)
	ident := r.json(t)["identity"].(map[string]any)
	if ident["traits"].(map[string]any)["name"] != "Alice from the hook" || ident["metadata_public"].(map[string]any)["plan"] != "pro" {
		t.Fatalf("identity not changed by the hook: %s", r.body)
	}
	stored, err := e.ids.Get(context.Background(), ident["id"].(string))
	if err != nil || !strings.Contains(string(stored.Traits), "Alice from the hook") {
		t.Fatalf("stored traits %s (%v)", stored.Traits, err)
	}
	paths, bodies := rcv.requests()
	if len(paths) != 1 || !rcv.authOK {
		t.Fatalf("hook calls %v, api key sent %v", paths, rcv.authOK)
	}
	var sent struct {
		FlowID   string         `json:"flow_id"`
		Identity map[string]any `json:"identity"`
	}
	if err := json.Unmarshal([]byte(bodies[0]), &sent); err != nil {
		t.Fatal(err)
	}
	if sent.FlowID != flowID(t, f) || sent.Identity["id"] != ident["id"] || sent.Identity["traits"].(map[string]any)["email"] != "alice@example.com" {
		t.Errorf("hook body %s", bodies[0])
	}
}

// TestWebHookRegistrationInterrupt: an interrupting hook's messages appear
// on the flow's nodes and nothing is stored.
func TestWebHookRegistrationInterrupt(t *testing.T) {
	t.Parallel()
	rcv := newHookServer(t, 400, `{"messages":[{"instance_ptr":"#/traits/email","messages":[{"id":4000001,"text":"This address is not allowed.","type":"error","context":{"value":"bob@example.com"}}]},{"instance_ptr":"#/","messages":[{"id":4000002,"text":"Registration is paused.","type":"error"}]}]}`)
	e := newSelfServiceEnv(t, withWebHooks(t, func(ss *config.SelfService) {
		ss.Flows.Registration.After.Password.Hooks = []config.Hook{
			hookConfig(rcv.srv.URL, map[string]any{"can_interrupt": true}), {Hook: "session"}}
	}))
	for _, c := range []*client{e.native(t), e.spa(t)} {
		path := "/self-service/registration/api"
		if c.http.Jar != nil { // the SPA: a browser flow answered in JSON
			path = "/self-service/registration/browser"
		}
		f := c.do("GET", path, nil)
		must(t, f, 200)
		body := registerBody("bob@example.com")
		if c.http.Jar != nil {
			body["csrf_token"] = csrfOf(t, f.json(t))
		}
		r := c.do("POST", "/self-service/registration?flow="+flowID(t, f), body)
		must(t, r, 400)
		fj := r.json(t)
		n := nodeByName(t, fj, "traits.email")
		msgs, _ := n["messages"].([]any)
		if len(msgs) != 1 || msgs[0].(map[string]any)["id"] != float64(4000001) || msgs[0].(map[string]any)["text"] != "This address is not allowed." {
			t.Fatalf("%s: traits.email messages %v", path, msgs)
		}
		flowMsgs, _ := fj["ui"].(map[string]any)["messages"].([]any)
		if len(flowMsgs) != 1 || flowMsgs[0].(map[string]any)["id"] != float64(4000002) {
			t.Fatalf("%s: flow messages %v", path, flowMsgs)
		}
	}
	list, err := e.st.ListIdentities(context.Background(), store.IdentityQuery{})
	if err != nil || len(list) != 0 {
		t.Fatalf("identities stored after an interrupt: %d (%v)", len(list), err)
	}
}

// TestWebHookBeforeInterrupt: a before hook that interrupts answers the
// flow's creation with Kratos' 400 error; a failing plain one with 502.
func TestWebHookBeforeInterrupt(t *testing.T) {
	t.Parallel()
	stop := newHookServer(t, 403, `{"messages":[{"instance_ptr":"#/","messages":[{"id":4000003,"text":"Logins are closed.","type":"error"}]}]}`)
	down := newHookServer(t, 500, ``)
	ok := newHookServer(t, 204, ``)
	e := newSelfServiceEnv(t, withWebHooks(t, func(ss *config.SelfService) {
		ss.Flows.Login.Before.Hooks = []config.Hook{hookConfig(stop.srv.URL, map[string]any{"can_interrupt": true})}
		ss.Flows.Settings.Before.Hooks = []config.Hook{hookConfig(down.srv.URL, nil)}
		ss.Flows.Registration.Before.Hooks = []config.Hook{hookConfig(ok.srv.URL, nil)}
	}))
	c := e.native(t)
	r := c.do("GET", "/self-service/login/api", nil)
	must(t, r, 400)
	if msg := r.json(t)["error"].(map[string]any)["reason"]; msg != "Logins are closed." {
		t.Errorf("reason %v: %s", msg, r.body)
	}
	f := c.do("GET", "/self-service/registration/api", nil)
	must(t, f, 200)
	paths, bodies := ok.requests()
	if len(paths) != 1 || !strings.Contains(bodies[0], flowID(t, f)) || strings.Contains(bodies[0], `"identity":{`) {
		t.Fatalf("registration before hook: %v %v", paths, bodies)
	}
	c.token = e.registerNative(t, c, "carol@example.com", "correct horse battery")
	must(t, c.do("GET", "/self-service/settings/api", nil), 502)
}

// TestWebHookAsyncQueued: response.ignore hooks after registration and
// login are queued (not called during the request) with the identity in
// their body, on every backend.
func TestWebHookAsyncQueued(t *testing.T) {
	t.Parallel()
	rcv := newHookServer(t, 200, ``)
	onBackends(t, func(t *testing.T, e *ssEnv) {
		c := e.native(t)
		c.token = e.registerNative(t, c, "dave@example.com", "correct horse battery")
		c.token = ""
		f := c.do("GET", "/self-service/login/api", nil)
		must(t, f, 200)
		must(t, c.do("POST", "/self-service/login?flow="+flowID(t, f), map[string]any{"method": "password",
			"identifier": "dave@example.com", "password": "correct horse battery"}), 200)
		if paths, _ := rcv.requests(); len(paths) != 0 {
			t.Fatalf("asynchronous hooks were called during the request: %v", paths)
		}
		q, err := e.st.ListWebhookDeliveries(context.Background(), store.WebhookDeliveryQuery{Event: webhook.KratosEvent})
		if err != nil || len(q) != 2 {
			t.Fatalf("%d queued calls (%v), want 2", len(q), err)
		}
		for _, d := range q {
			if d.Status != store.DeliveryQueued || !strings.Contains(string(d.Data), "dave@example.com") || strings.Contains(string(d.Data), "hook-secret") {
				t.Errorf("queued call %s %s", d.Status, d.Data)
			}
		}
	}, withWebHooks(t, func(ss *config.SelfService) {
		async := map[string]any{"response": map[string]any{"ignore": true}}
		ss.Flows.Registration.After.Password.Hooks = []config.Hook{{Hook: "session"}, hookConfig(rcv.srv.URL+"/reg", async)}
		ss.Flows.Login.After.Hooks = []config.Hook{hookConfig(rcv.srv.URL+"/login", async)}
	}))
}

// TestWebHookSettingsAfter: after a saved settings change, the method's
// synchronous hook is called with the changed identity and the
// asynchronous one is queued; a failing synchronous hook answers 502.
func TestWebHookSettingsAfter(t *testing.T) {
	t.Parallel()
	ok := newHookServer(t, 200, ``)
	down := newHookServer(t, 500, ``)
	e := newSelfServiceEnv(t, withWebHooks(t, func(ss *config.SelfService) {
		ss.Flows.Settings.After.Profile.Hooks = []config.Hook{hookConfig(ok.srv.URL+"/profile", nil),
			hookConfig(ok.srv.URL+"/queued", map[string]any{"response": map[string]any{"ignore": true}})}
		ss.Flows.Settings.After.Password.Hooks = []config.Hook{hookConfig(down.srv.URL, nil)}
	}))
	c := e.native(t)
	c.token = e.registerNative(t, c, "erin@example.com", "correct horse battery")
	sf := c.do("GET", "/self-service/settings/api", nil)
	must(t, sf, 200)
	id := flowID(t, sf)
	must(t, c.do("POST", "/self-service/settings?flow="+id, map[string]any{"method": "profile",
		"traits": map[string]any{"email": "erin@example.com", "name": "Erin Changed"}}), 200)
	paths, bodies := ok.requests()
	if len(paths) != 1 || paths[0] != "/profile" || !strings.Contains(bodies[0], "Erin Changed") || !ok.authOK {
		t.Fatalf("settings hook calls %v %v", paths, bodies)
	}
	q, err := e.st.ListWebhookDeliveries(context.Background(), store.WebhookDeliveryQuery{Event: webhook.KratosEvent})
	if err != nil || len(q) != 1 || !strings.HasSuffix(q[0].Callback, "/queued") {
		t.Fatalf("queued calls %+v (%v)", q, err)
	}
	must(t, c.do("POST", "/self-service/settings?flow="+id, map[string]any{"method": "password", "password": "a new passphrase 42"}), 502)
}

// queueFailing is a store whose transactions fail to queue web hook calls
// while fail is set.
type queueFailing struct {
	store.Store
	fail *atomic.Bool
}

func (q queueFailing) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	return q.Store.Update(ctx, func(tx store.Tx) error { return fn(queueFailingTx{tx, q.fail}) })
}

type queueFailingTx struct {
	store.Tx
	fail *atomic.Bool
}

func (q queueFailingTx) CreateWebhookDelivery(ctx context.Context, d *store.WebhookDelivery) error {
	if q.fail.Load() {
		return errors.New("the queue write failed")
	}
	return q.Tx.CreateWebhookDelivery(ctx, d)
}

// TestWebHookAsyncQueuedWithTheChange: a response.ignore hook's call is
// queued in the transaction of the change that triggers it, on every
// backend. While queueing fails, a registration stores no identity and a
// settings change is not saved (the step answers an error); once it works,
// the committed registration and change have their calls in the queue
// when the answer arrives, before any worker ran.
func TestWebHookAsyncQueuedWithTheChange(t *testing.T) {
	t.Parallel()
	rcv := newHookServer(t, 200, ``)
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fail := &atomic.Bool{}
			e := newSelfServiceEnvOn(t, open, func(_ *config.Config, o *kratos.SelfServiceOptions) {
				o.Store = queueFailing{o.Store, fail}
			}, withWebHooks(t, func(ss *config.SelfService) {
				async := map[string]any{"response": map[string]any{"ignore": true}}
				ss.Flows.Registration.After.Password.Hooks = []config.Hook{{Hook: "session"}, hookConfig(rcv.srv.URL+"/reg", async)}
				ss.Flows.Settings.After.Profile.Hooks = []config.Hook{hookConfig(rcv.srv.URL+"/settings", async)}
			}))
			ctx := context.Background()
			queued := func() []store.WebhookDelivery {
				t.Helper()
				q, err := e.st.ListWebhookDeliveries(ctx, store.WebhookDeliveryQuery{Event: webhook.KratosEvent})
				if err != nil {
					t.Fatal(err)
				}
				return q
			}
			c := e.native(t)
			fail.Store(true)
			f := c.do("GET", "/self-service/registration/api", nil)
			must(t, f, 200)
			r := c.do("POST", "/self-service/registration?flow="+flowID(t, f), registerBody("frank@example.com"))
			if r.code < 500 {
				t.Fatalf("registration with a failing queue: status %d, want an error: %s", r.code, r.body)
			}
			if i, err := e.st.FindIdentityByIdentifier(ctx, core.CredentialPassword, "frank@example.com"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("the identity was stored without its queued call: %v (%v)", i != nil, err)
			}
			fail.Store(false)
			c.token = e.registerNative(t, c, "frank@example.com", "correct horse battery")
			if q := queued(); len(q) != 1 || !strings.HasSuffix(q[0].Callback, "/reg") || !strings.Contains(string(q[0].Data), "frank@example.com") {
				t.Fatalf("queued after registration: %+v", q)
			}

			fail.Store(true)
			sf := c.do("GET", "/self-service/settings/api", nil)
			must(t, sf, 200)
			change := map[string]any{"method": "profile", "traits": map[string]any{"email": "frank@example.com", "name": "Frank Changed"}}
			if r := c.do("POST", "/self-service/settings?flow="+flowID(t, sf), change); r.code < 500 {
				t.Fatalf("settings with a failing queue: status %d: %s", r.code, r.body)
			}
			i, err := e.st.FindIdentityByIdentifier(ctx, core.CredentialPassword, "frank@example.com")
			if err != nil || strings.Contains(string(i.Traits), "Frank Changed") {
				t.Fatalf("the change was saved without its queued call: %v %s", err, i.Traits)
			}
			fail.Store(false)
			sf = c.do("GET", "/self-service/settings/api", nil)
			must(t, sf, 200)
			must(t, c.do("POST", "/self-service/settings?flow="+flowID(t, sf), change), 200)
			if q := queued(); len(q) != 2 || !strings.HasSuffix(q[1].Callback, "/settings") || !strings.Contains(string(q[1].Data), "Frank Changed") {
				t.Fatalf("queued after settings: %+v", q)
			}
			if paths, _ := rcv.requests(); len(paths) != 0 {
				t.Fatalf("asynchronous hooks were called during the requests: %v", paths)
			}
		})
	}
}
