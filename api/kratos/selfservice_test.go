package kratos_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/api/kratos/kratostest"
	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/ratelimit"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/session"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// ssEnv is the public listener of the Kratos face over a fresh SQLite store,
// served by a real HTTP server.
type ssEnv struct {
	srv   *httptest.Server
	st    store.Store
	ids   *identity.Service
	clock *clock
	v     *kratostest.Validator
	base  string
	// tplKey is the public key set of the "short" tokenize_as template.
	tplKey jwk.Set
}

// templateKeySet makes an ES256 key for a tokenize_as template and returns
// the base64:// URL of its private key set and the public key set.
func templateKeySet(t *testing.T) (string, jwk.Set) {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.Import(ec)
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, "template-key")
	_ = k.Set(jwk.AlgorithmKey, jwa.ES256())
	set := jwk.NewSet()
	_ = set.AddKey(k)
	raw, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := jwk.PublicSetOf(set)
	if err != nil {
		t.Fatal(err)
	}
	return "base64://" + base64.StdEncoding.EncodeToString(raw), pub
}

type ssOption func(cfg *config.Config, o *kratos.SelfServiceOptions)

func newSelfServiceEnv(t *testing.T, opts ...ssOption) *ssEnv {
	t.Helper()
	return newSelfServiceEnvOn(t, storetest.SQLite, opts...)
}

// newSelfServiceEnvOn is newSelfServiceEnv over the store open returns (one
// of storetest.Backends).
func newSelfServiceEnvOn(t *testing.T, open func(testing.TB) store.Store, opts ...ssOption) *ssEnv {
	t.Helper()
	e := &ssEnv{st: open(t), clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, v: kratostest.New(t)}
	var handler http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	e.base = e.srv.URL + "/"
	cfg, _, err := config.Load(config.LoadOptions{Dev: true, Env: []string{"LATCHKEY_SERVE_PUBLIC_BASE_URL=" + e.base,
		"LATCHKEY_SELFSERVICE_ALLOWED_RETURN_URLS=https://app.example.com/"}})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	reg, err := schema.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(password.Params{Algorithm: password.AlgorithmArgon2,
		Argon2: password.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.ids, err = identity.New(identity.Options{Store: e.st, Schemas: reg, Hasher: hasher, Now: e.clock.now}); err != nil {
		t.Fatal(err)
	}
	signer, err := cipher.NewSigner("a-test-secret-of-32-characters!!")
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := session.NewManager(e.st, signer, session.Options{Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	ciph, err := cipher.New("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := session.NewKeys(context.Background(), e.st, ciph, session.KeysOptions{Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	jwksURL, tplKey := templateKeySet(t)
	e.tplKey = tplKey
	cfg.Session.WhoAmI.Tokenizer.Templates = map[string]config.TokenizerTemplate{"short": {TTL: time.Minute, SubjectSource: "id", JWKSURL: jwksURL}}
	o := kratos.SelfServiceOptions{Store: e.st, Identities: e.ids, Sessions: sessions, Keys: keys, Hasher: hasher,
		Cookies: ciph, PublicBaseURL: e.base, SelfService: cfg.SelfService, Session: cfg.Session, Now: e.clock.now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	// The attempt policy of production, counting in the store.
	if o.Attempts, err = ratelimit.NewPolicy(ratelimit.NewDB(e.st, e.clock.now, []byte("rate-limit-secret")), ratelimit.DefaultPolicyConfig()); err != nil {
		t.Fatal(err)
	}
	for _, opt := range opts {
		opt(cfg, &o)
	}
	ss, err := kratos.NewSelfService(o)
	if err != nil {
		t.Fatalf("self-service: %v", err)
	}
	mux := http.NewServeMux()
	ss.MountPublic(mux)
	ss.MountAdmin(mux) // /admin/recovery/*: no public path collides
	handler = api.Chain(mux, api.WithRequestID(), api.NoCache())
	return e
}

// onBackends runs test in parallel on a fresh self-service environment
// over every configured store backend (SQLite always; PostgreSQL and MySQL
// when their DSNs are set).
func onBackends(t *testing.T, test func(t *testing.T, e *ssEnv), opts ...ssOption) {
	t.Helper()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, newSelfServiceEnvOn(t, open, opts...))
		})
	}
}

// client is an HTTP client with its own cookie jar that does not follow
// redirects.
type client struct {
	t     *testing.T
	e     *ssEnv
	http  *http.Client
	token string // X-Session-Token for native calls
	json  bool   // send Accept: application/json
}

func (e *ssEnv) browser(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, e: e, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (e *ssEnv) native(t *testing.T) *client {
	c := e.browser(t)
	c.http.Jar = nil
	c.json = true
	return c
}

type resp struct {
	code int
	hdr  http.Header
	body []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return m
}

// do sends a request; body is a url.Values (form) or anything else (JSON).
func (c *client) do(method, path string, body any) resp {
	c.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		raw, _ := json.Marshal(b)
		rd, ctype = bytes.NewReader(raw), "application/json"
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = c.e.srv.URL + path
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.json {
		req.Header.Set("Accept", "application/json")
	} else {
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
	}
	if c.token != "" {
		req.Header.Set("X-Session-Token", c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	vreq, _ := http.NewRequest(method, u, nil)
	if err := c.e.v.Check(vreq, res.StatusCode, res.Header, raw); err != nil && res.StatusCode != http.StatusSeeOther {
		c.t.Errorf("%s %s: response does not match the spec: %v\n%s", method, path, err, raw)
	}
	return resp{code: res.StatusCode, hdr: res.Header, body: raw}
}

func must(t *testing.T, r resp, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("status %d, want %d: %s", r.code, code, r.body)
	}
}

// flowID returns the flow id of a flow response, or of a 303 to the UI.
func flowID(t *testing.T, r resp) string {
	t.Helper()
	if r.code == http.StatusSeeOther {
		u, err := url.Parse(r.hdr.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		return u.Query().Get("flow")
	}
	id, _ := r.json(t)["id"].(string)
	if id == "" {
		t.Fatalf("no flow id in %s", r.body)
	}
	return id
}

// csrfOf returns the csrf_token node value of a flow.
func csrfOf(t *testing.T, f map[string]any) string {
	t.Helper()
	for _, n := range f["ui"].(map[string]any)["nodes"].([]any) {
		a := n.(map[string]any)["attributes"].(map[string]any)
		if a["name"] == "csrf_token" {
			return a["value"].(string)
		}
	}
	t.Fatalf("flow has no csrf_token node")
	return ""
}

// messageIDs lists the ids of the container and node messages of a flow.
func messageIDs(f map[string]any) []int {
	var ids []int
	ui, _ := f["ui"].(map[string]any)
	add := func(list any) {
		for _, m := range asList(list) {
			ids = append(ids, int(m.(map[string]any)["id"].(float64)))
		}
	}
	add(ui["messages"])
	for _, n := range asList(ui["nodes"]) {
		add(n.(map[string]any)["messages"])
	}
	return ids
}

func asList(v any) []any { l, _ := v.([]any); return l }

func hasID(ids []int, id int) bool {
	for _, i := range ids {
		if i == id {
			return true
		}
	}
	return false
}

var traits = map[string]any{"email": "alice@example.com", "name": "Alice"}

// registerNative registers alice through a native flow and returns the
// session token.
func (e *ssEnv) registerNative(t *testing.T, c *client, email, pw string) string {
	t.Helper()
	f := c.do("GET", "/self-service/registration/api", nil)
	must(t, f, 200)
	r := c.do("POST", "/self-service/registration?flow="+flowID(t, f), map[string]any{"method": "password",
		"traits": map[string]any{"email": email, "name": "Alice"}, "password": pw})
	must(t, r, 200)
	tok, _ := r.json(t)["session_token"].(string)
	if !strings.HasPrefix(tok, "ory_st_") {
		t.Fatalf("no session token: %s", r.body)
	}
	return tok
}

func TestSelfServiceNative(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		c := e.native(t)
		tok := e.registerNative(t, c, "alice@example.com", "correct horse battery")

		c.token = tok
		who := c.do("GET", "/sessions/whoami", nil)
		must(t, who, 200)
		if who.hdr.Get("X-Kratos-Authenticated-Identity-Id") == "" {
			t.Error("whoami: no X-Kratos-Authenticated-Identity-Id")
		}
		tz := c.do("GET", "/sessions/whoami?tokenize_as=short", nil)
		must(t, tz, 200)
		checkTokenized(t, e, tz)
		must(t, c.do("GET", "/sessions/whoami?tokenize_as=nope", nil), 400)

		// Settings: change a trait, then the password.
		sf := c.do("GET", "/self-service/settings/api", nil)
		must(t, sf, 200)
		id := flowID(t, sf)
		r := c.do("POST", "/self-service/settings?flow="+id, map[string]any{"method": "profile",
			"traits": map[string]any{"email": "alice@example.com", "name": "Alice Liddell"}})
		must(t, r, 200)
		if !hasID(messageIDs(r.json(t)), kratos.MsgSettingsSaved) {
			t.Errorf("settings: no success message: %s", r.body)
		}
		r = c.do("POST", "/self-service/settings?flow="+id, map[string]any{"method": "password", "password": "a new passphrase 42"})
		must(t, r, 200)

		// Log out, then log in with the new password.
		anon := e.native(t)
		must(t, anon.do("DELETE", "/self-service/logout/api", map[string]any{"session_token": tok}), 204)
		must(t, c.do("GET", "/sessions/whoami", nil), 401)
		must(t, anon.do("DELETE", "/self-service/logout/api", map[string]any{"session_token": tok}), 403)

		lf := anon.do("GET", "/self-service/login/api", nil)
		must(t, lf, 200)
		bad := anon.do("POST", "/self-service/login?flow="+flowID(t, lf), map[string]any{"method": "password",
			"identifier": "alice@example.com", "password": "correct horse battery"})
		must(t, bad, 400)
		if !hasID(messageIDs(bad.json(t)), kratos.MsgInvalidCredentials) {
			t.Errorf("wrong password: no 4000006 in %s", bad.body)
		}
		ok := anon.do("POST", "/self-service/login?flow="+flowID(t, lf), map[string]any{"method": "password",
			"identifier": "ALICE@example.com", "password": "a new passphrase 42"})
		must(t, ok, 200)
		m := ok.json(t)
		if _, has := m["continue_with"]; has && m["continue_with"] == nil {
			t.Error("continue_with is null")
		}
		// A finished flow cannot be submitted again.
		again := anon.do("POST", "/self-service/login?flow="+flowID(t, lf), map[string]any{"method": "password",
			"identifier": "alice@example.com", "password": "a new passphrase 42"})
		must(t, again, 400)
		if !hasID(messageIDs(again.json(t)), kratos.MsgLoginRetrySuccess) {
			t.Errorf("replayed flow: no 4010007 in %s", again.body)
		}
		c.token = m["session_token"].(string)
		must(t, c.do("GET", "/sessions/whoami", nil), 200)
		// Authorization: Bearer works too.
		req, _ := http.NewRequest("GET", e.srv.URL+"/sessions/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Errorf("bearer whoami: %v %v", res, err)
		}
		if res != nil {
			res.Body.Close()
		}
		// An already logged-in native client gets session_already_available.
		must(t, c.do("GET", "/self-service/login/api", nil), 400)

		// The other session (from registration) was revoked by logout; list and
		// revoke others.
		list := c.do("GET", "/sessions", nil)
		must(t, list, 200)
		must(t, c.do("DELETE", "/sessions", nil), 200)
	})
}

func TestSelfServiceRegistrationErrors(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		c := e.native(t)
		e.registerNative(t, c, "bob@example.com", "correct horse battery")

		cases := []struct {
			name string
			body map[string]any
			want int
		}{
			{"schema-invalid traits", map[string]any{"method": "password", "traits": map[string]any{"email": "not-an-email"}, "password": "correct horse battery"}, 4000001},
			{"missing email", map[string]any{"method": "password", "traits": map[string]any{"name": "X"}, "password": "correct horse battery"}, kratos.MsgValidationRequired},
			{"short password", map[string]any{"method": "password", "traits": map[string]any{"email": "carol@example.com"}, "password": "short"}, kratos.MsgPasswordMinLength},
			{"existing identifier", map[string]any{"method": "password", "traits": map[string]any{"email": "bob@example.com"}, "password": "correct horse battery"}, kratos.MsgDuplicateCredentials},
			{"unknown method", map[string]any{"method": "carrier-pigeon"}, kratos.MsgRegistrationNoStrategy},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				f := e.native(t).do("GET", "/self-service/registration/api", nil)
				r := e.native(t).do("POST", "/self-service/registration?flow="+flowID(t, f), tc.body)
				must(t, r, 400)
				if ids := messageIDs(r.json(t)); !hasID(ids, tc.want) {
					t.Errorf("messages %v lack %d: %s", ids, tc.want, r.body)
				}
			})
		}
	})
}

func TestSelfServiceBrowser(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		b := e.browser(t)

		// Registration, two screens (profile_first), with form posts.
		init := b.do("GET", "/self-service/registration/browser", nil)
		must(t, init, 303)
		if !strings.HasPrefix(init.hdr.Get("Location"), e.base+"ui/registration?flow=") {
			t.Fatalf("registration init redirects to %q", init.hdr.Get("Location"))
		}
		id := flowID(t, init)
		f := b.do("GET", "/self-service/registration/flows?id="+id, nil)
		must(t, f, 200)
		form := url.Values{"csrf_token": {csrfOf(t, f.json(t))}, "method": {"profile"},
			"traits.email": {"dora@example.com"}, "traits.name": {"Dora"}}
		must(t, b.do("POST", "/self-service/registration?flow="+id, form), 303)
		f = b.do("GET", "/self-service/registration/flows?id="+id, nil)
		if !hasID(messageIDs(f.json(t)), kratos.MsgRegistrationChooseCred) {
			t.Fatalf("second screen missing: %s", f.body)
		}
		form.Set("csrf_token", csrfOf(t, f.json(t)))
		form.Set("method", "password")
		form.Set("password", "correct horse battery")
		done := b.do("POST", "/self-service/registration?flow="+id, form)
		must(t, done, 303)
		must(t, b.do("GET", "/sessions/whoami", nil), 200)

		// Logout through the browser logout URL.
		lo := b.do("GET", "/self-service/logout/browser", nil)
		must(t, lo, 200)
		logoutURL := lo.json(t)["logout_url"].(string)
		must(t, b.do("GET", logoutURL, nil), 303)
		must(t, b.do("GET", "/sessions/whoami", nil), 401)

		// Login with return_to, wrong CSRF first.
		init = b.do("GET", "/self-service/login/browser?return_to=https://app.example.com/welcome", nil)
		must(t, init, 303)
		id = flowID(t, init)
		f = b.do("GET", "/self-service/login/flows?id="+id, nil)
		must(t, f, 200)
		wrong := b.do("POST", "/self-service/login?flow="+id, url.Values{"csrf_token": {"AAAA"}, "method": {"password"},
			"identifier": {"dora@example.com"}, "password": {"correct horse battery"}})
		must(t, wrong, 303)
		if !strings.Contains(wrong.hdr.Get("Location"), "/ui/error?id=") {
			t.Fatalf("CSRF violation redirects to %q", wrong.hdr.Get("Location"))
		}
		errID, _ := url.Parse(wrong.hdr.Get("Location"))
		ef := b.do("GET", "/self-service/errors?id="+errID.Query().Get("id"), nil)
		must(t, ef, 200)
		if !strings.Contains(string(ef.body), "security_csrf_violation") {
			t.Errorf("stored error: %s", ef.body)
		}
		ok := b.do("POST", "/self-service/login?flow="+id, url.Values{"csrf_token": {csrfOf(t, f.json(t))}, "method": {"password"},
			"identifier": {"dora@example.com"}, "password": {"correct horse battery"}})
		must(t, ok, 303)
		if got := ok.hdr.Get("Location"); got != "https://app.example.com/welcome" {
			t.Errorf("login redirects to %q", got)
		}
		who := b.do("GET", "/sessions/whoami", nil)
		must(t, who, 200)
		// Logged in: a new login flow goes straight to the return URL.
		must(t, b.do("GET", "/self-service/login/browser", nil), 303)

		// SPA: JSON answers for the same browser.
		b.json = true
		must(t, b.do("GET", "/self-service/login/browser", nil), 400)
		sf := b.do("GET", "/self-service/settings/browser", nil)
		must(t, sf, 200)
		sid := flowID(t, sf)
		r := b.do("POST", "/self-service/settings?flow="+sid, map[string]any{"csrf_token": csrfOf(t, sf.json(t)),
			"method": "profile", "traits": map[string]any{"email": "dora@example.com", "name": "Dora Explorer"}})
		must(t, r, 200)
		if cw := asList(r.json(t)["continue_with"]); len(cw) != 1 {
			t.Errorf("SPA settings continue_with = %v", cw)
		}
		// Disallowed return_to.
		must(t, b.do("GET", "/self-service/login/browser?return_to=https://evil.example.net/", nil), 400)
	})
}

func TestSelfServiceExpiryAndPrivilege(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		c := e.native(t)
		tok := e.registerNative(t, c, "erin@example.com", "correct horse battery")

		lf := c.do("GET", "/self-service/login/api", nil)
		e.clock.add(2 * time.Hour)
		exp := c.do("POST", "/self-service/login?flow="+flowID(t, lf), map[string]any{"method": "password",
			"identifier": "erin@example.com", "password": "correct horse battery"})
		must(t, exp, 410)
		m := exp.json(t)
		newID, _ := m["use_flow_id"].(string)
		if newID == "" || m["error"].(map[string]any)["id"] != "self_service_flow_expired" {
			t.Fatalf("expired answer: %s", exp.body)
		}
		nf := c.do("GET", "/self-service/login/flows?id="+newID, nil)
		must(t, nf, 200)
		if !hasID(messageIDs(nf.json(t)), kratos.MsgLoginFlowExpired) {
			t.Errorf("replacement flow lacks 4010001: %s", nf.body)
		}
		must(t, c.do("GET", "/self-service/login/flows?id="+flowID(t, lf), nil), 410)

		// The session (registered 2h ago, lifespan 24h) is still valid but no
		// longer privileged: changing the password needs a fresh login.
		c.token = tok
		sf := c.do("GET", "/self-service/settings/api", nil)
		must(t, sf, 200)
		r := c.do("POST", "/self-service/settings?flow="+flowID(t, sf), map[string]any{"method": "password", "password": "another passphrase 9"})
		must(t, r, 403)
		if r.json(t)["error"].(map[string]any)["id"] != "session_refresh_required" {
			t.Errorf("privilege: %s", r.body)
		}
		// Settings without a session.
		anon := e.native(t)
		must(t, anon.do("GET", "/self-service/settings/api", nil), 401)

		// An inactive identity's session stops working.
		i, err := e.st.FindIdentityByIdentifier(context.Background(), core.CredentialPassword, "erin@example.com")
		if err != nil {
			t.Fatal(err)
		}
		i.State = core.IdentityInactive
		if err := e.st.UpdateIdentity(context.Background(), i); err != nil {
			t.Fatal(err)
		}
		must(t, c.do("GET", "/sessions/whoami", nil), 401)
	})
}

func TestSelfServiceLoginImportedHashes(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		for _, h := range kratostest.ImportedHashes {
			email := h.Name + "@example.com"
			_, err := e.ids.Create(context.Background(), identity.Draft{Traits: json.RawMessage(`{"email":"` + email + `"}`),
				Credentials: &identity.CredentialsDraft{Password: &identity.PasswordDraft{HashedPassword: h.Hash}}})
			if err != nil {
				t.Fatalf("%s: create: %v", h.Name, err)
			}
			t.Run(h.Name, func(t *testing.T) {
				t.Parallel()
				c := e.native(t)
				f := c.do("GET", "/self-service/login/api", nil)
				r := c.do("POST", "/self-service/login?flow="+flowID(t, f), map[string]any{"method": "password",
					"identifier": email, "password": h.Password})
				must(t, r, 200)
			})
		}
	})
}

// TestSelfServiceGoldenNodes pins the UI nodes and messages of each flow's
// screens (testdata/selfservice/*.golden.json; -update rewrites them).
func TestSelfServiceGoldenNodes(t *testing.T) {
	t.Parallel()
	e := newSelfServiceEnv(t)
	c := e.native(t)
	tok := e.registerNative(t, c, "gina@example.com", "correct horse battery")
	ui := func(r resp) []byte {
		t.Helper()
		out, _ := json.MarshalIndent(r.json(t)["ui"], "", "  ")
		return append(out, '\n')
	}
	lf := c.do("GET", "/self-service/login/api", nil)
	rf := c.do("GET", "/self-service/registration/api", nil)
	screen2 := c.do("POST", "/self-service/registration?flow="+flowID(t, rf), map[string]any{"method": "profile",
		"traits": map[string]any{"email": "hank@example.com"}})
	bad := c.do("POST", "/self-service/registration?flow="+flowID(t, rf), map[string]any{"method": "password",
		"traits": map[string]any{"email": "nope"}, "password": "x"})
	c.token = tok
	sf := c.do("GET", "/self-service/settings/api", nil)
	for name, body := range map[string][]byte{
		"login_api": ui(lf), "registration_api": ui(rf), "registration_credentials": ui(screen2),
		"registration_errors": ui(bad), "settings_api": ui(sf),
	} {
		got := normalize(bytes.ReplaceAll(body, []byte(strings.TrimSuffix(e.base, "/")), []byte("<public>")))
		path := filepath.Join("testdata", "selfservice", name+".golden.json")
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run go test -update)", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs (go test -update to accept):\n%s", name, got)
		}
	}
}

// TestSelfServiceRegistrationTraitErrorVisible checks that on the
// credentials screen of profile_first a trait that fails validation is shown
// as a visible input carrying its message, while the valid traits stay
// hidden.
func TestSelfServiceRegistrationTraitErrorVisible(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		c := e.native(t)
		f := c.do("GET", "/self-service/registration/api", nil)
		id := flowID(t, f)
		must(t, c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "profile",
			"traits": map[string]any{"email": "ivy@example.com", "name": "Ivy"}}), 400)
		// The hidden traits were tampered with: the e-mail is no longer valid.
		r := c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "password",
			"traits": map[string]any{"email": "ivy-at-example.com", "name": "Ivy"}, "password": "correct horse battery"})
		must(t, r, 400)
		nodes := map[string]map[string]any{}
		for _, n := range asList(r.json(t)["ui"].(map[string]any)["nodes"]) {
			node := n.(map[string]any)
			nodes[node["attributes"].(map[string]any)["name"].(string)] = node
		}
		tests := []struct {
			name, typ string
			messages  int
		}{
			{"traits.email", "email", 1},
			{"traits.name", "hidden", 0},
			{"password", "password", 0},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				n, ok := nodes[tc.name]
				if !ok {
					t.Fatalf("no node %s in %s", tc.name, r.body)
				}
				if got := n["attributes"].(map[string]any)["type"]; got != tc.typ {
					t.Errorf("type = %v, want %s", got, tc.typ)
				}
				if got := len(asList(n["messages"])); got != tc.messages {
					t.Errorf("%d messages, want %d", got, tc.messages)
				}
			})
		}
	})
}
