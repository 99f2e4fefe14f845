package hanko_test

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
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/api/apitest"
	"github.com/latchkey/latchkey/api/hanko"
	"github.com/latchkey/latchkey/api/hanko/hankotest"
	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/api/kratos/kratostest"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/ratelimit"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

const xAPIKey = "cross-face-admin-key-0123456789"

// faces is both faces built on one store, as cmd/latchkey builds them: the
// Hanko public and admin API with its flows, the Kratos admin API and the
// Kratos self-service API. Each face has its own mux, as its own listener
// paths would.
type faces struct {
	st                   store.Store
	hankoPub, hankoAdm   http.Handler
	kratosPub, kratosAdm http.Handler
	hankoPubV, hankoAdmV *apitest.Validator
	kratosV              *apitest.Validator
}

// faceOption changes both faces' options before they are built.
type faceOption func(h *hanko.Options, k *kratos.SelfServiceOptions)

func newFaces(t *testing.T, open func(testing.TB) store.Store, mods ...func(d *hanko.TestingDeps)) *faces {
	t.Helper()
	return newFacesWith(t, open, nil, mods...)
}

// newFacesWith is newFaces whose face options opt (when not nil) changes
// last.
func newFacesWith(t *testing.T, open func(testing.TB) store.Store, opt faceOption, mods ...func(d *hanko.TestingDeps)) *faces {
	t.Helper()
	st := open(t)
	const base = "http://127.0.0.1:4433/"
	cfg, _, err := config.Load(config.LoadOptions{Dev: true, Env: []string{"LATCHKEY_SERVE_PUBLIC_BASE_URL=" + base}})
	if err != nil {
		t.Fatal(err)
	}
	d := hanko.NewTestingDeps(t, st)
	cfg.SelfService.Methods.TOTP.Enabled = true // one TOTP secret serves both faces
	for _, m := range mods {
		m(d)
	}
	// A tokenize_as template, so whoami can be shown a JWT of the same
	// issuer that is not a Hanko session token.
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tplKey, err := jwk.Import(ec)
	if err != nil {
		t.Fatal(err)
	}
	_ = tplKey.Set(jwk.AlgorithmKey, jwa.ES256())
	tplSet := jwk.NewSet()
	_ = tplSet.AddKey(tplKey)
	rawSet, _ := json.Marshal(tplSet)
	cfg.Session.WhoAmI.Tokenizer.Templates = map[string]config.TokenizerTemplate{"default": {TTL: time.Minute, SubjectSource: "id",
		JWKSURL: "base64://" + base64.StdEncoding.EncodeToString(rawSet)}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	jwtCfg := config.SessionJWT{Issuer: base, Audience: []string{"127.0.0.1"}}

	// One limiter and one attempt policy for both faces, as cmd/latchkey
	// wires them; the limiter's clock stands still, so no window ends
	// during a test.
	frozen := time.Now()
	limiter := ratelimit.NewDB(st, func() time.Time { return frozen }, []byte("cross-face rate-limit secret"))
	policy, err := ratelimit.NewPolicy(limiter, ratelimit.DefaultPolicyConfig())
	if err != nil {
		t.Fatal(err)
	}
	ho := hanko.Options{Store: st, Identities: d.Identities, Sessions: d.Sessions, Keys: d.Keys, Hasher: d.Hasher, Codes: d.Codes,
		Courier: d.Courier, Config: cfg.Hanko, JWT: jwtCfg, AdminAPIKey: xAPIKey, Log: quiet, TOTP: d.TOTP, Limiter: limiter, Attempts: policy,
		Signer: d.MAC}
	ko := kratos.SelfServiceOptions{Store: st, Identities: d.Identities, Sessions: d.Sessions, Keys: d.Keys,
		Hasher: d.Hasher, Cookies: d.Seal, PublicBaseURL: base, SelfService: cfg.SelfService, Session: cfg.Session, Log: quiet,
		TOTP: d.TOTP, Attempts: policy, AddressFlows: &kratos.AddressFlowOptions{Courier: d.Courier, MAC: d.MAC}}
	if opt != nil {
		opt(&ho, &ko)
	}
	h, err := hanko.New(ho)
	if err != nil {
		t.Fatal(err)
	}
	hp, ha := http.NewServeMux(), http.NewServeMux()
	h.MountPublic(hp)
	h.MountAdmin(ha)

	kh, err := kratos.New(kratos.Options{Identities: d.Identities, Sessions: st, PublicBaseURL: base, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := kratos.NewSelfService(ko)
	if err != nil {
		t.Fatal(err)
	}
	kp, ka := http.NewServeMux(), http.NewServeMux()
	ss.MountPublic(kp)
	kh.MountPublic(kp)
	kh.MountAdmin(ka)

	// The public listener's plumbing: the test requests' peer (httptest's
	// 192.0.2.1) is a trusted proxy, so a test names its client in
	// X-Forwarded-For; a request from another peer (remoteAddrHeader)
	// cannot.
	clientIP := api.WithClientIP([]netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")})
	return &faces{st: st,
		hankoPub: api.Chain(hp, clientIP, api.WithRequestID()), hankoAdm: api.Chain(ha, api.WithRequestID()),
		kratosPub: api.Chain(kp, clientIP, api.WithRequestID()), kratosAdm: api.Chain(ka, api.WithRequestID()),
		hankoPubV: hankotest.New(t, hankotest.Public), hankoAdmV: hankotest.New(t, hankotest.Admin),
		kratosV: kratostest.New(t)}
}

// xres is a recorded response.
type xres struct {
	code   int
	header http.Header
	body   []byte
	cookie map[string]*http.Cookie
}

func (r xres) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return m
}

// remoteAddrHeader, given to call as a header, sets the request's peer
// address instead (it is not sent).
const remoteAddrHeader = "X-Test-Remote-Addr"

// call sends a request to h and validates the answer against v (when not
// nil); hdr are "Name: value" pairs.
func call(t *testing.T, h http.Handler, v *apitest.Validator, method, path string, body any, hdr ...string) xres {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, kv := range hdr {
		k, val, _ := strings.Cut(kv, ": ")
		if k == remoteAddrHeader {
			req.RemoteAddr = val
			continue
		}
		req.Header.Add(k, val)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	out := xres{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes(), cookie: map[string]*http.Cookie{}}
	for _, c := range rec.Result().Cookies() {
		out.cookie[c.Name] = c
	}
	if v != nil {
		v.Validate(t, req, out.code, out.header, out.body)
	}
	return out
}

func (f *faces) hankoAdmin(t *testing.T, method, path string, body any) xres {
	t.Helper()
	return call(t, f.hankoAdm, f.hankoAdmV, method, path, body, "Authorization: Bearer "+xAPIKey)
}

// hankoFlow drives one Hanko flow as hanko-elements does.
type hankoFlow struct {
	t    *testing.T
	f    *faces
	last struct {
		Name      string `json:"name"`
		CSRFToken string `json:"csrf_token"`
		Actions   map[string]struct {
			Href string `json:"href"`
		} `json:"actions"`
	}
	res xres
	hdr []string // headers of every request ("Name: value")
}

// startFlow begins the flow name (login, registration) and registers the
// client's capabilities; hdr go with every request of the flow.
func (f *faces) startFlow(t *testing.T, name string, hdr ...string) *hankoFlow {
	t.Helper()
	fl := &hankoFlow{t: t, f: f, hdr: hdr}
	fl.post("/"+name, nil)
	fl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
	return fl
}

func (fl *hankoFlow) post(path string, body any) {
	fl.t.Helper()
	// The flow answers are validated against openapi-flow.yaml, with its
	// known drift, by the flow tests (checkFlowSpec); here only the
	// crossing matters.
	fl.res = call(fl.t, fl.f.hankoPub, nil, "POST", path, body, fl.hdr...)
	if err := json.Unmarshal(fl.res.body, &fl.last); err != nil {
		fl.t.Fatalf("flow answer %s: %v", fl.res.body, err)
	}
}

// act runs action with input in the current state and returns the new
// state's name.
func (fl *hankoFlow) act(action string, input map[string]any) string {
	fl.t.Helper()
	a, ok := fl.last.Actions[action]
	if !ok {
		fl.t.Fatalf("action %s not offered in %s: %s", action, fl.last.Name, fl.res.body)
	}
	if input == nil {
		input = map[string]any{}
	}
	fl.post(a.Href, map[string]any{"input_data": input, "csrf_token": fl.last.CSRFToken})
	return fl.last.Name
}

// session returns the session JWT of a flow that ended in success.
func (fl *hankoFlow) session() string {
	fl.t.Helper()
	if fl.last.Name != "success" || fl.res.cookie["hanko"] == nil {
		fl.t.Fatalf("flow ended in %s: %s", fl.last.Name, fl.res.body)
	}
	return fl.res.cookie["hanko"].Value
}

// hankoPasswordLogin runs hanko-elements' password login through POST
// /login and returns the session JWT from the hanko cookie.
func (f *faces) hankoPasswordLogin(t *testing.T, email, pw string) string {
	t.Helper()
	fl := f.startFlow(t, "login")
	if fl.act("continue_with_login_identifier", map[string]any{"email": email}) == "login_method_chooser" {
		fl.act("continue_to_password_login", nil)
	}
	fl.act("password_login", map[string]any{"password": pw})
	return fl.session()
}

// hankoRegister registers email with a password through POST
// /registration, verifying the address with the mailed passcode, and
// returns the session JWT.
func (f *faces) hankoRegister(t *testing.T, email, pw string) string {
	t.Helper()
	fl := f.startFlow(t, "registration")
	if s := fl.act("register_login_identifier", map[string]any{"email": email}); s != "passcode_confirmation" {
		t.Fatalf("registration: state %s", s)
	}
	msgs, err := f.st.ListMessages(context.Background(), store.MessageQuery{Recipient: email, Limit: 1})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("no passcode mail to %s: %v", email, err)
	}
	var data map[string]any
	_ = json.Unmarshal(msgs[0].TemplateData, &data)
	code, _ := data["Code"].(string)
	if s := fl.act("verify_passcode", map[string]any{"code": code}); s != "password_creation" {
		t.Fatalf("registration after the passcode: state %s", s)
	}
	fl.act("register_password", map[string]any{"new_password": pw})
	return fl.session()
}

// kratosNativeLogin runs the Kratos native password login and returns the
// session token.
func (f *faces) kratosNativeLogin(t *testing.T, identifier, pw string) (string, int) {
	t.Helper()
	lf := call(t, f.kratosPub, f.kratosV, "GET", "/self-service/login/api", nil)
	if lf.code != http.StatusOK {
		t.Fatalf("login flow: %d %s", lf.code, lf.body)
	}
	id, _ := lf.json(t)["id"].(string)
	r := call(t, f.kratosPub, f.kratosV, "POST", "/self-service/login?flow="+id,
		map[string]any{"method": "password", "identifier": identifier, "password": pw})
	if r.code != http.StatusOK {
		return "", r.code
	}
	tok, _ := r.json(t)["session_token"].(string)
	return tok, r.code
}

// validate asks Hanko's POST /sessions/validate about a session JWT.
func (f *faces) validate(t *testing.T, jwt string) map[string]any {
	t.Helper()
	r := call(t, f.hankoPub, f.hankoPubV, "POST", "/sessions/validate", map[string]any{"session_token": jwt})
	if r.code != http.StatusOK {
		t.Fatalf("validate: %d %s", r.code, r.body)
	}
	return r.json(t)
}

func TestCrossFace(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testCrossFace(t, newFaces(t, open))
		})
	}
}

func testCrossFace(t *testing.T, f *faces) {
	// A Hanko user (admin API, with a password) is a Kratos identity and
	// logs in through the Kratos native login flow.
	r := f.hankoAdmin(t, "POST", "/users", map[string]any{"emails": []map[string]any{
		{"address": "ivy@example.com", "is_primary": true, "is_verified": true}}})
	if r.code != http.StatusOK {
		t.Fatalf("hanko create user: %d %s", r.code, r.body)
	}
	ivy, _ := r.json(t)["id"].(string)
	if r := f.hankoAdmin(t, "POST", "/users/"+ivy+"/password", map[string]any{"password": "ivy's long password"}); r.code != http.StatusOK {
		t.Fatalf("hanko set password: %d %s", r.code, r.body)
	}
	list := call(t, f.kratosAdm, f.kratosV, "GET", "/admin/identities?credentials_identifier=ivy@example.com", nil)
	var idents []map[string]any
	if err := json.Unmarshal(list.body, &idents); err != nil || list.code != 200 || len(idents) != 1 || idents[0]["id"] != ivy {
		t.Fatalf("Kratos admin identities: %d %s", list.code, list.body)
	}
	if traits, _ := idents[0]["traits"].(map[string]any); traits["email"] != "ivy@example.com" {
		t.Fatalf("Kratos traits = %v", idents[0]["traits"])
	}
	if _, code := f.kratosNativeLogin(t, "ivy@example.com", "not ivy's password"); code != http.StatusBadRequest {
		t.Fatalf("Kratos login with a wrong password: %d", code)
	}
	ktok, code := f.kratosNativeLogin(t, "ivy@example.com", "ivy's long password")
	if code != http.StatusOK || !strings.HasPrefix(ktok, "ory_st_") {
		t.Fatalf("Kratos login of a Hanko user: %d %q", code, ktok)
	}
	// That Kratos session is a session row the Hanko admin API lists.
	hs := f.hankoAdmin(t, "GET", "/users/"+ivy+"/sessions", nil)
	if hs.code != http.StatusOK || !strings.Contains(string(hs.body), `"user_id":"`+ivy+`"`) {
		t.Fatalf("Hanko admin sessions of a Kratos login: %d %s", hs.code, hs.body)
	}

	// A user registered through Hanko's /registration flow (e-mail verified
	// by passcode) is a Kratos identity with a verified address, and its
	// password works on the Kratos face.
	f.hankoRegister(t, "kim@example.com", "kim's long password")
	kl := call(t, f.kratosAdm, f.kratosV, "GET", "/admin/identities?credentials_identifier=kim@example.com", nil)
	var kims []map[string]any
	if err := json.Unmarshal(kl.body, &kims); err != nil || len(kims) != 1 {
		t.Fatalf("Kratos admin identities after Hanko registration: %d %s", kl.code, kl.body)
	}
	if va, _ := kims[0]["verifiable_addresses"].([]any); len(va) != 1 || va[0].(map[string]any)["verified"] != true {
		t.Fatalf("Kratos verifiable addresses = %v", kims[0]["verifiable_addresses"])
	}
	if _, code := f.kratosNativeLogin(t, "kim@example.com", "kim's long password"); code != http.StatusOK {
		t.Fatalf("Kratos login after Hanko registration: %d", code)
	}

	// A Kratos identity (admin API, with a password) is a Hanko user and
	// logs in through Hanko's /login flow.
	kr := call(t, f.kratosAdm, f.kratosV, "POST", "/admin/identities", map[string]any{"schema_id": "default",
		"traits":      map[string]any{"email": "jude@example.com"},
		"credentials": map[string]any{"password": map[string]any{"config": map[string]any{"password": "jude's long password"}}}})
	if kr.code != http.StatusCreated {
		t.Fatalf("Kratos create identity: %d %s", kr.code, kr.body)
	}
	jude, _ := kr.json(t)["id"].(string)
	hu := f.hankoAdmin(t, "GET", "/users/"+jude, nil)
	if hu.code != http.StatusOK || !strings.Contains(string(hu.body), `"address":"jude@example.com"`) {
		t.Fatalf("Hanko admin user of a Kratos identity: %d %s", hu.code, hu.body)
	}
	jwt := f.hankoPasswordLogin(t, "jude@example.com", "jude's long password")
	v := f.validate(t, jwt)
	if v["is_valid"] != true || v["user_id"] != jude {
		t.Fatalf("validate after Hanko login: %v", v)
	}
	claims, _ := v["claims"].(map[string]any)
	sid, _ := claims["session_id"].(string)
	if sid == "" {
		t.Fatalf("no session_id claim: %v", claims)
	}

	// Kratos' whoami honours the Hanko JWT as a bearer token.
	who := call(t, f.kratosPub, f.kratosV, "GET", "/sessions/whoami", nil, "Authorization: Bearer "+jwt)
	if who.code != http.StatusOK {
		t.Fatalf("whoami with the Hanko JWT: %d %s", who.code, who.body)
	}
	wm := who.json(t)
	if wm["id"] != sid || wm["identity"].(map[string]any)["id"] != jude || wm["active"] != true {
		t.Fatalf("whoami = %s", who.body)
	}
	// A token that is not a Hanko session JWT does not pass: a tampered
	// one, or a JWT signed by the same keys without session_id.
	for name, bad := range map[string]string{
		"tampered":        jwt[:len(jwt)-4] + "AAAA",
		"not a jwt":       "a.b.c",
		"kratos tokenize": tokenize(t, f, ktok),
	} {
		if r := call(t, f.kratosPub, f.kratosV, "GET", "/sessions/whoami", nil, "Authorization: Bearer "+bad); r.code != http.StatusUnauthorized {
			t.Errorf("whoami with %s bearer: %d", name, r.code)
		}
	}

	// Revoking the row through the Kratos admin API ends it for both faces.
	if r := call(t, f.kratosAdm, f.kratosV, "DELETE", "/admin/sessions/"+sid, nil); r.code != http.StatusNoContent {
		t.Fatalf("Kratos revoke: %d %s", r.code, r.body)
	}
	if v := f.validate(t, jwt); v["is_valid"] != false {
		t.Fatalf("validate after revoke: %v", v)
	}
	if r := call(t, f.hankoPub, f.hankoPubV, "GET", "/me", nil, "Authorization: Bearer "+jwt); r.code != http.StatusUnauthorized {
		t.Fatalf("/me after revoke: %d", r.code)
	}
	if r := call(t, f.kratosPub, f.kratosV, "GET", "/sessions/whoami", nil, "Authorization: Bearer "+jwt); r.code != http.StatusUnauthorized {
		t.Fatalf("whoami after revoke: %d %s", r.code, r.body)
	}

	// And revoking a Kratos session through the Hanko admin API ends it
	// for Kratos.
	var hsList []map[string]any
	_ = json.Unmarshal(hs.body, &hsList)
	if len(hsList) != 1 {
		t.Fatalf("Hanko sessions of ivy: %s", hs.body)
	}
	ksid, _ := hsList[0]["id"].(string)
	if r := f.hankoAdmin(t, "DELETE", "/users/"+ivy+"/sessions/"+ksid, nil); r.code != http.StatusNoContent {
		t.Fatalf("Hanko revoke of a Kratos session: %d %s", r.code, r.body)
	}
	if r := call(t, f.kratosPub, f.kratosV, "GET", "/sessions/whoami", nil, "X-Session-Token: "+ktok); r.code != http.StatusUnauthorized {
		t.Fatalf("whoami after Hanko revoke: %d", r.code)
	}
}

// tokenize returns a Kratos tokenize_as JWT for the session token: signed
// by the template's key, with no session_id claim.
func tokenize(t *testing.T, f *faces, ktok string) string {
	t.Helper()
	r := call(t, f.kratosPub, nil, "GET", "/sessions/whoami?tokenize_as=default", nil, "X-Session-Token: "+ktok)
	s, _ := r.json(t)["tokenized"].(string)
	if r.code != http.StatusOK || s == "" {
		t.Fatalf("tokenize_as: %d %s", r.code, r.body)
	}
	return s
}
