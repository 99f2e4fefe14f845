package hanko

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/method/webauthn"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// newSecurityKeyEnv is the Flow API on st with passkeys and security keys
// (two methods over one relying party, as cmd/latchkey builds them),
// passcode login off and no passkey onboarding at login; mod may change the
// hanko config further.
func newSecurityKeyEnv(t *testing.T, st store.Store, mod func(c *config.Hanko)) *fEnv {
	t.Helper()
	hc := func(c *config.Hanko) {
		c.Email.UseForAuthentication = false
		c.Passkey.AcquireOnLogin = "never"
		if mod != nil {
			mod(c)
		}
	}
	var probe config.Hanko
	c, _, err := config.Load(config.LoadOptions{Dev: true, Env: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	probe = c.Hanko
	hc(&probe)
	sk := probe.MFA.SecurityKeys
	pk, err := webauthn.New(webauthn.Config{RPID: testRP.ID, RPDisplayName: testRP.Name, RPOrigins: []string{testRP.Origin},
		NotFound: store.ErrNotFound, Conflict: store.ErrConflict})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := webauthn.New(webauthn.Config{RPID: testRP.ID, RPDisplayName: testRP.Name, RPOrigins: []string{testRP.Origin},
		SecurityKeyUserVerification: sk.UserVerification, SecurityKeyAttachment: sk.AuthenticatorAttachment,
		Attestation: sk.AttestationPreference, NotFound: store.ErrNotFound, Conflict: store.ErrConflict})
	if err != nil {
		t.Fatal(err)
	}
	return newFEnvOn(t, st, hc, func(o *Options) { o.WebAuthn, o.SecurityKeys = pk, keys })
}

// webauthnCaps are the capabilities of a browser with WebAuthn but without
// conditional mediation (no autofill request options at login_init).
var webauthnCaps = map[string]any{"webauthn_available": true,
	"webauthn_conditional_mediation_available": false, "webauthn_platform_authenticator_available": false}

// loginWith starts a login with caps and enters email; it returns the
// state after the password.
func loginWith(t *testing.T, cl *client, caps map[string]any, email, pw string) *flowResp {
	t.Helper()
	mustState(t, cl.start("login"), statePreflight, 200)
	mustState(t, cl.act("register_client_capabilities", caps), stateLoginInit, 200)
	r := cl.act("continue_with_login_identifier", map[string]any{"email": email})
	if r.Name == stateLoginMethodChooser {
		r = cl.act("continue_to_password_login", nil)
	}
	mustState(t, r, stateLoginPassword, 200)
	return cl.act("password_login", map[string]any{"password": pw})
}

// webauthnProfile opens the profile of bearer from a browser with WebAuthn.
func webauthnProfile(t *testing.T, e *fEnv, bearer string) *client {
	t.Helper()
	cl := e.client(t)
	cl.bearer = bearer
	mustState(t, cl.start("profile"), statePreflight, 200)
	mustState(t, cl.act("register_client_capabilities", webauthnCaps), stateProfileInit, 200)
	return cl
}

func userSecurityKeys(t *testing.T, r *flowResp) []WebauthnCredentialJSON {
	t.Helper()
	var u ProfileJSON
	if err := json.Unmarshal(r.Payload["user"], &u); err != nil {
		t.Fatal(err)
	}
	return u.SecurityKeys
}

// addSecurityKey creates a security key on a in the profile of pc and
// returns the profile_init that follows.
func addSecurityKey(t *testing.T, pc *client, a *authenticator) *flowResp {
	t.Helper()
	r := pc.act("security_key_create", nil)
	mustState(t, r, stateWebauthnCredentialVerification, 200)
	var opts struct {
		PublicKey struct {
			AuthenticatorSelection struct {
				AuthenticatorAttachment string `json:"authenticatorAttachment"`
				ResidentKey             string `json:"residentKey"`
				UserVerification        string `json:"userVerification"`
			} `json:"authenticatorSelection"`
			Attestation string `json:"attestation"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(r.Payload["creation_options"], &opts); err != nil {
		t.Fatal(err)
	}
	if sel := opts.PublicKey.AuthenticatorSelection; sel.AuthenticatorAttachment != "cross-platform" || sel.ResidentKey != "discouraged" ||
		sel.UserVerification != "discouraged" || opts.PublicKey.Attestation != "direct" {
		t.Fatalf("security key creation options: %s", r.Payload["creation_options"])
	}
	r = pc.act("webauthn_verify_attestation_response", map[string]any{"public_key": a.create(t, testRP, r)})
	mustState(t, r, stateProfileInit, 200)
	return r
}

// postRaw sends body to action's href on the client's last state.
func postRaw(t *testing.T, cl *client, action, body string) *flowResp {
	t.Helper()
	a, ok := cl.last.Actions[action]
	if !ok {
		t.Fatalf("%s not offered in %s", action, cl.last.Name)
	}
	return cl.post(a.Href, []byte(body))
}

// TestFlowSecurityKeys runs the security key as a Hanko second factor on
// every backend: set up in the profile, asked for after a password login
// (refusing wrong, foreign, replayed and malformed answers), skipped by a
// passkey login, switched with an authenticator app, and deleted (no
// session keeps claiming it).
func TestFlowSecurityKeys(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newSecurityKeyEnv(t, open(t), nil)
			u := e.createUser(t, "kim@example.com", "kim's password")
			e.createUser(t, "ole@example.com", "ole's password")
			login := e.client(t)
			checkSession(t, e, login, loginWith(t, login, webauthnCaps, "kim@example.com", "kim's password"), AMRPassword)
			pc := webauthnProfile(t, e, login.bearer)
			if mc := mfaConfigOf(t, pc.last); !mc.SecurityKeysEnabled {
				t.Fatalf("mfa_config: %+v", mc)
			}
			if _, ok := pc.last.Actions["security_key_delete"]; ok {
				t.Fatal("security_key_delete offered without a key")
			}

			// A malformed attestation keeps the state; then the key.
			mustState(t, pc.act("security_key_create", nil), stateWebauthnCredentialVerification, 200)
			wantFlowError(t, pc.act("webauthn_verify_attestation_response", map[string]any{"public_key": map[string]any{"id": "x"}}),
				stateWebauthnCredentialVerification, 400, "form_data_invalid_error")
			mustState(t, pc.act("back", nil), stateProfileInit, 200)
			key := newAuthenticator()
			r := addSecurityKey(t, pc, key)
			keys := userSecurityKeys(t, r)
			if len(keys) != 1 || !keys[0].MFAOnly || len(userPasskeys(t, r)) != 0 {
				t.Fatalf("after setup: security keys %+v, passkeys %+v", keys, userPasskeys(t, r))
			}
			if _, ok := r.Actions["security_key_delete"]; !ok {
				t.Fatal("security_key_delete not offered with a key")
			}
			// hanko-elements renames a security key with
			// webauthn_credential_rename, as Hanko allows.
			r = pc.act("webauthn_credential_rename", map[string]any{"passkey_id": keys[0].ID, "passkey_name": "Blue key"})
			mustState(t, r, stateProfileInit, 200)
			if keys = userSecurityKeys(t, r); len(keys) != 1 || keys[0].Name != "Blue key" {
				t.Fatalf("after rename: %+v", keys)
			}

			// Ole has a key of his own.
			ole := e.client(t)
			checkSession(t, e, ole, loginWith(t, ole, webauthnCaps, "ole@example.com", "ole's password"), AMRPassword)
			oleKey := newAuthenticator()
			addSecurityKey(t, webauthnProfile(t, e, ole.bearer), oleKey)

			// A password login now asks for the key.
			cl := e.client(t)
			r = loginWith(t, cl, webauthnCaps, "kim@example.com", "kim's password")
			mustState(t, r, stateLoginSecurityKey, 200)
			if _, ok := r.Actions["continue_to_login_otp"]; ok {
				t.Fatal("continue_to_login_otp offered to a user without an authenticator app")
			}
			r = cl.act("webauthn_generate_request_options", nil)
			mustState(t, r, stateLoginPasskey, 200)
			first := r
			answers := []struct {
				name   string
				answer func() map[string]any
				status int
				code   string
			}{
				{"unknown authenticator", func() map[string]any { return newAuthenticator().get(t, testRP, cl.last) }, 401, "passkey_invalid"},
				{"another user's key", func() map[string]any { return oleKey.get(t, testRP, cl.last) }, 401, "passkey_invalid"},
				{"wrong origin", func() map[string]any {
					return key.get(t, virtualwebauthn.RelyingParty{ID: testRP.ID, Origin: "https://evil.example"}, cl.last)
				}, 401, "passkey_invalid"},
				{"replayed challenge", func() map[string]any { return key.get(t, testRP, first) }, 400, "form_data_invalid_error"},
			}
			for _, a := range answers {
				r = cl.act("webauthn_verify_assertion_response", map[string]any{"assertion_response": a.answer()})
				if r.Name != stateLoginPasskey || r.code != a.status || r.Error == nil || r.Error.Code != a.code {
					t.Fatalf("%s: %d %s", a.name, r.code, r.raw)
				}
				if _, ok := r.Payload["request_options"]; !ok {
					t.Fatalf("%s: no fresh request options: %s", a.name, r.raw)
				}
			}
			for _, body := range []string{`{`, `{"input_data":{"assertion_response":"not json"},"csrf_token":"` + cl.last.CSRFToken + `"}`} {
				r = postRaw(t, cl, "webauthn_verify_assertion_response", body)
				if r.code >= 500 || r.Error == nil {
					t.Fatalf("malformed %q: %d %s", body, r.code, r.raw)
				}
			}
			// Those were five attempts: the limit's window passes. The
			// key, then device_trust (skipped), then success.
			e.limitClock.Add(time.Minute)
			r = cl.act("webauthn_verify_assertion_response", map[string]any{"assertion_response": key.get(t, testRP, cl.last)})
			mustState(t, r, stateDeviceTrust, 200)
			r = cl.act("skip", nil)
			claims := checkSession(t, e, cl, r, AMRPassword)
			if amr, _ := claims.Extra["amr"].([]any); len(amr) != 2 || amr[1] != AMRSecurityKey {
				t.Fatalf("amr = %v", claims.Extra["amr"])
			}
			var last LastLoginJSON
			if err := json.Unmarshal(r.Payload["last_login"], &last); err != nil || last.LoginMethod != "password" || last.MFAMethod != "security_key" {
				t.Fatalf("last_login %s", r.Payload["last_login"])
			}
			sess, err := e.store.GetSession(context.Background(), claims.SessionID)
			if err != nil || sess.AAL != core.AAL2 || sess.Methods[len(sess.Methods)-1].Method != string(core.CredentialWebAuthn) {
				t.Fatalf("session %+v (%v), want aal2 by webauthn", sess, err)
			}

			// A passkey login skips the second factor.
			pk := newAuthenticator()
			pp := webauthnProfile(t, e, cl.bearer)
			r = pp.act("webauthn_credential_create", nil)
			mustState(t, r, stateWebauthnCredentialVerification, 200)
			mustState(t, pp.act("webauthn_verify_attestation_response", map[string]any{"public_key": pk.create(t, testRP, r)}), stateProfileInit, 200)
			viaPasskey := e.client(t)
			checkSession(t, e, viaPasskey, passkeyLogin(t, viaPasskey, pk), AMRPasskey)
			// ... and a security key cannot log in on its own.
			mfaOnly := e.client(t)
			wantFlowError(t, passkeyLogin(t, mfaOnly, key), stateLoginPasskey, 401, "webauthn_credential_invalid_mfa_only")

			// With an authenticator app as well, the key comes first and
			// either state switches to the other.
			secret := setUpOTP(t, e, profileClient(t, e, cl.bearer))
			both := e.client(t)
			r = loginWith(t, both, webauthnCaps, "kim@example.com", "kim's password")
			mustState(t, r, stateLoginSecurityKey, 200)
			r = both.act("continue_to_login_otp", nil)
			mustState(t, r, stateLoginOTP, 200)
			mustState(t, both.act("continue_to_login_security_key", nil), stateLoginSecurityKey, 200)
			mustState(t, both.act("continue_to_login_otp", nil), stateLoginOTP, 200)
			r = passOTP(t, both, otpCodeAt(t, secret, e.limitClock.Now().Add(30*time.Second)))
			checkSession(t, e, both, r, AMRPassword)

			// Deleting: another user's key or an unknown id is not found;
			// the last key goes with the session's claim to it.
			dp := webauthnProfile(t, e, cl.bearer)
			for _, id := range []string{encodeID(oleKey.cred.ID), "nope", encodeID(pk.cred.ID)} {
				wantFlowError(t, dp.act("security_key_delete", map[string]any{"security_key_id": id}), stateProfileInit, 404, "not_found")
			}
			r = dp.act("security_key_delete", map[string]any{"security_key_id": encodeID(key.cred.ID)})
			mustState(t, r, stateProfileInit, 200)
			if len(userSecurityKeys(t, r)) != 0 || len(userPasskeys(t, r)) != 1 {
				t.Fatalf("after delete: %s", r.Payload["user"])
			}
			sess, err = e.store.GetSession(context.Background(), claims.SessionID)
			if err != nil || sess.AAL != core.AAL1 || len(sess.Methods) != 1 {
				t.Fatalf("session after delete %+v (%v), want aal1 with one method", sess, err)
			}
			if amr := validatedAMR(t, e, cl.bearer); amr != AMRPassword {
				t.Fatalf("validate after removing the key: amr %s", amr)
			}
			if list, _ := e.store.ListWebAuthnCredentials(context.Background(), u.ID); len(securityKeysOf(list)) != 0 {
				t.Fatal("security key still stored")
			}
			// Only the authenticator app is left.
			again := e.client(t)
			mustState(t, loginWith(t, again, webauthnCaps, "kim@example.com", "kim's password"), stateLoginOTP, 200)
			if _, ok := again.last.Actions["continue_to_login_security_key"]; ok {
				t.Fatal("continue_to_login_security_key offered without a key")
			}
		})
	}
}

// TestSecurityKeyAttemptLimit: wrong assertions count like wrong OTP codes;
// past the limit even the right key answers 429 until the window passes.
func TestSecurityKeyAttemptLimit(t *testing.T) {
	t.Parallel()
	e := newSecurityKeyEnv(t, storetest.SQLite(t), nil)
	e.createUser(t, "lim@example.com", "lim's password")
	login := e.client(t)
	checkSession(t, e, login, loginWith(t, login, webauthnCaps, "lim@example.com", "lim's password"), AMRPassword)
	key := newAuthenticator()
	addSecurityKey(t, webauthnProfile(t, e, login.bearer), key)
	cl := e.client(t)
	mustState(t, loginWith(t, cl, webauthnCaps, "lim@example.com", "lim's password"), stateLoginSecurityKey, 200)
	mustState(t, cl.act("webauthn_generate_request_options", nil), stateLoginPasskey, 200)
	for i := 0; i < 5; i++ {
		wantFlowError(t, cl.act("webauthn_verify_assertion_response", map[string]any{"assertion_response": newAuthenticator().get(t, testRP, cl.last)}),
			stateLoginPasskey, 401, "passkey_invalid")
	}
	r := cl.act("webauthn_verify_assertion_response", map[string]any{"assertion_response": key.get(t, testRP, cl.last)})
	wantFlowError(t, r, stateLoginPasskey, 429, "rate_limit_exceeded")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	e.limitClock.Add(time.Minute)
	r = cl.act("webauthn_verify_assertion_response", map[string]any{"assertion_response": key.get(t, testRP, cl.last)})
	mustState(t, r, stateDeviceTrust, 200)
	claims := checkSession(t, e, cl, cl.act("skip", nil), AMRPassword)

	// Deleted through the admin API, the key takes the session's claim
	// to it along (aal1 again).
	admin := http.NewServeMux()
	e.h.MountAdmin(admin)
	rec := httptest.NewRecorder()
	admin.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/users/"+claims.Subject+"/webauthn_credentials/"+encodeID(key.cred.ID), nil))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("admin delete: %d %s", rec.Code, rec.Body.Bytes())
	}
	sess, err := e.store.GetSession(context.Background(), claims.SessionID)
	if err != nil || sess.AAL != core.AAL1 || len(sess.Methods) != 1 {
		t.Fatalf("session after the admin delete %+v (%v), want aal1 with one method", sess, err)
	}
}

// TestSecurityKeyOnboardingAndTrust: registration and login offer a
// security key in mfa_method_chooser (mfa_security_key_creation →
// onboarding_verify_passkey_attestation); a trusted device skips the key.
func TestSecurityKeyOnboardingAndTrust(t *testing.T) {
	t.Parallel()
	e := newSecurityKeyEnv(t, storetest.SQLite(t), func(c *config.Hanko) {
		c.Email.RequireVerification = false
		c.Privacy.ShowAccountExistenceHints = true
		c.Passkey.AcquireOnRegistration = "never"
		c.MFA.AcquireOnRegistration = true
		c.MFA.AcquireOnLogin = true
	})
	createKey := func(cl *client, a *authenticator) *flowResp {
		t.Helper()
		mustState(t, cl.last, stateMFAMethodChooser, 200)
		for _, name := range []string{"continue_to_otp_secret_creation", "continue_to_security_key_creation", "skip"} {
			if _, ok := cl.last.Actions[name]; !ok {
				t.Fatalf("mfa_method_chooser without %s: %s", name, cl.last.raw)
			}
		}
		mustState(t, cl.act("continue_to_security_key_creation", nil), stateMFASecurityKeyCreation, 200)
		r := cl.act("webauthn_generate_creation_options", nil)
		mustState(t, r, stateOnboardingVerifyPasskeyAttestaion, 200)
		wantFlowError(t, cl.act("webauthn_verify_attestation_response", map[string]any{"public_key": map[string]any{}}),
			stateOnboardingVerifyPasskeyAttestaion, 400, "form_data_invalid_error")
		return cl.act("webauthn_verify_attestation_response", map[string]any{"public_key": a.create(t, testRP, cl.last)})
	}

	// Registration: the key is stored with the user created at success.
	reg := e.client(t)
	mustState(t, reg.start("registration"), statePreflight, 200)
	reg.act("register_client_capabilities", webauthnCaps)
	mustState(t, reg.act("register_login_identifier", map[string]any{"email": "reg@example.com"}), statePasswordCreation, 200)
	reg.act("register_password", map[string]any{"new_password": "reg's password"})
	regKey := newAuthenticator()
	checkSession(t, e, reg, createKey(reg, regKey), AMRPassword)
	l := e.client(t)
	mustState(t, loginWith(t, l, webauthnCaps, "reg@example.com", "reg's password"), stateLoginSecurityKey, 200)

	// A client without WebAuthn is offered no security key.
	plain := e.createUser(t, "plain@example.com", "plain's password")
	nw := e.client(t)
	r := passwordLogin(t, nw, "plain@example.com", "plain's password")
	mustState(t, r, stateMFAMethodChooser, 200)
	if _, ok := r.Actions["continue_to_security_key_creation"]; ok {
		t.Fatal("continue_to_security_key_creation offered to a client without WebAuthn")
	}

	// Login acquires one; then the device is trusted at the next login.
	p := e.client(t)
	loginWith(t, p, webauthnCaps, "plain@example.com", "plain's password")
	key := newAuthenticator()
	checkSession(t, e, p, createKey(p, key), AMRPassword)
	if list, _ := e.store.ListWebAuthnCredentials(context.Background(), plain.ID); len(securityKeysOf(list)) != 1 {
		t.Fatalf("keys after onboarding: %+v", list)
	}
	tr := e.client(t)
	mustState(t, loginWith(t, tr, webauthnCaps, "plain@example.com", "plain's password"), stateLoginSecurityKey, 200)
	mustState(t, tr.act("webauthn_generate_request_options", nil), stateLoginPasskey, 200)
	mustState(t, tr.act("webauthn_verify_assertion_response", map[string]any{"assertion_response": key.get(t, testRP, tr.last)}), stateDeviceTrust, 200)
	checkSession(t, e, tr, tr.act("trust_device", nil), AMRPassword)
	next := e.client(t)
	next.cookies = tr.cookies
	claims := checkSession(t, e, next, loginWith(t, next, webauthnCaps, "plain@example.com", "plain's password"), AMRPassword)
	if amr, _ := claims.Extra["amr"].([]any); len(amr) != 1 {
		t.Fatalf("trusted device: amr = %v", amr)
	}

	// hanko-elements deletes a security key through
	// webauthn_credential_delete's button (offered for a user with only a
	// security key), running security_key_delete or, as Hanko accepts it,
	// webauthn_credential_delete with the key's id.
	pc := webauthnProfile(t, e, next.bearer)
	if _, ok := pc.last.Actions["webauthn_credential_delete"]; !ok {
		t.Fatalf("webauthn_credential_delete not offered to a user with a security key: %v", actionNames(pc.last))
	}
	r = pc.act("webauthn_credential_delete", map[string]any{"passkey_id": encodeID(key.cred.ID)})
	mustState(t, r, stateProfileInit, 200)
	if len(userSecurityKeys(t, r)) != 0 {
		t.Fatalf("after webauthn_credential_delete: %s", r.Payload["user"])
	}
	if _, ok := r.Actions["webauthn_credential_delete"]; ok {
		t.Fatal("webauthn_credential_delete offered without any credential")
	}
}

// TestSecurityKeysOff: with hanko.mfa.security_keys.enabled false (or no
// relying party) nothing offers a security key, and a key stored through
// the other face is not asked for.
func TestSecurityKeysOff(t *testing.T) {
	t.Parallel()
	for name, env := range map[string]func(t *testing.T) *fEnv{
		"disabled": func(t *testing.T) *fEnv {
			return newSecurityKeyEnv(t, storetest.SQLite(t), func(c *config.Hanko) { c.MFA.SecurityKeys.Enabled = false })
		},
		"no relying party": func(t *testing.T) *fEnv {
			return newFEnv(t, func(c *config.Hanko) { c.Email.UseForAuthentication = false })
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := env(t)
			u := e.createUser(t, "off@example.com", "off's password")
			now := e.limitClock.Now()
			if err := e.store.CreateWebAuthnCredential(context.Background(), &core.WebAuthnCredential{ID: "a2V5", IdentityID: u.ID,
				UserHandle: []byte("h"), PublicKey: []byte("k"), AttestationType: "none", MFAOnly: true, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			cl := e.client(t)
			checkSession(t, e, cl, loginWith(t, cl, webauthnCaps, "off@example.com", "off's password"), AMRPassword)
			pc := webauthnProfile(t, e, cl.bearer)
			if _, ok := pc.last.Actions["security_key_create"]; ok {
				t.Fatal("security_key_create offered")
			}
			if mc := mfaConfigOf(t, pc.last); mc.SecurityKeysEnabled {
				t.Fatalf("mfa_config %+v", mc)
			}
		})
	}
}

// TestSecurityKeyNotSkippedByCapabilities: with platform-only security keys,
// a client that reports no platform authenticator still meets the user's
// key (and no session) after the password: what a client says about itself
// never skips a second factor the user has.
func TestSecurityKeyNotSkippedByCapabilities(t *testing.T) {
	t.Parallel()
	e := newSecurityKeyEnv(t, storetest.SQLite(t), func(c *config.Hanko) { c.MFA.SecurityKeys.AuthenticatorAttachment = "platform" })
	u := e.createUser(t, "plat@example.com", "plat's password")
	now := e.limitClock.Now()
	if err := e.store.CreateWebAuthnCredential(context.Background(), &core.WebAuthnCredential{ID: "cGxhdA", IdentityID: u.ID,
		UserHandle: []byte("h"), PublicKey: []byte("k"), AttestationType: "none", MFAOnly: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, caps := range []map[string]any{webauthnCaps, {"webauthn_available": false,
		"webauthn_conditional_mediation_available": false, "webauthn_platform_authenticator_available": false}} {
		cl := e.client(t)
		r := loginWith(t, cl, caps, "plat@example.com", "plat's password")
		mustState(t, r, stateLoginSecurityKey, 200)
	}
}
