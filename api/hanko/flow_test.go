package hanko

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/api/hanko/hankotest"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/courier"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/totp"
	"github.com/latchkey/latchkey/ratelimit"
	"github.com/latchkey/latchkey/session"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/flow")

// fEnv is the Hanko Flow API (and the public API) over a fresh SQLite store.
type fEnv struct {
	store  store.Store
	ids    *identity.Service
	keys   *session.Keys
	h      *Handler
	public http.Handler
	flowV  *hankotest.Validator
	// limitClock is the rate limiter's clock (counters in the store, as
	// cmd/latchkey wires them); tests move it to end a window.
	limitClock *fakeClock
	// events records the webhook events the flows queued.
	events *recordedEvents
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// recordedEvent is one webhook event a flow queued.
type recordedEvent struct {
	Event string
	Data  any
}

// recordedEvents is the Events of the tests: it remembers what was queued
// (in the step's transaction, as *webhook.Dispatcher does).
type recordedEvents struct {
	mu   sync.Mutex
	list []recordedEvent
}

func (r *recordedEvents) Enqueue(_ context.Context, tx store.Tx, event string, data any) error {
	if tx == nil {
		return errors.New("event queued outside a transaction")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, recordedEvent{event, data})
	return nil
}

// of returns the events named event, oldest first.
func (r *recordedEvents) of(event string) []recordedEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recordedEvent
	for _, e := range r.list {
		if e.Event == event {
			out = append(out, e)
		}
	}
	return out
}

// newFEnv builds the environment; mod may change the hanko config first.
func newFEnv(t *testing.T, mod func(c *config.Hanko)) *fEnv {
	t.Helper()
	return newFEnvWith(t, mod, nil)
}

// newFEnvWith is newFEnv whose handler options opt may change last.
func newFEnvWith(t *testing.T, mod func(c *config.Hanko), opt func(o *Options)) *fEnv {
	t.Helper()
	return newFEnvOn(t, storetest.SQLite(t), mod, opt)
}

// newFEnvOn is newFEnvWith on the store st.
func newFEnvOn(t testing.TB, st store.Store, mod func(c *config.Hanko), opt func(o *Options)) *fEnv {
	t.Helper()
	d := NewTestingDeps(t, st)
	ids := d.Identities
	c, _, err := config.Load(config.LoadOptions{Dev: true, Env: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	hc := c.Hanko
	if mod != nil {
		mod(&hc)
	}
	clk := &fakeClock{now: time.Now()}
	events := &recordedEvents{}
	o := Options{Store: st, Identities: ids, Sessions: d.Sessions, Keys: d.Keys, Hasher: d.Hasher, Codes: d.Codes,
		Courier: d.Courier, Config: hc, JWT: config.SessionJWT{Issuer: "http://127.0.0.1:4433/", Audience: []string{"127.0.0.1"}},
		Limiter: ratelimit.NewDB(st, clk.Now, []byte("rate-limit-test-secret")), Events: events, Signer: d.MAC,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if o.TOTP, err = totp.New(d.Seal, totp.Options{Issuer: "latchkey.test", Now: clk.Now}); err != nil {
		t.Fatal(err)
	}
	// The shared attempt policy of production, counting in the store.
	if o.Attempts, err = ratelimit.NewPolicy(o.Limiter, ratelimit.DefaultPolicyConfig()); err != nil {
		t.Fatal(err)
	}
	if opt != nil {
		opt(&o)
		ids = o.Identities
	}
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	pub := http.NewServeMux()
	h.MountPublic(pub)
	return &fEnv{store: st, ids: ids, keys: d.Keys, h: h, public: api.Chain(pub, api.WithRequestID()),
		flowV: hankotest.New(t, hankotest.Flow), limitClock: clk, events: events}
}

// flowResp is a decoded Flow API response.
type flowResp struct {
	Name      string                     `json:"name"`
	Status    int                        `json:"status"`
	Payload   map[string]json.RawMessage `json:"payload"`
	CSRFToken string                     `json:"csrf_token"`
	Actions   map[string]struct {
		Action string                    `json:"action"`
		Href   string                    `json:"href"`
		Inputs map[string]map[string]any `json:"inputs"`
	} `json:"actions"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	code   int
	header http.Header
	raw    []byte
}

// client drives one flow like hanko-elements: it keeps the last response
// and the cookies.
type client struct {
	t       *testing.T
	e       *fEnv
	last    *flowResp
	cookies map[string]*http.Cookie
	bearer  string
	lang    string
	ip      string // the client's address (httptest's 192.0.2.1 when empty)
}

func (e *fEnv) client(t *testing.T) *client {
	return &client{t: t, e: e, cookies: map[string]*http.Cookie{}}
}

// post sends a raw Flow API request and decodes the response; the response
// is validated against openapi-flow.yaml.
func (cl *client) post(path string, body []byte) *flowResp {
	cl.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(http.MethodPost, path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if cl.lang != "" {
		req.Header.Set("X-Language", cl.lang)
	}
	if cl.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+cl.bearer)
	}
	if cl.ip != "" {
		req.RemoteAddr = net.JoinHostPort(cl.ip, "40000")
	}
	for _, ck := range cl.cookies {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	cl.e.public.ServeHTTP(rec, req)
	for _, ck := range rec.Result().Cookies() {
		cl.cookies[ck.Name] = ck
	}
	var r flowResp
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		cl.t.Fatalf("POST %s: %d %s: %v", path, rec.Code, rec.Body.Bytes(), err)
	}
	r.code, r.header, r.raw = rec.Code, rec.Header(), rec.Body.Bytes()
	if r.code != r.Status {
		cl.t.Fatalf("POST %s: HTTP %d but status %d", path, r.code, r.Status)
	}
	checkFlowSpec(cl.t, cl.e.flowV, req, &r)
	if r.CSRFToken != "" || r.Name == stateSuccess {
		cl.last = &r
	}
	return &r
}

// start begins a flow: POST /<name> without an action.
func (cl *client) start(name string) *flowResp {
	cl.t.Helper()
	return cl.post("/"+name, nil)
}

// act runs action with input on the last state, as the SDK does.
func (cl *client) act(action string, input map[string]any) *flowResp {
	cl.t.Helper()
	a, ok := cl.last.Actions[action]
	if !ok {
		cl.t.Fatalf("action %q not offered in state %s (offered: %v)", action, cl.last.Name, actionNames(cl.last))
	}
	if input == nil {
		input = map[string]any{}
	}
	body, _ := json.Marshal(map[string]any{"input_data": input, "csrf_token": cl.last.CSRFToken})
	return cl.post(a.Href, body)
}

func actionNames(r *flowResp) []string {
	var out []string
	for k := range r.Actions {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkFlowSpec validates a response against openapi-flow.yaml. Two
// places where the spec cannot describe the real server are adjusted first,
// each named here, and nothing else is tolerated:
//   - a 4xx re-render of a state: the spec's state schemas pin status to
//     200 while its 400 response requires 400, so no body can satisfy it;
//     the body is validated as the 200 rendering of the same state (status
//     200, errors removed) and the error object is checked by the tests;
//   - webauthn_verify_attestation_response in the profile: the spec's
//     action schema there names the assertion action and an input
//     "public-key" (see below);
//   - login_init without passkeys: the spec requires
//     payload.request_options, which Hanko sends only with passkeys on.
func checkFlowSpec(t *testing.T, v *hankotest.Validator, req *http.Request, r *flowResp) {
	t.Helper()
	code, body := r.code, r.raw
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	changed := false
	if code == http.StatusBadRequest && doc["name"] == stateError {
		// The spec's 400 response lists only the states, not the error
		// state a request without a readable body ends in.
		t.Logf("known spec drift: 400 in the error state is not described: %s", body)
		return
	}
	if code == http.StatusBadRequest || (doc["name"] != stateError && (code == http.StatusUnauthorized || code == http.StatusTooManyRequests ||
		code == http.StatusNotFound)) {
		if code != http.StatusBadRequest {
			// The spec puts 401/404/429 in the error state; Hanko
			// re-renders the current state (notes §4, §7; a 4xx flow
			// error keeps the state, e.g. security_key_delete's
			// not_found).
			t.Logf("known spec drift: %d re-renders %s", code, doc["name"])
		}
		code, doc["status"] = http.StatusOK, http.StatusOK
		delete(doc, "error")
		if acts, ok := doc["actions"].(map[string]any); ok {
			for _, a := range acts {
				for _, in := range a.(map[string]any)["inputs"].(map[string]any) {
					delete(in.(map[string]any), "error")
				}
			}
		}
		changed = true
	}
	if pl, ok := doc["payload"].(map[string]any); ok {
		// The spec writes the third-party amr as the literal "ext:<provider>".
		if cl, ok := pl["claims"].(map[string]any); ok {
			for n, v := range asSlice(cl["amr"]) {
				if s, ok := v.(string); ok && strings.HasPrefix(s, AMRThirdParty) {
					cl["amr"].([]any)[n] = "ext:<provider>"
					changed = true
				}
			}
		}
	}
	if acts, ok := doc["actions"].(map[string]any); ok {
		// thirdparty_oauth offers custom providers as custom_<key>, as real
		// Hanko v3 does (notes, "Observed on a real Hanko v3 server"); the
		// spec's enum lists the built-in names only.
		for _, name := range []string{"thirdparty_oauth", "connect_thirdparty_oauth_provider"} {
			tp, ok := acts[name].(map[string]any)
			if !ok {
				continue
			}
			if p, ok := tp["inputs"].(map[string]any)["provider"].(map[string]any); ok {
				for _, av := range asSlice(p["allowed_values"]) {
					if m, ok := av.(map[string]any); ok && isString(m["value"]) && strings.HasPrefix(m["value"].(string), "custom_") {
						t.Logf("known spec drift: provider %v is a custom provider", m["value"])
						m["value"] = "google"
						changed = true
					}
				}
			}
		}
	}
	if acts, ok := doc["actions"].(map[string]any); ok {
		for name, a := range acts {
			am := a.(map[string]any)
			if name == "username_delete" {
				am["action"] = "username_create" // the spec's ActionUsernameDelete names username_create
				changed = true
			}
			if name == "disconnect_thirdparty_oauth_provider" {
				// The spec's inputs.identity_id is the value's schema (a
				// uuid4 string), not an input object.
				if in, ok := am["inputs"].(map[string]any); ok {
					in["identity_id"] = "00000000-0000-4000-8000-000000000000"
					changed = true
				}
			}
			if name == "webauthn_verify_attestation_response" {
				// The spec's InputsWebauthnVerifyAttestationResponse names
				// its input "public-key", and the profile's action schema
				// names the assertion action; Hanko sends this action with
				// input public_key (notes, "Observed on a real Hanko v3
				// server").
				if doc["name"] == stateWebauthnCredentialVerification {
					am["action"] = "webauthn_verify_assertion_response"
				}
				if in, ok := am["inputs"].(map[string]any)["public_key"].(map[string]any); ok {
					in["name"] = "public-key"
				}
				changed = true
			}
			for in, v := range am["inputs"].(map[string]any) {
				if in == "new_password" {
					delete(v.(map[string]any), "name") // InputNewPassword is allOf name=password and name=new_password: unsatisfiable
					changed = true
				}
				if in == "username" && v.(map[string]any)["max_length"] != nil {
					// InputUsername pins max_length to 40, one configuration
					// of Hanko's; ours is hanko.username.max_length (32 by
					// default, the default schema's limit).
					v.(map[string]any)["max_length"] = 40
					changed = true
				}
			}
		}
	}
	if p, ok := doc["payload"].(map[string]any); ok {
		if list, ok := p["sessions"].([]any); ok {
			for _, s := range list {
				delete(s.(map[string]any), "ip_address") // an IPv4 address matches both of the spec's oneOf
				changed = true
			}
		}
	}
	if doc["name"] == stateLoginInit {
		p, _ := doc["payload"].(map[string]any)
		if p == nil {
			p = map[string]any{}
			doc["payload"] = p
		}
		if _, ok := p["request_options"]; !ok {
			p["request_options"] = map[string]any{"publicKey": map[string]any{"challenge": "AA", "rpId": "localhost",
				"timeout": 60000, "userVerification": "required"}}
			changed = true
		}
	}
	if changed {
		body, _ = json.Marshal(doc)
	}
	if err := v.Check(req, code, r.header, body); err != nil {
		t.Errorf("response does not match openapi-flow.yaml: %v", err)
	}
}

// golden compares the actions of a state with testdata/flow/<name>.golden.json.
func golden(t *testing.T, name string, r *flowResp) {
	t.Helper()
	var doc struct {
		Actions map[string]json.RawMessage `json:"actions"`
	}
	if err := json.Unmarshal(r.raw, &doc); err != nil {
		t.Fatal(err)
	}
	hrefRE := regexp.MustCompile(`%40[0-9a-f-]{36}`)
	for k, v := range doc.Actions {
		doc.Actions[k] = json.RawMessage(hrefRE.ReplaceAll(v, []byte("%40FLOW_ID")))
	}
	got, err := json.MarshalIndent(doc.Actions, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "flow", name+".golden.json")
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(bytes.TrimSpace(want), bytes.TrimSpace(got)) {
		t.Errorf("actions of %s differ from %s:\n%s", name, path, got)
	}
}

// mustState fails unless r is state with HTTP status.
func mustState(t *testing.T, r *flowResp, state string, status int) {
	t.Helper()
	if r.Name != state || r.code != status {
		t.Fatalf("got state %s (%d), want %s (%d): %s", r.Name, r.code, state, status, r.raw)
	}
}

// inputError returns the error code on an input of an action.
func inputError(r *flowResp, action, input string) string {
	in := r.Actions[action].Inputs[input]
	if e, ok := in["error"].(map[string]any); ok {
		c, _ := e["code"].(string)
		return c
	}
	return ""
}

// createUser makes a user through the identity service with a password
// (empty for none) and a verified, primary e-mail address.
func (e *fEnv) createUser(t testing.TB, email, pw string) *core.Identity {
	t.Helper()
	raw, _ := json.Marshal(map[string]string{"email": email})
	d := identity.Draft{Traits: raw}
	if pw != "" {
		d.Credentials = &identity.CredentialsDraft{Password: &identity.PasswordDraft{Password: pw}}
	}
	i, err := e.ids.Create(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// lastCode reads the newest passcode mailed to addr from the courier queue.
func (e *fEnv) lastCode(t *testing.T, addr string) (string, core.Message) {
	t.Helper()
	msgs, err := e.store.ListMessages(context.Background(), store.MessageQuery{Recipient: addr, Limit: 1})
	if err != nil || len(msgs) == 0 {
		t.Fatalf("no mail to %s: %v", addr, err)
	}
	m := msgs[0]
	var data map[string]any
	_ = json.Unmarshal(m.TemplateData, &data)
	c, _ := data["Code"].(string)
	return c, m
}

// passwordLogin runs hanko-elements' password login sequence.
func passwordLogin(t *testing.T, cl *client, email, pw string) *flowResp {
	t.Helper()
	mustState(t, cl.start("login"), statePreflight, 200)
	mustState(t, cl.act("register_client_capabilities", map[string]any{"webauthn_available": false,
		"webauthn_conditional_mediation_available": false, "webauthn_platform_authenticator_available": false}), stateLoginInit, 200)
	r := cl.act("continue_with_login_identifier", map[string]any{"email": email})
	if r.Name == stateLoginMethodChooser {
		r = cl.act("continue_to_password_login", nil)
	}
	mustState(t, r, stateLoginPassword, 200)
	return cl.act("password_login", map[string]any{"password": pw})
}

// checkSession verifies the success response's JWT with the served JWKS and
// returns its claims.
func checkSession(t *testing.T, e *fEnv, cl *client, r *flowResp, wantAMR string) session.Claims {
	t.Helper()
	mustState(t, r, stateSuccess, 200)
	token := r.header.Get("X-Auth-Token")
	if ck, ok := cl.cookies["hanko"]; ok && token == "" {
		token = ck.Value
		if !ck.HttpOnly {
			t.Error("hanko cookie is not HttpOnly")
		}
	}
	if token == "" {
		t.Fatalf("no session token in %v", r.header)
	}
	if r.header.Get("X-Session-Lifetime") == "" || r.header.Get("X-Session-Retention") == "" {
		t.Errorf("missing X-Session-* headers: %v", r.header)
	}
	rec := httptest.NewRecorder()
	e.public.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	if rec.Code != 200 || !bytes.Contains(rec.Body.Bytes(), []byte(`"keys"`)) {
		t.Fatalf("jwks: %d %s", rec.Code, rec.Body.Bytes())
	}
	c, err := e.keys.VerifyJWT(context.Background(), token, session.VerifyOptions{Audience: "127.0.0.1", Issuer: "http://127.0.0.1:4433/"})
	if err != nil {
		t.Fatalf("verify JWT: %v", err)
	}
	amr, _ := c.Extra["amr"].([]any)
	if len(amr) == 0 || amr[0] != wantAMR {
		t.Errorf("amr = %v, want %s first", c.Extra["amr"], wantAMR)
	}
	for _, k := range []string{"claims", "user"} {
		if _, ok := r.Payload[k]; !ok {
			t.Errorf("success payload lacks %s", k)
		}
	}
	cl.bearer = token
	return *c
}

func TestFlowLoginPassword(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, func(c *config.Hanko) { c.Email.UseForAuthentication = false })
	u := e.createUser(t, "alice@example.com", "correct horse battery")

	t.Run("hanko-elements sequence", func(t *testing.T) {
		cl := e.client(t)
		mustState(t, cl.start("login"), statePreflight, 200)
		golden(t, "login_preflight", cl.last)
		mustState(t, cl.act("register_client_capabilities", map[string]any{"webauthn_available": false}), stateLoginInit, 200)
		golden(t, "login_init", cl.last)
		mustState(t, cl.act("continue_with_login_identifier", map[string]any{"email": "Alice@Example.com"}), stateLoginPassword, 200)
		golden(t, "login_password", cl.last)
		r := cl.act("password_login", map[string]any{"password": "correct horse battery"})
		c := checkSession(t, e, cl, r, AMRPassword)
		if c.Subject != u.ID {
			t.Errorf("sub = %s, want %s", c.Subject, u.ID)
		}
		if r.header.Get("X-Session-Retention") != "persistent" || cl.cookies["hanko"].MaxAge <= 0 {
			t.Errorf("retention %q, max-age %d", r.header.Get("X-Session-Retention"), cl.cookies["hanko"].MaxAge)
		}
		if !strings.Contains(string(r.Payload["last_login"]), `"password"`) {
			t.Errorf("last_login = %s", r.Payload["last_login"])
		}
	})

	t.Run("wrong password re-renders login_password", func(t *testing.T) {
		cl := e.client(t)
		r := passwordLogin(t, cl, "alice@example.com", "wrong password!")
		mustState(t, r, stateLoginPassword, 400)
		if r.Error == nil || r.Error.Code != "form_data_invalid_error" || inputError(r, "password_login", "password") != "value_invalid_error" {
			t.Fatalf("error = %s", r.raw)
		}
		checkSession(t, e, cl, cl.act("password_login", map[string]any{"password": "correct horse battery"}), AMRPassword)
	})

	t.Run("unknown user looks like a wrong password", func(t *testing.T) {
		cl := e.client(t)
		r := passwordLogin(t, cl, "nobody@example.com", "whatever password")
		mustState(t, r, stateLoginPassword, 400)
		if inputError(r, "password_login", "password") != "value_invalid_error" {
			t.Fatalf("error = %s", r.raw)
		}
	})
}

func TestFlowErrors(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, nil)
	cases := []struct {
		name   string
		run    func(cl *client) *flowResp
		status int
		code   string
	}{
		{"wrong csrf token", func(cl *client) *flowResp {
			cl.start("login")
			body, _ := json.Marshal(map[string]any{"input_data": map[string]any{"webauthn_available": false}, "csrf_token": "nope"})
			return cl.post(cl.last.Actions["register_client_capabilities"].Href, body)
		}, 403, "operation_not_permitted_error"},
		{"missing csrf token", func(cl *client) *flowResp {
			cl.start("login")
			body, _ := json.Marshal(map[string]any{"input_data": map[string]any{"webauthn_available": false}})
			return cl.post(cl.last.Actions["register_client_capabilities"].Href, body)
		}, 403, "operation_not_permitted_error"},
		{"action not offered in this state", func(cl *client) *flowResp {
			cl.start("login")
			body, _ := json.Marshal(map[string]any{"input_data": map[string]any{"password": "x"}, "csrf_token": cl.last.CSRFToken})
			id := strings.SplitN(cl.last.Actions["register_client_capabilities"].Href, "%40", 2)[1]
			return cl.post("/login?action=password_login%40"+id, body)
		}, 403, "operation_not_permitted_error"},
		{"unknown flow", func(cl *client) *flowResp {
			return cl.post("/login?action=register_client_capabilities%406f1c3c36-6a43-4b57-a3e5-0c1b2d1e6f00",
				[]byte(`{"input_data":{},"csrf_token":"x"}`))
		}, 403, "operation_not_permitted_error"},
		{"unknown input key", func(cl *client) *flowResp {
			cl.start("login")
			return cl.act("register_client_capabilities", map[string]any{"webauthn_available": false, "extra": true})
		}, 400, "form_data_invalid_error"},
		{"missing required input", func(cl *client) *flowResp {
			cl.start("login")
			cl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
			return cl.act("continue_with_login_identifier", map[string]any{})
		}, 400, "form_data_invalid_error"},
		{"malformed body", func(cl *client) *flowResp {
			cl.start("login")
			return cl.post(cl.last.Actions["register_client_capabilities"].Href, []byte(`{"input_data":`))
		}, 400, "form_data_invalid_error"},
		{"profile without session", func(cl *client) *flowResp { return cl.start("profile") }, 401, "unauthorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.run(e.client(t))
			if r.code != tc.status || r.Error == nil || r.Error.Code != tc.code {
				t.Fatalf("got %d %s", r.code, r.raw)
			}
		})
	}
}

func TestFlowExpired(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, nil)
	cl := e.client(t)
	cl.start("login")
	cl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
	id := strings.SplitN(cl.last.Actions["continue_with_login_identifier"].Href, "%40", 2)[1]
	f, err := e.store.GetFlow(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	f.ExpiresAt = time.Now().Add(-time.Minute)
	if err := e.store.UpdateFlow(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	r := cl.act("continue_with_login_identifier", map[string]any{"email": "a@example.com"})
	if r.code != 410 || r.Error == nil || r.Error.Code != "flow_expired_error" {
		t.Fatalf("got %d %s", r.code, r.raw)
	}
}

// toPasscode runs the login sequence up to passcode_confirmation.
func toPasscode(t *testing.T, cl *client, email string) *flowResp {
	t.Helper()
	cl.start("login")
	cl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
	r := cl.act("continue_with_login_identifier", map[string]any{"email": email})
	mustState(t, r, stateLoginMethodChooser, 200)
	r = cl.act("continue_to_passcode_confirmation", nil)
	mustState(t, r, statePasscodeConfirmation, 200)
	return r
}

func TestFlowLoginPasscode(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, nil)
	u := e.createUser(t, "bob@example.com", "")

	t.Run("method chooser then passcode", func(t *testing.T) {
		cl := e.client(t)
		cl.lang = "de"
		r := toPasscode(t, cl, "bob@example.com")
		golden(t, "login_passcode_confirmation", r)
		if !strings.Contains(string(r.Payload["resend_after"]), "20") {
			t.Errorf("resend_after = %s", r.Payload["resend_after"])
		}
		c, m := e.lastCode(t, "bob@example.com")
		if len(c) != 6 || m.TemplateType != courier.TypeHankoLogin {
			t.Fatalf("mail %s with code %q", m.TemplateType, c)
		}
		if bytes.Contains(cl.last.raw, []byte(c)) {
			t.Fatal("the passcode leaked into the response")
		}
		got := checkSession(t, e, cl, cl.act("verify_passcode", map[string]any{"code": c}), AMRPasscode)
		if got.Subject != u.ID {
			t.Errorf("sub %s", got.Subject)
		}
	})

	t.Run("three wrong codes", func(t *testing.T) {
		cl := e.client(t)
		toPasscode(t, cl, "bob@example.com")
		good, _ := e.lastCode(t, "bob@example.com")
		bad := "000000"
		if good == bad {
			bad = "111111"
		}
		for n := 1; n <= 2; n++ {
			r := cl.act("verify_passcode", map[string]any{"code": bad})
			mustState(t, r, statePasscodeConfirmation, 400)
			if inputError(r, "verify_passcode", "code") != codePasscodeInvalid {
				t.Fatalf("try %d: %s", n, r.raw)
			}
		}
		r := cl.act("verify_passcode", map[string]any{"code": bad})
		if r.code != 401 || r.Error.Code != "passcode_max_attempts_reached" {
			t.Fatalf("third try: %s", r.raw)
		}
		r = cl.act("verify_passcode", map[string]any{"code": good})
		if r.code != 401 {
			t.Fatalf("right code after the limit: %s", r.raw)
		}
	})

	t.Run("resend limit", func(t *testing.T) {
		// passcode_limits count per address and client IP across flows:
		// start in a fresh minute, after the mails of the cases above.
		e.limitClock.Add(time.Minute)
		cl := e.client(t)
		toPasscode(t, cl, "bob@example.com")
		mustState(t, cl.act("resend_passcode", nil), statePasscodeConfirmation, 200)
		mustState(t, cl.act("resend_passcode", nil), statePasscodeConfirmation, 200)
		r := cl.act("resend_passcode", nil)
		if r.code != 429 || r.Error.Code != "rate_limit_exceeded" || len(r.Payload["retry_after"]) == 0 {
			t.Fatalf("fourth mail: %s", r.raw)
		}
		c, _ := e.lastCode(t, "bob@example.com")
		checkSession(t, e, cl, cl.act("verify_passcode", map[string]any{"code": c}), AMRPasscode)
	})

	t.Run("unknown address gets a notice", func(t *testing.T) {
		cl := e.client(t)
		toPasscode(t, cl, "ghost@example.com")
		_, m := e.lastCode(t, "ghost@example.com")
		if m.TemplateType != courier.TypeHankoEmailLoginAttempted {
			t.Fatalf("mail type %s", m.TemplateType)
		}
	})
}

func TestFlowPasswordRecovery(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, nil)
	e.createUser(t, "carol@example.com", "forgotten password")
	cl := e.client(t)
	cl.start("login")
	cl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
	cl.act("continue_with_login_identifier", map[string]any{"email": "carol@example.com"})
	cl.act("continue_to_password_login", nil)
	mustState(t, cl.act("continue_to_passcode_confirmation_recovery", nil), statePasscodeConfirmation, 200)
	c, m := e.lastCode(t, "carol@example.com")
	if m.TemplateType != courier.TypeHankoRecovery {
		t.Fatalf("mail type %s", m.TemplateType)
	}
	r := cl.act("verify_passcode", map[string]any{"code": c})
	mustState(t, r, stateLoginPasswordRecovery, 200)
	golden(t, "login_password_recovery", r)
	r = cl.act("password_recovery", map[string]any{"new_password": "short"})
	if r.code != 400 || inputError(r, "password_recovery", "new_password") != "value_too_short_error" {
		t.Fatalf("short password: %s", r.raw)
	}
	checkSession(t, e, cl, cl.act("password_recovery", map[string]any{"new_password": "a brand new password"}), AMRPasscode)
	again := e.client(t)
	checkSession(t, e, again, passwordLogin(t, again, "carol@example.com", "a brand new password"), AMRPassword)
}

func TestFlowRegistration(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, nil)

	t.Run("with verification and password", func(t *testing.T) {
		cl := e.client(t)
		mustState(t, cl.start("registration"), statePreflight, 200)
		r := cl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
		mustState(t, r, stateRegistrationInit, 200)
		golden(t, "registration_init", r)
		mustState(t, cl.act("register_login_identifier", map[string]any{"email": "dave@example.com"}), statePasscodeConfirmation, 200)
		c, m := e.lastCode(t, "dave@example.com")
		if m.TemplateType != courier.TypeHankoEmailVerification {
			t.Fatalf("mail type %s", m.TemplateType)
		}
		r = cl.act("verify_passcode", map[string]any{"code": c})
		mustState(t, r, statePasswordCreation, 200)
		golden(t, "password_creation", r)
		claims := checkSession(t, e, cl, cl.act("register_password", map[string]any{"new_password": "dave's password"}), AMRPasscode)
		i, err := e.ids.Get(context.Background(), claims.Subject)
		if err != nil {
			t.Fatal(err)
		}
		if a, ok := i.PrimaryAddress(core.ViaEmail); !ok || !a.Verified || a.Value != "dave@example.com" {
			t.Fatalf("addresses %+v", i.Addresses)
		}
		again := e.client(t)
		checkSession(t, e, again, passwordLogin(t, again, "dave@example.com", "dave's password"), AMRPassword)
	})

	t.Run("skip the password", func(t *testing.T) {
		cl := e.client(t)
		cl.start("registration")
		cl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
		cl.act("register_login_identifier", map[string]any{"email": "erin@example.com"})
		c, _ := e.lastCode(t, "erin@example.com")
		cl.act("verify_passcode", map[string]any{"code": c})
		checkSession(t, e, cl, cl.act("skip", nil), AMRPasscode)
	})

	t.Run("taken address gets a notice", func(t *testing.T) {
		e.createUser(t, "frank@example.com", "")
		cl := e.client(t)
		cl.start("registration")
		cl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
		mustState(t, cl.act("register_login_identifier", map[string]any{"email": "frank@example.com"}), statePasscodeConfirmation, 200)
		_, m := e.lastCode(t, "frank@example.com")
		if m.TemplateType != courier.TypeHankoEmailRegistrationAttempted {
			t.Fatalf("mail type %s", m.TemplateType)
		}
	})
}

func TestFlowProfile(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, func(c *config.Hanko) {
		c.Username.Enabled = true
		c.Account.AllowDeletion = true
	})
	e.createUser(t, "gina@example.com", "gina's password")
	login := e.client(t)
	sub := checkSession(t, e, login, passwordLogin(t, login, "gina@example.com", "gina's password"), AMRPassword).Subject

	cl := e.client(t)
	cl.bearer = login.bearer
	mustState(t, cl.start("profile"), statePreflight, 200)
	r := cl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
	mustState(t, r, stateProfileInit, 200)
	golden(t, "profile_init", r)

	r = cl.act("username_create", map[string]any{"username": "gina"})
	mustState(t, r, stateProfileInit, 200)
	if _, ok := r.Actions["username_update"]; !ok {
		t.Fatalf("no username_update after username_create: %v", actionNames(r))
	}
	mustState(t, cl.act("email_create", map[string]any{"email": "gina2@example.com"}), statePasscodeConfirmation, 200)
	c, _ := e.lastCode(t, "gina2@example.com")
	r = cl.act("verify_passcode", map[string]any{"code": c})
	mustState(t, r, stateProfileInit, 200)
	var user ProfileJSON
	if err := json.Unmarshal(r.Payload["user"], &user); err != nil || len(user.Emails) != 2 {
		t.Fatalf("user %s (%v)", r.Payload["user"], err)
	}
	second := user.Emails[1]
	if !second.IsVerified || second.IsPrimary {
		t.Fatalf("new address %+v", second)
	}
	r = cl.act("email_set_primary", map[string]any{"email_id": second.ID})
	mustState(t, r, stateProfileInit, 200)
	_ = json.Unmarshal(r.Payload["user"], &user)
	if user.Emails[0].Address != "gina2@example.com" || !user.Emails[0].IsPrimary || len(user.Emails) != 2 {
		t.Fatalf("after set_primary: %+v", user.Emails)
	}
	r = cl.act("email_delete", map[string]any{"email_id": user.Emails[1].ID})
	mustState(t, r, stateProfileInit, 200)
	r = cl.act("password_update", map[string]any{"password": "gina's new password"})
	mustState(t, r, stateProfileInit, 200)
	r = cl.act("patch_metadata", map[string]any{"patch_metadata": map[string]any{"theme": "dark"}})
	mustState(t, r, stateProfileInit, 200)
	if !strings.Contains(string(r.Payload["user"]), `"theme":"dark"`) {
		t.Errorf("metadata not patched: %s", r.Payload["user"])
	}
	if _, ok := r.Actions["username_create"]; ok {
		t.Fatal("username_create offered although the user has a username")
	}
	href := strings.Replace(r.Actions["username_update"].Href, "username_update", "username_create", 1)
	body, _ := json.Marshal(map[string]any{"input_data": map[string]any{"username": "xyz"}, "csrf_token": r.CSRFToken})
	if r = cl.post(href, body); r.code != 403 {
		t.Errorf("username_create offered although the user has one: %s", r.raw)
	}
	again := e.client(t)
	checkSession(t, e, again, passwordLogin(t, again, "gina2@example.com", "gina's new password"), AMRPassword)
	cl.last = nil
	cl.start("profile")
	cl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
	r = cl.act("account_delete", nil)
	mustState(t, r, stateAccountDeleted, 200)
	if _, err := e.ids.Get(context.Background(), sub); err == nil {
		t.Error("account still exists")
	}
}

func asSlice(v any) []any { l, _ := v.([]any); return l }

func isString(v any) bool { _, ok := v.(string); return ok }
