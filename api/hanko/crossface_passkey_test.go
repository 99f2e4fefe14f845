package hanko_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/api/apitest"
	"github.com/latchkey/latchkey/api/hanko"
	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/api/kratos/kratostest"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/method/webauthn"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// The relying party both faces share in this test: a browser on
// localhost:4433.
var xRP = virtualwebauthn.RelyingParty{ID: "localhost", Name: "Latchkey", Origin: "http://localhost:4433"}

// xDevice is a virtual authenticator holding one passkey.
type xDevice struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newXDevice(t *testing.T) *xDevice {
	t.Helper()
	for {
		// virtualwebauthn writes EC coordinates without leading zero
		// bytes; only keys with two 32-byte coordinates are usable.
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(k.X.Bytes()) != 32 || len(k.Y.Bytes()) != 32 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return &xDevice{auth: virtualwebauthn.NewAuthenticator(),
			cred: virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)}
	}
}

func (d *xDevice) create(t *testing.T, options string) string {
	t.Helper()
	opts, err := virtualwebauthn.ParseAttestationOptions(options)
	if err != nil {
		t.Fatalf("creation options %s: %v", options, err)
	}
	d.auth.Options.UserHandle = []byte(opts.UserID)
	return virtualwebauthn.CreateAttestationResponse(xRP, d.auth, d.cred, *opts)
}

func (d *xDevice) get(t *testing.T, options string) string {
	t.Helper()
	opts, err := virtualwebauthn.ParseAssertionOptions(options)
	if err != nil {
		t.Fatalf("request options %s: %v", options, err)
	}
	return virtualwebauthn.CreateAssertionResponse(xRP, d.auth, d.cred, *opts)
}

// passkeyFaces is both faces on one store with passkeys on, sharing one
// WebAuthn method (as serve wires them): Hanko's flows and admin API, and
// Kratos' self-service API behind a real server (its browser flows need
// cookies).
type passkeyFaces struct {
	st               store.Store
	hankoPub, hankoA http.Handler
	kratos           *httptest.Server
	kratosV          *apitest.Validator
}

func newPasskeyFaces(t *testing.T, open func(testing.TB) store.Store) *passkeyFaces {
	t.Helper()
	return newWebAuthnFaces(t, open, false)
}

// newWebAuthnFaces is newPasskeyFaces, with securityKeys also the Kratos
// face's webauthn method (second factor) and Hanko's security keys, over
// the same method; Hanko then asks for no passkey at login.
func newWebAuthnFaces(t *testing.T, open func(testing.TB) store.Store, securityKeys bool) *passkeyFaces {
	t.Helper()
	st := open(t)
	const base = "http://127.0.0.1:4433/"
	cfg, _, err := config.Load(config.LoadOptions{Dev: true, Env: []string{"LATCHKEY_SERVE_PUBLIC_BASE_URL=" + base}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.SelfService.Methods.Passkey.Enabled = true
	d := hanko.NewTestingDeps(t, st)
	m, err := webauthn.New(webauthn.Config{RPID: xRP.ID, RPDisplayName: xRP.Name, RPOrigins: []string{xRP.Origin},
		NotFound: store.ErrNotFound, Conflict: store.ErrConflict})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var keys *webauthn.Method
	if securityKeys {
		keys = m
		cfg.SelfService.Methods.WebAuthn.Enabled = true
		cfg.Hanko.Passkey.AcquireOnLogin = "never"
	}
	h, err := hanko.New(hanko.Options{Store: st, Identities: d.Identities, Sessions: d.Sessions, Keys: d.Keys, Hasher: d.Hasher, Codes: d.Codes,
		Courier: d.Courier, Config: cfg.Hanko, JWT: config.SessionJWT{Issuer: base, Audience: []string{"127.0.0.1"}}, AdminAPIKey: xAPIKey,
		Log: quiet, WebAuthn: m, SecurityKeys: keys, TOTP: d.TOTP, Signer: d.MAC})
	if err != nil {
		t.Fatal(err)
	}
	hp, ha := http.NewServeMux(), http.NewServeMux()
	h.MountPublic(hp)
	h.MountAdmin(ha)
	f := &passkeyFaces{st: st, hankoPub: api.Chain(hp, api.WithRequestID()), hankoA: api.Chain(ha, api.WithRequestID()),
		kratosV: kratostest.New(t)}
	var kp http.Handler
	f.kratos = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { kp.ServeHTTP(w, r) }))
	t.Cleanup(f.kratos.Close)
	ss, err := kratos.NewSelfService(kratos.SelfServiceOptions{Store: st, Identities: d.Identities, Sessions: d.Sessions, Keys: d.Keys,
		Hasher: d.Hasher, Cookies: d.Seal, PublicBaseURL: f.kratos.URL + "/", SelfService: cfg.SelfService, Session: cfg.Session,
		Log: quiet, Passkeys: m, SecurityKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ss.MountPublic(mux)
	kp = api.Chain(mux, api.WithRequestID())
	return f
}

// kratosSPA is a browser with cookies speaking JSON to the Kratos face.
type kratosSPA struct {
	t *testing.T
	f *passkeyFaces
	c *http.Client
}

func (f *passkeyFaces) spa(t *testing.T) *kratosSPA {
	jar, _ := cookiejar.New(nil)
	return &kratosSPA{t: t, f: f, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (k *kratosSPA) do(method, path string, body any) (int, map[string]any) {
	k.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, k.f.kratos.URL+path, rd)
	if err != nil {
		k.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := k.c.Do(req)
	if err != nil {
		k.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if err := k.f.kratosV.Check(req, res.StatusCode, res.Header, raw); err != nil {
		k.t.Errorf("%s %s: the answer does not match kratos-api.json: %v", method, path, err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return res.StatusCode, m
}

// node returns the value of a flow's node.
func node(f map[string]any, name string) string {
	ui, _ := f["ui"].(map[string]any)
	nodes, _ := ui["nodes"].([]any)
	for _, n := range nodes {
		a := n.(map[string]any)["attributes"].(map[string]any)
		if a["name"] == name {
			v, _ := a["value"].(string)
			return v
		}
	}
	return ""
}

// kratosPasskeyLogin signs in with d on the Kratos face and returns the
// status and the session's first authentication method.
func (f *passkeyFaces) kratosPasskeyLogin(t *testing.T, d *xDevice) (int, map[string]any) {
	t.Helper()
	code, body, _ := f.kratosPasskeyLoginAs(t, f.spa(t), d)
	return code, body
}

// kratosPasskeyLoginAs is kratosPasskeyLogin on the browser k.
func (f *passkeyFaces) kratosPasskeyLoginAs(t *testing.T, k *kratosSPA, d *xDevice) (int, map[string]any, *kratosSPA) {
	t.Helper()
	code, fl := k.do("GET", "/self-service/login/browser", nil)
	if code != http.StatusOK || node(fl, "passkey_challenge") == "" {
		t.Fatalf("Kratos login flow: %d %v", code, fl)
	}
	code, body := k.do("POST", "/self-service/login?flow="+fl["id"].(string), map[string]any{"method": "passkey",
		"csrf_token": node(fl, "csrf_token"), "passkey_login": d.get(t, node(fl, "passkey_challenge"))})
	return code, body, k
}

// hankoPasskeyLogin signs in with d through Hanko's "Sign in with a
// passkey" button and returns the final state.
func (f *passkeyFaces) hankoPasskeyLogin(t *testing.T, d *xDevice) string {
	t.Helper()
	fl := &hankoFlow{t: t, f: &faces{st: f.st, hankoPub: f.hankoPub}}
	fl.post("/login", nil)
	fl.act("register_client_capabilities", map[string]any{"webauthn_available": true})
	if s := fl.act("webauthn_generate_request_options", nil); s != "login_passkey" {
		t.Fatalf("Hanko passkey button: state %s: %s", s, fl.res.body)
	}
	var p struct {
		Payload struct {
			RequestOptions json.RawMessage `json:"request_options"`
		} `json:"payload"`
	}
	_ = json.Unmarshal(fl.res.body, &p)
	var answer map[string]any
	_ = json.Unmarshal([]byte(d.get(t, string(p.Payload.RequestOptions))), &answer)
	return fl.act("webauthn_verify_assertion_response", map[string]any{"assertion_response": answer})
}

// TestCrossFacePasskeys: a passkey registered on the Kratos face signs in on
// the Hanko face and one registered on the Hanko face signs in on the
// Kratos face (one credential table); deleted on either face, a passkey
// signs in nowhere.
func TestCrossFacePasskeys(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newPasskeyFaces(t, open)

			// Kratos: sign up with a passkey (profile, then the passkey).
			kd := newXDevice(t)
			k := f.spa(t)
			code, fl := k.do("GET", "/self-service/registration/browser", nil)
			if code != http.StatusOK {
				t.Fatalf("registration flow: %d", code)
			}
			id := fl["id"].(string)
			tr := map[string]any{"email": "kay@example.com"}
			_, fl = k.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "profile", "traits": tr, "csrf_token": node(fl, "csrf_token")})
			var data struct {
				CredentialOptions json.RawMessage `json:"credentialOptions"`
			}
			if err := json.Unmarshal([]byte(node(fl, "passkey_create_data")), &data); err != nil {
				t.Fatalf("passkey_create_data: %v in %v", err, fl)
			}
			code, reg := k.do("POST", "/self-service/registration?flow="+id, map[string]any{"traits": tr, "csrf_token": node(fl, "csrf_token"),
				"passkey_register": kd.create(t, string(data.CredentialOptions))})
			if code != http.StatusOK {
				t.Fatalf("Kratos passkey sign-up: %d %v", code, reg)
			}
			kay := reg["identity"].(map[string]any)["id"].(string)

			// ... signs in on the Hanko face, which lists it.
			if s := f.hankoPasskeyLogin(t, kd); s != "success" {
				t.Fatalf("Hanko login with a Kratos passkey: %s", s)
			}
			list := call(t, f.hankoA, nil, "GET", "/users/"+kay+"/webauthn_credentials", nil, "Authorization: Bearer "+xAPIKey)
			var creds []map[string]any
			if err := json.Unmarshal(list.body, &creds); err != nil || list.code != http.StatusOK || len(creds) != 1 {
				t.Fatalf("Hanko admin webauthn_credentials: %d %s", list.code, list.body)
			}
			if want := base64.RawURLEncoding.EncodeToString(kd.cred.ID); creds[0]["id"] != want {
				t.Errorf("Hanko lists credential %v, want %s", creds[0]["id"], want)
			}

			// Deleted on the Hanko face (admin API), it signs in on
			// neither face.
			del := call(t, f.hankoA, nil, "DELETE", "/users/"+kay+"/webauthn_credentials/"+creds[0]["id"].(string), nil, "Authorization: Bearer "+xAPIKey)
			if del.code != http.StatusNoContent && del.code != http.StatusOK {
				t.Fatalf("Hanko admin delete: %d %s", del.code, del.body)
			}
			if code, body := f.kratosPasskeyLogin(t, kd); code != http.StatusBadRequest {
				t.Fatalf("Kratos login with a passkey deleted on Hanko: %d %v", code, body)
			}
			if s := f.hankoPasskeyLogin(t, kd); s == "success" {
				t.Fatalf("Hanko login with a deleted passkey succeeded")
			}

			// Hanko: a password user signs in and is asked for a passkey
			// (onboarding); the passkey signs in on the Kratos face.
			r := call(t, f.hankoA, nil, "POST", "/users", map[string]any{"emails": []map[string]any{
				{"address": "hal@example.com", "is_primary": true, "is_verified": true}}}, "Authorization: Bearer "+xAPIKey)
			if r.code != http.StatusOK {
				t.Fatalf("hanko create user: %d %s", r.code, r.body)
			}
			hal, _ := r.json(t)["id"].(string)
			if r := call(t, f.hankoA, nil, "POST", "/users/"+hal+"/password", map[string]any{"password": "hal's long password"}, "Authorization: Bearer "+xAPIKey); r.code != http.StatusOK {
				t.Fatalf("hanko set password: %d %s", r.code, r.body)
			}
			hd := newXDevice(t)
			hf := &hankoFlow{t: t, f: &faces{st: f.st, hankoPub: f.hankoPub}}
			hf.post("/login", nil)
			hf.act("register_client_capabilities", map[string]any{"webauthn_available": true})
			if hf.act("continue_with_login_identifier", map[string]any{"email": "hal@example.com"}) == "login_method_chooser" {
				hf.act("continue_to_password_login", nil)
			}
			if s := hf.act("password_login", map[string]any{"password": "hal's long password"}); s != "onboarding_create_passkey" {
				t.Fatalf("after the password: state %s", s)
			}
			hf.act("webauthn_generate_creation_options", nil)
			var p struct {
				Payload struct {
					CreationOptions json.RawMessage `json:"creation_options"`
				} `json:"payload"`
			}
			_ = json.Unmarshal(hf.res.body, &p)
			var att map[string]any
			_ = json.Unmarshal([]byte(hd.create(t, string(p.Payload.CreationOptions))), &att)
			if s := hf.act("webauthn_verify_attestation_response", map[string]any{"public_key": att}); s != "success" {
				t.Fatalf("Hanko onboarding: state %s: %s", s, hf.res.body)
			}
			code, body, hk := f.kratosPasskeyLoginAs(t, f.spa(t), hd)
			if code != http.StatusOK {
				t.Fatalf("Kratos login with a Hanko passkey: %d %v", code, body)
			}
			sess := body["session"].(map[string]any)
			if sess["identity"].(map[string]any)["id"] != hal {
				t.Errorf("Kratos session of %v, want %s", sess["identity"], hal)
			}
			methods, _ := sess["authentication_methods"].([]any)
			if len(methods) != 1 || methods[0].(map[string]any)["method"] != "passkey" {
				t.Errorf("authentication_methods = %v", methods)
			}

			// Removed in the Kratos settings (hal keeps the password), it
			// signs in nowhere.
			code, sf := hk.do("GET", "/self-service/settings/browser", nil)
			if code != http.StatusOK || node(sf, "passkey_remove") == "" {
				t.Fatalf("Kratos settings: %d %v", code, sf)
			}
			code, done := hk.do("POST", "/self-service/settings?flow="+sf["id"].(string), map[string]any{"csrf_token": node(sf, "csrf_token"),
				"passkey_remove": node(sf, "passkey_remove")})
			if code != http.StatusOK || done["state"] != "success" {
				t.Fatalf("Kratos remove passkey: %d %v", code, done)
			}
			if left, err := f.st.ListWebAuthnCredentials(context.Background(), hal); err != nil || len(left) != 0 {
				t.Fatalf("credentials left: %v %v", left, err)
			}
			if code, _ := f.kratosPasskeyLogin(t, hd); code != http.StatusBadRequest {
				t.Fatalf("Kratos login with a deleted passkey: %d", code)
			}
			if s := f.hankoPasskeyLogin(t, hd); s == "success" {
				t.Fatalf("Hanko login with a deleted passkey succeeded")
			}
		})
	}
}
