package kratos_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/courier/couriertest"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
	"github.com/latchkey/latchkey/webhook"
)

// Web hooks of the recovery and verification flows (Kratos'
// selfServiceBeforeRecovery/Verification and
// selfServiceAfterRecovery/Verification).

// hookCall is one request a hookRecorder received.
type hookCall struct {
	method, path string
	header       http.Header
	body         map[string]any
}

// hookRecorder is a web hook receiver that keeps every request and answers
// with its current status and body.
type hookRecorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	calls  []hookCall
	status int
	answer string
}

func newHookRecorder(t *testing.T, status int, answer string) *hookRecorder {
	t.Helper()
	h := &hookRecorder{status: status, answer: answer}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		h.mu.Lock()
		h.calls = append(h.calls, hookCall{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body})
		status, answer := h.status, h.answer
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookRecorder) got() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookCall(nil), h.calls...)
}

func (h *hookRecorder) answerWith(status int, answer string) {
	h.mu.Lock()
	h.status, h.answer = status, answer
	h.mu.Unlock()
}

// ctxTemplate sends what a body template sees of ctx.
const ctxTemplate = `function(ctx) {
  flow_id: ctx.flow.id, flow_type: ctx.flow.type, flow_state: ctx.flow.state,
  identity: if std.objectHas(ctx, 'identity') then ctx.identity else null,
  url: ctx.request_url, method: ctx.request_method,
  user_agent: ctx.request_headers['User-Agent'][0],
  has_authorization: std.objectHas(ctx.request_headers, 'Authorization'),
  cookies: ctx.request_cookies,
}`

// addressHook is a web_hook to url with the ctx template, auth and extra
// settings.
func addressHook(url string, auth map[string]any, extra map[string]any) config.Hook {
	c := map[string]any{"url": url, "body": "base64://" + base64.StdEncoding.EncodeToString([]byte(ctxTemplate))}
	if auth != nil {
		c["auth"] = auth
	}
	for k, v := range extra {
		c[k] = v
	}
	return config.Hook{Hook: "web_hook", Config: c}
}

var (
	apiKeyAuth = map[string]any{"type": "api_key", "config": map[string]any{"name": "X-Hook-Key", "value": "hook-secret", "in": "header"}}
	basicAuth  = map[string]any{"type": "basic_auth", "config": map[string]any{"user": "latchkey", "password": "hook-password"}}
	interrupts = map[string]any{"can_interrupt": true}
	queued     = map[string]any{"response": map[string]any{"ignore": true}}
)

const stopAnswer = `{"messages":[{"instance_ptr":"#/","messages":[{"id":4000010,"text":"Not from this network.","type":"error"}]},` +
	`{"instance_ptr":"#/email","messages":[{"id":4000011,"text":"This address is on hold.","type":"error"}]}]}`

// messagesOf returns the ids of a flow's ui.messages and of the messages
// of its node named name.
func messagesOf(t *testing.T, f map[string]any, name string) (flowIDs, nodeIDs []float64) {
	t.Helper()
	ui := f["ui"].(map[string]any)
	for _, m := range asList(ui["messages"]) {
		flowIDs = append(flowIDs, m.(map[string]any)["id"].(float64))
	}
	for _, n := range asList(ui["nodes"]) {
		a := n.(map[string]any)["attributes"].(map[string]any)
		if a["name"] == name && a["type"] != "submit" {
			for _, m := range asList(n.(map[string]any)["messages"]) {
				nodeIDs = append(nodeIDs, m.(map[string]any)["id"].(float64))
			}
		}
	}
	return flowIDs, nodeIDs
}

func sessionsOf(t *testing.T, e *ssEnv, identityID string) int {
	t.Helper()
	n, err := e.st.CountSessions(context.Background(), store.SessionQuery{IdentityID: identityID})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWebHookAddressFlowsBefore: recovery.before and verification.before
// hooks run when the flow is created (API and browser), with ctx.flow,
// the request's URL, method, allow-listed headers and cookies and no
// identity; an interrupting one refuses the flow with its message, a
// failing one answers 502.
func TestWebHookAddressFlowsBefore(t *testing.T) {
	t.Parallel()
	stop := newHookRecorder(t, 403, stopAnswer)
	ok := newHookRecorder(t, 204, ``)
	opt, _ := withMail(t, nil)
	e := newSelfServiceEnv(t, opt, withWebHooks(t, func(ss *config.SelfService) {
		ss.Flows.Recovery.Before.Hooks = []config.Hook{addressHook(stop.srv.URL+"/recovery", apiKeyAuth, interrupts)}
		ss.Flows.Verification.Before.Hooks = []config.Hook{addressHook(ok.srv.URL+"/verification", basicAuth, map[string]any{"method": "PUT"})}
	}))

	// Recovery: refused for every kind of client, nothing handed out.
	for _, tc := range []struct {
		name string
		c    *client
		path string
	}{{"native", e.native(t), "/self-service/recovery/api"}, {"spa", e.spa(t), "/self-service/recovery/browser"}} {
		r := tc.c.do("GET", tc.path, nil)
		must(t, r, 400)
		if reason := r.json(t)["error"].(map[string]any)["reason"]; reason != "Not from this network." {
			t.Errorf("%s: reason %v: %s", tc.name, reason, r.body)
		}
	}
	b := e.browser(t)
	r := b.do("GET", "/self-service/recovery/browser", nil)
	if r.code != 303 || !strings.Contains(r.hdr.Get("Location"), "ui/error?id=") {
		t.Errorf("browser: %d %s", r.code, r.hdr.Get("Location"))
	}
	calls := stop.got()
	if len(calls) != 3 {
		t.Fatalf("recovery before hook called %d times, want 3", len(calls))
	}
	c := calls[0]
	if c.method != "POST" || c.path != "/recovery" || c.header.Get("X-Hook-Key") != "hook-secret" || c.header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s %v", c.method, c.path, c.header)
	}
	if c.body["flow_type"] != "api" || c.body["identity"] != nil || c.body["method"] != "GET" ||
		c.body["url"] != e.base+"self-service/recovery/api" || c.body["user_agent"] != "Go-http-client/1.1" {
		t.Errorf("native body %v", c.body)
	}
	if calls[1].body["flow_type"] != "browser" {
		t.Errorf("spa body %v", calls[1].body)
	}

	// Verification: the flow is handed out after the hook answered; the
	// hook saw that flow, with Basic auth and PUT.
	v := e.native(t).do("GET", "/self-service/verification/api", nil)
	must(t, v, 200)
	spa := e.spa(t)
	must(t, spa.do("GET", "/self-service/verification/browser", nil), 200)
	vb := spa.do("GET", "/self-service/verification/browser", nil) // now with the anti-CSRF cookie
	must(t, vb, 200)
	calls = ok.got()
	if len(calls) != 3 {
		t.Fatalf("verification before hook called %d times, want 3", len(calls))
	}
	if user, pw, okAuth := (&http.Request{Header: calls[0].header}).BasicAuth(); !okAuth || user != "latchkey" || pw != "hook-password" || calls[0].method != "PUT" {
		t.Errorf("verification hook request %s %v", calls[0].method, calls[0].header)
	}
	if calls[0].body["flow_id"] != flowID(t, v) || calls[0].body["flow_state"] != "choose_method" {
		t.Errorf("verification hook body %v", calls[0].body)
	}
	cookies, _ := calls[2].body["cookies"].(map[string]any)
	if calls[2].body["flow_id"] != flowID(t, vb) || len(cookies) == 0 || calls[2].body["has_authorization"] != false {
		t.Errorf("browser verification hook body %v", calls[2].body)
	}

	// A synchronous hook that fails refuses the flow with 502.
	ok.answerWith(500, ``)
	must(t, e.native(t).do("GET", "/self-service/verification/api", nil), 502)
}

// sendCode starts a native flow of kind, sends a code to email (the n-th
// mail to it) and returns the flow id and the code.
func sendCode(t *testing.T, e *ssEnv, box *couriertest.SMTPServer, c *client, kind, email string, n int) (string, string) {
	t.Helper()
	f := c.do("GET", "/self-service/"+kind+"/api", nil)
	must(t, f, 200)
	id := flowID(t, f)
	must(t, c.do("POST", "/self-service/"+kind+"?flow="+id, map[string]any{"method": "code", "email": email}), 200)
	return id, codeIn(t, box.Wait(t, email, n).Plain())
}

// TestWebHookAddressFlowsAfter: after a recovery (before its session is
// stored) and after a verification (before the address is marked
// verified) the synchronous hooks are called with ctx.identity and
// ctx.flow, and the response.ignore ones are queued in the step's
// transaction (a failing queue write fails the step), not called, and
// delivered by the web-hook worker; on every backend.
func TestWebHookAddressFlowsAfter(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rcv := newHookRecorder(t, 200, `{"identity":{"metadata_public":{"ignored":true}}}`)
			opt, box := withMail(t, nil)
			var runner *webhook.Kratos
			fail := &atomic.Bool{}
			e := newSelfServiceEnvOn(t, open, func(_ *config.Config, o *kratos.SelfServiceOptions) {
				o.Store = queueFailing{o.Store, fail}
			}, opt, withWebHooks(t, func(ss *config.SelfService) {
				ss.Flows.Recovery.After.Hooks = []config.Hook{addressHook(rcv.srv.URL+"/recovered", apiKeyAuth, nil),
					addressHook(rcv.srv.URL+"/recovered-queued", apiKeyAuth, queued), {Hook: "revoke_active_sessions"}}
				ss.Flows.Verification.After.Hooks = []config.Hook{addressHook(rcv.srv.URL+"/verified", apiKeyAuth, map[string]any{"response": map[string]any{"parse": true}}),
					addressHook(rcv.srv.URL+"/verified-queued", nil, queued)}
			}), func(_ *config.Config, o *kratos.SelfServiceOptions) { runner = o.WebHooks })

			alice := e.createUser(t, "alice@example.com")
			c := e.native(t)
			id, code := sendCode(t, e, box, c, "recovery", "alice@example.com", 1)
			if n := len(rcv.got()); n != 0 {
				t.Fatalf("after hooks called before the recovery: %d", n)
			}
			// The queued calls commit with the step or not at all: while
			// the queue write fails, nothing is recovered.
			fail.Store(true)
			if r := c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "code": code}); r.code < 500 {
				t.Fatalf("recovery with a failing queue: %d %s", r.code, r.body)
			}
			if n := sessionsOf(t, e, alice.ID); n != 0 || len(rcv.got()) != 0 {
				t.Fatalf("recovery with a failing queue: %d sessions, hook calls %+v", n, rcv.got())
			}
			fail.Store(false)
			done := c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "code": code})
			must(t, done, 200)
			if tok, _ := continueWith(t, done)["set_ory_session_token"]["ory_session_token"].(string); tok == "" || sessionsOf(t, e, alice.ID) != 1 {
				t.Fatalf("no session after recovery: %s", done.body)
			}
			calls := rcv.got()
			if len(calls) != 1 || calls[0].path != "/recovered" || calls[0].header.Get("X-Hook-Key") != "hook-secret" {
				t.Fatalf("recovery after hook calls %+v", calls)
			}
			b := calls[0].body
			ident, _ := b["identity"].(map[string]any)
			if b["flow_id"] != id || b["flow_state"] != "passed_challenge" || ident["id"] != alice.ID ||
				ident["traits"].(map[string]any)["email"] != "alice@example.com" || b["url"] != e.base+"self-service/recovery?flow="+id {
				t.Errorf("recovery hook body %v", b)
			}

			bob := e.createUser(t, "bob@example.com")
			vid, vcode := sendCode(t, e, box, c, "verification", "bob@example.com", 1)
			fail.Store(true)
			if r := c.do("POST", "/self-service/verification?flow="+vid, map[string]any{"method": "code", "code": vcode}); r.code < 500 ||
				e.addressVerified(t, bob.ID, "bob@example.com") {
				t.Fatalf("verification with a failing queue: %d %s", r.code, r.body)
			}
			fail.Store(false)
			v := c.do("POST", "/self-service/verification?flow="+vid, map[string]any{"method": "code", "code": vcode})
			must(t, v, 200)
			if stateOf(t, v) != "passed_challenge" || !e.addressVerified(t, bob.ID, "bob@example.com") {
				t.Fatalf("not verified: %s", v.body)
			}
			calls = rcv.got()
			if len(calls) != 3 || calls[1].path != "/verified" || calls[2].path != "/verified" {
				t.Fatalf("verification after hook calls %+v", calls)
			}
			b = calls[2].body
			ident, _ = b["identity"].(map[string]any)
			addrs, _ := ident["verifiable_addresses"].([]any)
			if b["flow_id"] != vid || ident["id"] != bob.ID || len(addrs) != 1 || addrs[0].(map[string]any)["verified"] != false {
				t.Errorf("verification hook body (the address is verified after the hook, as in Kratos) %v", b)
			}
			// A parsed answer's identity is not saved after verification.
			if got, _ := e.st.GetIdentity(context.Background(), bob.ID); strings.Contains(string(got.MetadataPublic), "ignored") {
				t.Errorf("metadata_public saved from a verification hook: %s", got.MetadataPublic)
			}

			// The response.ignore hooks wait in the queue, then the worker
			// delivers them.
			q, err := e.st.ListWebhookDeliveries(context.Background(), store.WebhookDeliveryQuery{Event: webhook.KratosEvent})
			if err != nil || len(q) != 2 {
				t.Fatalf("%d queued calls (%v), want 2", len(q), err)
			}
			w, err := webhook.NewWorker(webhook.WorkerOptions{Store: e.st, Kratos: runner, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := w.Tick(context.Background()); err != nil || n != 2 {
				t.Fatalf("worker tick: %d %v", n, err)
			}
			byPath := map[string]hookCall{}
			for _, c := range rcv.got()[3:] {
				byPath[c.path] = c
			}
			rq, vq := byPath["/recovered-queued"], byPath["/verified-queued"]
			if rq.body["identity"].(map[string]any)["id"] != alice.ID || rq.header.Get("X-Hook-Key") != "hook-secret" {
				t.Errorf("queued recovery call %+v", rq)
			}
			if vq.body["identity"].(map[string]any)["id"] != bob.ID || vq.body["flow_id"] != vid {
				t.Errorf("queued verification call %+v", vq)
			}
		})
	}
}

// TestWebHookRecoveryAfterInterrupt: a recovery.after hook that interrupts
// stops the recovery before any session is stored; as Kratos' retry, a
// new recovery flow shows the hook's messages (JSON clients are sent to
// fetch it, browsers to its page). A failing hook answers 502 and issues
// no session either.
func TestWebHookRecoveryAfterInterrupt(t *testing.T) {
	t.Parallel()
	rcv := newHookRecorder(t, 400, stopAnswer)
	opt, box := withMail(t, nil)
	e := newSelfServiceEnv(t, opt, withWebHooks(t, func(ss *config.SelfService) {
		ss.Flows.Recovery.After.Hooks = []config.Hook{addressHook(rcv.srv.URL, nil, interrupts)}
	}))
	carol := e.createUser(t, "carol@example.com")

	c := e.native(t)
	id, code := sendCode(t, e, box, c, "recovery", "carol@example.com", 1)
	r := c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "code": code})
	must(t, r, 303)
	loc, _ := url.Parse(r.hdr.Get("Location"))
	newID := loc.Query().Get("id")
	if !strings.HasPrefix(loc.String(), e.base+"self-service/recovery/flows?") || newID == "" || newID == id {
		t.Fatalf("Location %q", loc)
	}
	nf := c.do("GET", loc.RequestURI(), nil)
	must(t, nf, 200)
	flowMsgs, emailMsgs := messagesOf(t, nf.json(t), "email")
	if stateOf(t, nf) != "choose_method" || len(flowMsgs) != 1 || flowMsgs[0] != 4000010 || len(emailMsgs) != 1 || emailMsgs[0] != 4000011 {
		t.Errorf("new flow %s", nf.body)
	}
	if n := sessionsOf(t, e, carol.ID); n != 0 {
		t.Fatalf("%d sessions after an interrupted recovery", n)
	}

	// A browser is sent to the new flow's page, without a session.
	b := e.browser(t)
	init := b.do("GET", "/self-service/recovery/browser", nil)
	bid := flowID(t, init)
	b.json = true
	csrf := csrfOf(t, b.do("GET", "/self-service/recovery/flows?id="+bid, nil).json(t))
	b.json = false
	must(t, b.do("POST", "/self-service/recovery?flow="+bid, url.Values{"csrf_token": {csrf}, "method": {"code"}, "email": {"carol@example.com"}}), 303)
	bcode := codeIn(t, box.Wait(t, "carol@example.com", 2).Plain())
	br := b.do("POST", "/self-service/recovery?flow="+bid, url.Values{"csrf_token": {csrf}, "method": {"code"}, "code": {bcode}})
	must(t, br, 303)
	if loc := br.hdr.Get("Location"); !strings.HasPrefix(loc, e.base+"ui/recovery?flow=") || flowID(t, br) == bid {
		t.Errorf("browser Location %q", loc)
	}
	b.json = true
	must(t, b.do("GET", "/sessions/whoami", nil), 401)
	bf := b.do("GET", "/self-service/recovery/flows?id="+flowID(t, br), nil)
	must(t, bf, 200)
	if fm, _ := messagesOf(t, bf.json(t), "email"); len(fm) != 1 {
		t.Errorf("browser's new flow %s", bf.body)
	}

	// A hook that fails: 502, no session; one that answers 200 lets the
	// recovery through.
	rcv.answerWith(500, ``)
	id, code = sendCode(t, e, box, c, "recovery", "carol@example.com", 3)
	must(t, c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "code": code}), 502)
	if n := sessionsOf(t, e, carol.ID); n != 0 {
		t.Fatalf("%d sessions after a failed hook", n)
	}
	rcv.answerWith(200, ``)
	id, code = sendCode(t, e, box, c, "recovery", "carol@example.com", 4)
	must(t, c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "code": code}), 200)
	if n := sessionsOf(t, e, carol.ID); n != 1 {
		t.Fatalf("%d sessions after a recovery the hook let through", n)
	}
}

// TestWebHookVerificationAfterInterrupt: a verification.after hook that
// interrupts stops the verification before the address is marked
// verified and uses the code up; as Kratos' retry, JSON clients get 410
// self_service_flow_replaced naming a new flow with the hook's messages,
// browsers following the mailed link go to its page.
func TestWebHookVerificationAfterInterrupt(t *testing.T) {
	t.Parallel()
	rcv := newHookRecorder(t, 403, stopAnswer)
	opt, box := withMail(t, nil)
	e := newSelfServiceEnv(t, opt, withWebHooks(t, func(ss *config.SelfService) {
		ss.Flows.Verification.After.Hooks = []config.Hook{addressHook(rcv.srv.URL, nil, map[string]any{"response": map[string]any{"parse": true}})}
	}))
	dan := e.createUser(t, "dan@example.com")

	c := e.native(t)
	id, code := sendCode(t, e, box, c, "verification", "dan@example.com", 1)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	must(t, c.do("POST", "/self-service/verification?flow="+id, map[string]any{"method": "code", "code": wrong}), 400)
	if n := len(rcv.got()); n != 0 {
		t.Fatalf("hook called for a wrong code: %d", n)
	}
	r := c.do("POST", "/self-service/verification?flow="+id, map[string]any{"method": "code", "code": code})
	must(t, r, 410)
	m := r.json(t)
	newID, _ := m["use_flow_id"].(string)
	if m["error"].(map[string]any)["id"] != "self_service_flow_replaced" || newID == "" || newID == id {
		t.Fatalf("answer %s", r.body)
	}
	nf := c.do("GET", "/self-service/verification/flows?id="+newID, nil)
	must(t, nf, 200)
	if fm, em := messagesOf(t, nf.json(t), "email"); len(fm) != 1 || fm[0] != 4000010 || len(em) != 1 || em[0] != 4000011 {
		t.Errorf("new flow %s", nf.body)
	}
	if e.addressVerified(t, dan.ID, "dan@example.com") {
		t.Fatal("address verified although the hook interrupted")
	}
	// The interrupt used the code up, as in Kratos.
	rcv.answerWith(200, ``)
	must(t, c.do("POST", "/self-service/verification?flow="+id, map[string]any{"method": "code", "code": code}), 400)
	if e.addressVerified(t, dan.ID, "dan@example.com") {
		t.Fatal("address verified with a code an interrupt used up")
	}
	rcv.answerWith(403, stopAnswer)

	// The link in a message, opened in a browser: sent to the new flow.
	id2, _ := sendCode(t, e, box, c, "verification", "dan@example.com", 2)
	link := linkIn(t, box.Wait(t, "dan@example.com", 2).Plain())
	br := e.browser(t).do("GET", link, nil)
	if br.code != 303 || !strings.HasPrefix(br.hdr.Get("Location"), e.base+"ui/verification?flow=") || flowID(t, br) == id2 {
		t.Errorf("link: %d %s", br.code, br.hdr.Get("Location"))
	}
	if e.addressVerified(t, dan.ID, "dan@example.com") {
		t.Fatal("address verified by the link although the hook interrupted")
	}

	// Once the hook lets it through, a new code verifies the address.
	rcv.answerWith(200, ``)
	id3, code3 := sendCode(t, e, box, c, "verification", "dan@example.com", 3)
	must(t, c.do("POST", "/self-service/verification?flow="+id3, map[string]any{"method": "code", "code": code3}), 200)
	if !e.addressVerified(t, dan.ID, "dan@example.com") {
		t.Fatal("address not verified")
	}
}
