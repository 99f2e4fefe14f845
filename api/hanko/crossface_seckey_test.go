package hanko_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/store/storetest"
)

// hankoSecurityKeyLogin logs in on the Hanko face with a password and
// answers login_security_key with d (skipping device_trust); it returns the
// final state and the session JWT when it is success.
func (f *passkeyFaces) hankoSecurityKeyLogin(t *testing.T, email, pw string, d *xDevice) (string, string) {
	t.Helper()
	fl := &hankoFlow{t: t, f: &faces{st: f.st, hankoPub: f.hankoPub}}
	fl.post("/login", nil)
	fl.act("register_client_capabilities", map[string]any{"webauthn_available": true})
	if fl.act("continue_with_login_identifier", map[string]any{"email": email}) == "login_method_chooser" {
		fl.act("continue_to_password_login", nil)
	}
	if s := fl.act("password_login", map[string]any{"password": pw}); s != "login_security_key" {
		return s, ""
	}
	fl.act("webauthn_generate_request_options", nil)
	var p struct {
		Payload struct {
			RequestOptions json.RawMessage `json:"request_options"`
		} `json:"payload"`
	}
	_ = json.Unmarshal(fl.res.body, &p)
	var answer map[string]any
	_ = json.Unmarshal([]byte(d.get(t, string(p.Payload.RequestOptions))), &answer)
	s := fl.act("webauthn_verify_assertion_response", map[string]any{"assertion_response": answer})
	if s == "device_trust" {
		s = fl.act("skip", nil)
	}
	if s != "success" {
		return s, ""
	}
	return s, fl.session()
}

// hankoAMR returns the amr of a Hanko session as /sessions/validate reports
// it.
func (f *passkeyFaces) hankoAMR(t *testing.T, token string) string {
	t.Helper()
	r := call(t, f.hankoPub, nil, "POST", "/sessions/validate", map[string]any{"session_token": token})
	var v struct {
		IsValid bool `json:"is_valid"`
		Claims  struct {
			AMR []string `json:"amr"`
		} `json:"claims"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil || !v.IsValid {
		t.Fatalf("validate: %d %s", r.code, r.body)
	}
	return strings.Join(v.Claims.AMR, ",")
}

// kratosPasswordLogin signs in on the Kratos face with a password through a
// browser flow; it returns the status and answer (422 to the aal2 flow when
// a second factor is due) and the browser.
func (f *passkeyFaces) kratosPasswordLogin(t *testing.T, email, pw string) (int, map[string]any, *kratosSPA) {
	t.Helper()
	k := f.spa(t)
	code, fl := k.do("GET", "/self-service/login/browser", nil)
	if code != http.StatusOK {
		t.Fatalf("Kratos login flow: %d %v", code, fl)
	}
	code, body := k.do("POST", "/self-service/login?flow="+fl["id"].(string), map[string]any{"method": "password",
		"identifier": email, "password": pw, "csrf_token": node(fl, "csrf_token")})
	return code, body, k
}

// TestCrossFaceSecurityKeys: a security key added in the Kratos settings
// (webauthn) is the Hanko second factor (login_security_key, amr
// security_key), and one added in the Hanko profile (security_key_create)
// is the Kratos face's aal2 webauthn factor; deleted in the Hanko profile,
// neither face asks for a second factor any more.
func TestCrossFaceSecurityKeys(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newWebAuthnFaces(t, open, true)
			const email, pw = "sam@example.com", "sam's long password"
			r := call(t, f.hankoA, nil, "POST", "/users", map[string]any{"emails": []map[string]any{
				{"address": email, "is_primary": true, "is_verified": true}}}, "Authorization: Bearer "+xAPIKey)
			if r.code != http.StatusOK {
				t.Fatalf("hanko create user: %d %s", r.code, r.body)
			}
			sam, _ := r.json(t)["id"].(string)
			if r := call(t, f.hankoA, nil, "POST", "/users/"+sam+"/password", map[string]any{"password": pw}, "Authorization: Bearer "+xAPIKey); r.code != http.StatusOK {
				t.Fatalf("hanko set password: %d %s", r.code, r.body)
			}

			// Kratos settings: add a security key.
			code, body, k := f.kratosPasswordLogin(t, email, pw)
			if code != http.StatusOK {
				t.Fatalf("Kratos password login: %d %v", code, body)
			}
			code, sf := k.do("GET", "/self-service/settings/browser", nil)
			if code != http.StatusOK || node(sf, "webauthn_register_trigger") == "" {
				t.Fatalf("Kratos settings: %d %v", code, sf)
			}
			kd := newXDevice(t)
			code, done := k.do("POST", "/self-service/settings?flow="+sf["id"].(string), map[string]any{"method": "webauthn",
				"csrf_token": node(sf, "csrf_token"), "webauthn_register_displayname": "Kratos key",
				"webauthn_register": kd.create(t, node(sf, "webauthn_register_trigger"))})
			if code != http.StatusOK || done["state"] != "success" {
				t.Fatalf("Kratos add security key: %d %v", code, done)
			}

			// Hanko asks for it after the password, and takes it.
			if s, _ := f.hankoSecurityKeyLogin(t, email, pw, newXDevice(t)); s != "login_passkey" {
				t.Fatalf("Hanko second factor with an unknown key: %s", s)
			}
			s, tok := f.hankoSecurityKeyLogin(t, email, pw, kd)
			if s != "success" {
				t.Fatalf("Hanko second factor with the Kratos key: %s", s)
			}
			if amr := f.hankoAMR(t, tok); amr != "pwd,security_key" {
				t.Fatalf("Hanko amr %s", amr)
			}

			// Hanko profile: add a second key; it is Kratos' aal2 factor.
			hd := newXDevice(t)
			pf := &flowAs{t: t, f: &faces{st: f.st, hankoPub: f.hankoPub}, bearer: tok}
			pf.post("/profile", nil)
			pf.act("register_client_capabilities", map[string]any{"webauthn_available": true})
			if s := pf.act("security_key_create", nil); s != "webauthn_credential_verification" {
				t.Fatalf("security_key_create: %s %v", s, pf.last)
			}
			opts, _ := json.Marshal(pf.last["payload"].(map[string]any)["creation_options"])
			var att map[string]any
			_ = json.Unmarshal([]byte(hd.create(t, string(opts))), &att)
			if s := pf.act("webauthn_verify_attestation_response", map[string]any{"public_key": att}); s != "profile_init" {
				t.Fatalf("Hanko add security key: %s %v", s, pf.last)
			}
			user := pf.last["payload"].(map[string]any)["user"].(map[string]any)
			keys, _ := user["security_keys"].([]any)
			if len(keys) != 2 {
				t.Fatalf("Hanko lists security keys %v", user["security_keys"])
			}
			code, body, k2 := f.kratosPasswordLogin(t, email, pw)
			to, _ := body["redirect_browser_to"].(string)
			if code != http.StatusUnprocessableEntity || to == "" {
				t.Fatalf("Kratos password login of a user with keys: %d %v", code, body)
			}
			u, err := url.Parse(to)
			if err != nil {
				t.Fatal(err)
			}
			code, af := k2.do("GET", u.RequestURI(), nil)
			if code != http.StatusOK || node(af, "webauthn_login_trigger") == "" {
				t.Fatalf("Kratos aal2 flow: %d %v", code, af)
			}
			code, ok := k2.do("POST", "/self-service/login?flow="+af["id"].(string), map[string]any{"method": "webauthn",
				"csrf_token": node(af, "csrf_token"), "webauthn_login": hd.get(t, node(af, "webauthn_login_trigger"))})
			if code != http.StatusOK {
				t.Fatalf("Kratos aal2 with the Hanko key: %d %v", code, ok)
			}
			sess := ok["session"].(map[string]any)
			if sess["authenticator_assurance_level"] != "aal2" {
				t.Fatalf("Kratos session %v", sess)
			}

			// Both deleted in the Hanko profile: no face asks any more.
			for _, key := range keys {
				pf.post("/profile", nil)
				pf.act("register_client_capabilities", map[string]any{"webauthn_available": true})
				id := key.(map[string]any)["id"].(string)
				if s := pf.act("security_key_delete", map[string]any{"security_key_id": id}); s != "profile_init" || pf.code != http.StatusOK {
					t.Fatalf("security_key_delete: %s %d %v", s, pf.code, pf.last)
				}
			}
			if s, _ := f.hankoSecurityKeyLogin(t, email, pw, kd); s != "success" {
				t.Fatalf("Hanko login after removing the keys: %s", s)
			}
			if code, body, _ := f.kratosPasswordLogin(t, email, pw); code != http.StatusOK {
				t.Fatalf("Kratos login after removing the keys: %d %v", code, body)
			}
		})
	}
}
