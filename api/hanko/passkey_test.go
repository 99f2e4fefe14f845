package hanko

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/latchkey/latchkey/api/hanko/hankotest"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/method/webauthn"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// The relying party of the passkey tests: a page on localhost:4433.
var testRP = virtualwebauthn.RelyingParty{ID: "localhost", Name: "Latchkey", Origin: "http://localhost:4433"}

// passkeyCaps are the capabilities of a browser with WebAuthn and
// conditional mediation.
var passkeyCaps = map[string]any{"webauthn_available": true,
	"webauthn_conditional_mediation_available": true, "webauthn_platform_authenticator_available": true}

// newPasskeyEnv is the Flow API with passkeys on st; mod may change the
// hanko config.
func newPasskeyEnv(t testing.TB, st store.Store, mod func(c *config.Hanko)) *fEnv {
	t.Helper()
	uv := ""
	if mod != nil {
		var hc config.Hanko
		mod(&hc)
		uv = hc.Passkey.UserVerification // as cmd/latchkey passes hanko.passkey.user_verification
	}
	m, err := webauthn.New(webauthn.Config{RPID: testRP.ID, RPDisplayName: testRP.Name, RPOrigins: []string{testRP.Origin},
		UserVerification: uv, NotFound: store.ErrNotFound, Conflict: store.ErrConflict})
	if err != nil {
		t.Fatal(err)
	}
	return newFEnvOn(t, st, mod, func(o *Options) { o.WebAuthn = m })
}

// authenticator is a virtual authenticator holding one passkey.
type authenticator struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newAuthenticator() *authenticator {
	a := &authenticator{auth: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{BackupEligible: true, BackupState: true})}
	for {
		// virtualwebauthn drops leading zeros of EC coordinates; a key
		// with a short coordinate is refused by every verifier: draw again.
		a.cred = virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2)
		if _, err := webauthncose.ParsePublicKey(a.cred.Key.AttestationData()); err == nil {
			return a
		}
	}
}

// create answers payload.creation_options like navigator.credentials.create.
func (a *authenticator) create(t *testing.T, rp virtualwebauthn.RelyingParty, r *flowResp) map[string]any {
	t.Helper()
	raw, ok := r.Payload["creation_options"]
	if !ok {
		t.Fatalf("no creation_options in %s: %s", r.Name, r.raw)
	}
	opts, err := virtualwebauthn.ParseAttestationOptions(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	a.auth.Options.UserHandle = []byte(opts.UserID)
	return asObject(t, virtualwebauthn.CreateAttestationResponse(rp, a.auth, a.cred, *opts))
}

// get answers payload.request_options like navigator.credentials.get.
func (a *authenticator) get(t *testing.T, rp virtualwebauthn.RelyingParty, r *flowResp) map[string]any {
	t.Helper()
	raw, ok := r.Payload["request_options"]
	if !ok {
		t.Fatalf("no request_options in %s: %s", r.Name, r.raw)
	}
	opts, err := virtualwebauthn.ParseAssertionOptions(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	return asObject(t, virtualwebauthn.CreateAssertionResponse(rp, a.auth, a.cred, *opts))
}

func asObject(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// wantFlowError fails unless r re-renders state with HTTP status and code.
func wantFlowError(t *testing.T, r *flowResp, state string, status int, code string) {
	t.Helper()
	if r.Name != state || r.code != status || r.Error == nil || r.Error.Code != code {
		t.Fatalf("got %s (%d) %s, want %s (%d) %s", r.Name, r.code, r.raw, state, status, code)
	}
}

// passkeyLogin runs a login with the "Sign in with a passkey" button.
func passkeyLogin(t *testing.T, cl *client, a *authenticator) *flowResp {
	t.Helper()
	mustState(t, cl.start("login"), statePreflight, 200)
	mustState(t, cl.act("register_client_capabilities", passkeyCaps), stateLoginInit, 200)
	r := cl.act("webauthn_generate_request_options", nil)
	mustState(t, r, stateLoginPasskey, 200)
	return cl.act("webauthn_verify_assertion_response", map[string]any{"assertion_response": a.get(t, testRP, r)})
}

func userPasskeys(t *testing.T, r *flowResp) []WebauthnCredentialJSON {
	t.Helper()
	var u ProfileJSON
	if err := json.Unmarshal(r.Payload["user"], &u); err != nil {
		t.Fatal(err)
	}
	return u.Passkeys
}

// TestFlowPasskeys runs every passkey ceremony of the Hanko face on every
// backend: onboarding after a password login, login by button and by
// conditional UI, the profile (create, rename, delete), passkey-only
// registration, the admin API, and the refusals.
func TestFlowPasskeys(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			t.Run("onboarding and login", func(t *testing.T) { testPasskeyOnboardingAndLogin(t, st) })
			t.Run("refusals", func(t *testing.T) { testPasskeyRefusals(t, st) })
			t.Run("profile", func(t *testing.T) { testPasskeyProfile(t, st) })
			t.Run("passkey-only registration", func(t *testing.T) { testPasskeyRegistration(t, st) })
		})
	}
}

func testPasskeyOnboardingAndLogin(t *testing.T, st store.Store) {
	e := newPasskeyEnv(t, st, func(c *config.Hanko) { c.Email.UseForAuthentication = false })
	u := e.createUser(t, "pia@example.com", "pia's password")
	a := newAuthenticator()

	// A password login of a user without a passkey is asked for one
	// (acquire_on_login always).
	cl := e.client(t)
	mustState(t, cl.start("login"), statePreflight, 200)
	mustState(t, cl.act("register_client_capabilities", passkeyCaps), stateLoginInit, 200)
	mustState(t, cl.act("continue_with_login_identifier", map[string]any{"email": "pia@example.com"}), stateLoginPassword, 200)
	r := cl.act("password_login", map[string]any{"password": "pia's password"})
	mustState(t, r, stateOnboardingCreatePasskey, 200)
	for _, want := range []string{"webauthn_generate_creation_options", "skip"} {
		if _, ok := r.Actions[want]; !ok {
			t.Fatalf("onboarding_create_passkey lacks %s: %v", want, actionNames(r))
		}
	}
	r = cl.act("webauthn_generate_creation_options", nil)
	mustState(t, r, stateOnboardingVerifyPasskeyAttestaion, 200)
	var creation struct {
		PublicKey struct {
			RP   struct{ ID string } `json:"rp"`
			User struct{ Name string }
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(r.Payload["creation_options"], &creation); err != nil || creation.PublicKey.RP.ID != "localhost" ||
		creation.PublicKey.User.Name != "pia@example.com" {
		t.Fatalf("creation_options = %s (%v)", r.Payload["creation_options"], err)
	}
	r = cl.act("webauthn_verify_attestation_response", map[string]any{"public_key": a.create(t, testRP, r)})
	checkSession(t, e, cl, r, AMRPassword)
	if pk := userPasskeys(t, r); len(pk) != 1 || pk[0].MFAOnly || pk[0].AttestationType != "packed" {
		t.Fatalf("passkeys after onboarding: %+v", pk)
	}

	// The button: login_init → login_passkey → success with amr passkey.
	cl = e.client(t)
	r = passkeyLogin(t, cl, a)
	c := checkSession(t, e, cl, r, AMRPasskey)
	if c.Subject != u.ID || !json.Valid(r.Payload["last_login"]) || string(r.Payload["last_login"]) != `{"login_method":"passkey"}` {
		t.Fatalf("passkey login: sub %s, last_login %s", c.Subject, r.Payload["last_login"])
	}
	// No onboarding for a user who has a passkey.

	// Conditional UI: login_init carries request options; the autofill
	// answer arrives on login_init.
	cl = e.client(t)
	mustState(t, cl.start("login"), statePreflight, 200)
	r = cl.act("register_client_capabilities", passkeyCaps)
	mustState(t, r, stateLoginInit, 200)
	var req struct {
		Mediation string `json:"mediation"`
		PublicKey struct {
			RPID string `json:"rpId"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(r.Payload["request_options"], &req); err != nil || req.Mediation != "conditional" || req.PublicKey.RPID != "localhost" {
		t.Fatalf("login_init request_options = %s (%v)", r.Payload["request_options"], err)
	}
	checkSession(t, e, cl, cl.act("webauthn_verify_assertion_response", map[string]any{"assertion_response": a.get(t, testRP, r)}), AMRPasskey)

	// Without conditional mediation there are no request options and no
	// conditional answer on login_init.
	cl = e.client(t)
	cl.start("login")
	r = cl.act("register_client_capabilities", map[string]any{"webauthn_available": true})
	if _, ok := r.Payload["request_options"]; ok {
		t.Errorf("request_options without conditional mediation: %s", r.raw)
	}
	if _, ok := r.Actions["webauthn_verify_assertion_response"]; ok {
		t.Errorf("webauthn_verify_assertion_response offered without a conditional ceremony")
	}
	// A browser without WebAuthn is offered no passkey action.
	cl = e.client(t)
	cl.start("login")
	r = cl.act("register_client_capabilities", capabilities)
	if _, ok := r.Actions["webauthn_generate_request_options"]; ok {
		t.Errorf("passkey login offered to a browser without WebAuthn")
	}

	// login_method_chooser offers the passkey of a known user (passcodes on).
	e2 := newPasskeyEnv(t, st, nil)
	cl = e2.client(t)
	cl.start("login")
	cl.act("register_client_capabilities", passkeyCaps)
	r = cl.act("continue_with_login_identifier", map[string]any{"email": "pia@example.com"})
	mustState(t, r, stateLoginMethodChooser, 200)
	r = cl.act("webauthn_generate_request_options", nil)
	mustState(t, r, stateLoginPasskey, 200)
	if err := json.Unmarshal(r.Payload["request_options"], &struct{}{}); err != nil || !json.Valid(r.Payload["request_options"]) {
		t.Fatal(err)
	}
	var allow struct {
		PublicKey struct {
			AllowCredentials []struct{ ID string } `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	_ = json.Unmarshal(r.Payload["request_options"], &allow)
	if len(allow.PublicKey.AllowCredentials) != 1 {
		t.Errorf("chooser's request options allow %d credentials, want the user's 1", len(allow.PublicKey.AllowCredentials))
	}
	checkSession(t, e2, cl, cl.act("webauthn_verify_assertion_response", map[string]any{"assertion_response": a.get(t, testRP, r)}), AMRPasskey)

	// /me lists the passkey.
	req2 := httptest.NewRequest(http.MethodGet, "/me", nil)
	req2.Header.Set("Authorization", "Bearer "+cl.bearer)
	rec := httptest.NewRecorder()
	e.public.ServeHTTP(rec, req2)
	var me ProfileJSON
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &me) != nil || len(me.Passkeys) != 1 {
		t.Fatalf("/me = %d %s", rec.Code, rec.Body.Bytes())
	}
	if err := hankotest.New(t, hankotest.Public).Check(req2, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
		t.Errorf("/me does not match openapi-public.yaml: %v", err)
	}

	// The admin API lists, shows and deletes it; then it signs in nowhere.
	adm := http.NewServeMux()
	e.h.MountAdmin(adm)
	admV := hankotest.New(t, hankotest.Admin)
	call := func(method, path string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, path, nil)
		rec := httptest.NewRecorder()
		adm.ServeHTTP(rec, req)
		if err := admV.Check(req, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Errorf("%s %s does not match openapi-admin.yaml: %v", method, path, err)
		}
		return rec
	}
	rec = call(http.MethodGet, "/users/"+u.ID+"/webauthn_credentials")
	var list []WebauthnCredentialJSON
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &list) != nil || len(list) != 1 {
		t.Fatalf("admin list = %d %s", rec.Code, rec.Body.Bytes())
	}
	if rec = call(http.MethodGet, "/users/"+u.ID+"/webauthn_credentials/"+list[0].ID); rec.Code != 200 {
		t.Fatalf("admin get = %d %s", rec.Code, rec.Body.Bytes())
	}
	other := e.createUser(t, "otto@example.com", "")
	if rec = call(http.MethodDelete, "/users/"+other.ID+"/webauthn_credentials/"+list[0].ID); rec.Code != 404 {
		t.Fatalf("admin delete through another user = %d %s", rec.Code, rec.Body.Bytes())
	}
	if rec = call(http.MethodDelete, "/users/"+u.ID+"/webauthn_credentials/"+list[0].ID); rec.Code != 204 {
		t.Fatalf("admin delete = %d %s", rec.Code, rec.Body.Bytes())
	}
	if rec = call(http.MethodGet, "/users/"+u.ID+"/webauthn_credentials/"+list[0].ID); rec.Code != 404 {
		t.Fatalf("admin get after delete = %d %s", rec.Code, rec.Body.Bytes())
	}
	if rec = call(http.MethodDelete, "/users/"+u.ID+"/webauthn_credentials/"+list[0].ID); rec.Code != 404 {
		t.Fatalf("admin delete again = %d %s", rec.Code, rec.Body.Bytes())
	}
	cl = e.client(t)
	wantFlowError(t, passkeyLogin(t, cl, a), stateLoginPasskey, 401, "passkey_invalid")
}

func testPasskeyRefusals(t *testing.T, st store.Store) {
	e := newPasskeyEnv(t, st, func(c *config.Hanko) { c.Email.UseForAuthentication = false })
	u := e.createUser(t, "rita@example.com", "rita's password")
	a := newAuthenticator()
	// Give rita a passkey through the profile.
	login := e.client(t)
	checkSession(t, e, login, passwordLogin(t, login, "rita@example.com", "rita's password"), AMRPassword)
	p := e.client(t)
	p.bearer = login.bearer
	p.start("profile")
	p.act("register_client_capabilities", passkeyCaps)
	r := p.act("webauthn_credential_create", nil)
	mustState(t, r, stateWebauthnCredentialVerification, 200)
	mustState(t, p.act("webauthn_verify_attestation_response", map[string]any{"public_key": a.create(t, testRP, r)}), stateProfileInit, 200)

	// An earlier assertion, replayed in a new flow.
	first := e.client(t)
	checkSession(t, e, first, passkeyLogin(t, first, a), AMRPasskey)
	replayed := first.last // the success; take the answer from a fresh ceremony below
	_ = replayed
	cl := e.client(t)
	cl.start("login")
	cl.act("register_client_capabilities", passkeyCaps)
	r = cl.act("webauthn_generate_request_options", nil)
	old := a.get(t, testRP, r)
	checkSession(t, e, cl, cl.act("webauthn_verify_assertion_response", map[string]any{"assertion_response": old}), AMRPasskey)

	forged := &authenticator{auth: a.auth, cred: newAuthenticator().cred}
	forged.cred.ID = a.cred.ID
	unknown := newAuthenticator()
	unknown.auth.Options.UserHandle = a.auth.Options.UserHandle
	mfa := newAuthenticator()
	m := e.h.wa
	opts, sess, err := m.BeginRegistration(context.Background(), st, webauthn.User{IdentityID: u.ID, Name: "rita"}, webauthn.RegistrationOptions{MFAOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	optsParsed, _ := virtualwebauthn.ParseAttestationOptions(string(opts))
	mfa.auth.Options.UserHandle = []byte(optsParsed.UserID)
	if _, err := m.FinishRegistration(context.Background(), st, sess, webauthn.User{IdentityID: u.ID},
		[]byte(virtualwebauthn.CreateAttestationResponse(testRP, mfa.auth, mfa.cred, *optsParsed)), ""); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		answer func(r *flowResp) any
		status int
		code   string
	}{
		{"replayed assertion", func(*flowResp) any { return old }, 400, "form_data_invalid_error"},
		{"wrong origin", func(r *flowResp) any {
			return a.get(t, virtualwebauthn.RelyingParty{ID: testRP.ID, Origin: "https://evil.example"}, r)
		}, 401, "passkey_invalid"},
		{"wrong RP id hash", func(r *flowResp) any {
			return a.get(t, virtualwebauthn.RelyingParty{ID: "evil.example", Origin: testRP.Origin}, r)
		}, 401, "passkey_invalid"},
		{"forged signature", func(r *flowResp) any { return forged.get(t, testRP, r) }, 401, "passkey_invalid"},
		{"unknown credential", func(r *flowResp) any { return unknown.get(t, testRP, r) }, 401, "passkey_invalid"},
		{"security key as passkey", func(r *flowResp) any { return mfa.get(t, testRP, r) }, 401, "webauthn_credential_invalid_mfa_only"},
		{"not a credential", func(*flowResp) any { return map[string]any{"id": "x", "type": "public-key"} }, 400, "form_data_invalid_error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := e.client(t)
			cl.start("login")
			cl.act("register_client_capabilities", passkeyCaps)
			r := cl.act("webauthn_generate_request_options", nil)
			r = cl.act("webauthn_verify_assertion_response", map[string]any{"assertion_response": tc.answer(r)})
			wantFlowError(t, r, stateLoginPasskey, tc.status, tc.code)
			// The failed ceremony is spent; fresh options let the user retry.
			checkSession(t, e, cl, cl.act("webauthn_verify_assertion_response", map[string]any{"assertion_response": a.get(t, testRP, r)}), AMRPasskey)
		})
	}

	// A challenge from another flow.
	flowA, flowB := e.client(t), e.client(t)
	for _, c := range []*client{flowA, flowB} {
		c.start("login")
		c.act("register_client_capabilities", passkeyCaps)
		c.act("webauthn_generate_request_options", nil)
	}
	r = flowB.act("webauthn_verify_assertion_response", map[string]any{"assertion_response": a.get(t, testRP, flowA.last)})
	wantFlowError(t, r, stateLoginPasskey, 400, "form_data_invalid_error")

	// The same answer twice in one flow: the second finds no ceremony.
	cl = e.client(t)
	cl.start("login")
	r = cl.act("register_client_capabilities", passkeyCaps)
	answer := a.get(t, testRP, r)
	checkSession(t, e, cl, cl.act("webauthn_verify_assertion_response", map[string]any{"assertion_response": answer}), AMRPasskey)

	// A signature counter that goes backwards: refused, and the passkey is
	// flagged.
	a.cred.Counter = 7
	cl = e.client(t)
	checkSession(t, e, cl, passkeyLogin(t, cl, a), AMRPasskey)
	a.cred.Counter = 3
	wantFlowError(t, passkeyLogin(t, e.client(t), a), stateLoginPasskey, 401, "passkey_invalid")
	if c, err := st.GetWebAuthnCredential(context.Background(), encodeID(a.cred.ID)); err != nil || !c.CloneWarning || c.SignCount != 7 {
		t.Fatalf("after a counter regression: %+v, %v", c, err)
	}
	a.cred.Counter = 8
	cl = e.client(t)
	checkSession(t, e, cl, passkeyLogin(t, cl, a), AMRPasskey)

	// Registration of a credential that exists already.
	p.last = nil
	p.start("profile")
	p.act("register_client_capabilities", passkeyCaps)
	r = p.act("webauthn_credential_create", nil)
	r = p.act("webauthn_verify_attestation_response", map[string]any{"public_key": a.create(t, testRP, r)})
	wantFlowError(t, r, stateWebauthnCredentialVerification, 400, "webauthn_credential_already_exists")
}

func testPasskeyProfile(t *testing.T, st store.Store) {
	e := newPasskeyEnv(t, st, func(c *config.Hanko) { c.Email.UseForAuthentication = false; c.Passkey.Limit = 2 })
	e.createUser(t, "paul@example.com", "paul's password")
	login := e.client(t)
	checkSession(t, e, login, passwordLogin(t, login, "paul@example.com", "paul's password"), AMRPassword)
	p := e.client(t)
	p.bearer = login.bearer
	p.start("profile")
	r := p.act("register_client_capabilities", passkeyCaps)
	mustState(t, r, stateProfileInit, 200)
	for _, absent := range []string{"webauthn_credential_rename", "webauthn_credential_delete"} {
		if _, ok := r.Actions[absent]; ok {
			t.Errorf("%s offered to a user without passkeys", absent)
		}
	}
	keys := []*authenticator{newAuthenticator(), newAuthenticator()}
	for n, a := range keys {
		r = p.act("webauthn_credential_create", nil)
		mustState(t, r, stateWebauthnCredentialVerification, 200)
		r = p.act("webauthn_verify_attestation_response", map[string]any{"public_key": a.create(t, testRP, r)})
		mustState(t, r, stateProfileInit, 200)
		if got := len(userPasskeys(t, r)); got != n+1 {
			t.Fatalf("after creating passkey %d: %d passkeys", n+1, got)
		}
	}
	if _, ok := r.Actions["webauthn_credential_create"]; ok {
		t.Error("webauthn_credential_create offered at hanko.passkey.limit")
	}
	pk := userPasskeys(t, r)
	r = p.act("webauthn_credential_rename", map[string]any{"passkey_id": pk[0].ID, "passkey_name": "Laptop"})
	mustState(t, r, stateProfileInit, 200)
	if got := userPasskeys(t, r); got[0].Name != "Laptop" {
		t.Fatalf("renamed: %+v", got[0])
	}
	r = p.act("webauthn_credential_rename", map[string]any{"passkey_id": "not-a-passkey", "passkey_name": "x"})
	mustState(t, r, stateProfileInit, 400)
	if got := inputError(r, "webauthn_credential_rename", "passkey_id"); got != "value_invalid_error" {
		t.Errorf("rename of an unknown passkey: %q", got)
	}
	r = p.act("webauthn_credential_delete", map[string]any{"passkey_id": pk[0].ID})
	mustState(t, r, stateProfileInit, 200)
	if got := userPasskeys(t, r); len(got) != 1 || got[0].ID != pk[1].ID {
		t.Fatalf("after delete: %+v", got)
	}
	// The deleted one signs in nowhere; the other does.
	wantFlowError(t, passkeyLogin(t, e.client(t), keys[0]), stateLoginPasskey, 401, "passkey_invalid")
	cl := e.client(t)
	checkSession(t, e, cl, passkeyLogin(t, cl, keys[1]), AMRPasskey)
}

func testPasskeyRegistration(t *testing.T, st store.Store) {
	e := newPasskeyEnv(t, st, nil)
	a := newAuthenticator()
	cl := e.client(t)
	mustState(t, cl.start("registration"), statePreflight, 200)
	mustState(t, cl.act("register_client_capabilities", passkeyCaps), stateRegistrationInit, 200)
	mustState(t, cl.act("register_login_identifier", map[string]any{"email": "nora@example.com"}), statePasscodeConfirmation, 200)
	code, _ := e.lastCode(t, "nora@example.com")
	r := cl.act("verify_passcode", map[string]any{"code": code})
	mustState(t, r, stateOnboardingCreatePasskey, 200)
	r = cl.act("webauthn_generate_creation_options", nil)
	mustState(t, r, stateOnboardingVerifyPasskeyAttestaion, 200)
	r = cl.act("webauthn_verify_attestation_response", map[string]any{"public_key": a.create(t, testRP, r)})
	mustState(t, r, statePasswordCreation, 200)
	r = cl.act("skip", nil)
	c := checkSession(t, e, cl, r, AMRPasskey)
	i, err := e.ids.Get(context.Background(), c.Subject)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := i.Credential(core.CredentialPassword); ok && passwordJSON(i) != nil {
		t.Error("passkey-only account has a password")
	}
	if pk := userPasskeys(t, r); len(pk) != 1 {
		t.Fatalf("registered passkeys: %+v", pk)
	}
	// Passcodes to the verified address still log the user in, so the only
	// passkey may go; with passcodes off it may not.
	p := e.client(t)
	p.bearer = cl.bearer
	mustState(t, p.start("profile"), statePreflight, 200)
	if r := p.act("register_client_capabilities", passkeyCaps); r.Actions["webauthn_credential_delete"].Href == "" {
		t.Errorf("webauthn_credential_delete not offered to a passkey user who can log in by passcode: %v", actionNames(r))
	}
	locked := newPasskeyEnv(t, st, func(c *config.Hanko) { c.Email.UseForAuthentication = false })
	lp := locked.client(t)
	lp.bearer = cl.bearer
	mustState(t, lp.start("profile"), statePreflight, 200)
	if r := lp.act("register_client_capabilities", passkeyCaps); r.Name != stateProfileInit || r.Actions["webauthn_credential_delete"].Href != "" {
		t.Errorf("the last way to log in may be deleted: %v", actionNames(r))
	}
	login := e.client(t)
	if got := checkSession(t, e, login, passkeyLogin(t, login, a), AMRPasskey); got.Subject != i.ID {
		t.Fatalf("passkey login of the new account: sub %s, want %s", got.Subject, i.ID)
	}
}

// TestPasskeyOnboardingModes: hanko.passkey/password acquire_on_login
// decide the credential onboarding after a login, as Hanko's
// ScheduleOnboardingStates, and a skip of one credential leads to the other
// when that one is "conditional".
func TestPasskeyOnboardingModes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		passkey, pw string
		password    bool     // the user has a password (logs in with it; else by passcode)
		want        []string // states after the login, skipping each
	}{
		{"passkey always", "always", "never", true, []string{stateOnboardingCreatePasskey, stateSuccess}},
		{"passkey never", "never", "never", true, []string{stateSuccess}},
		{"passkey conditional, user has a password", "conditional", "never", true, []string{stateSuccess}},
		{"both conditional, no credential", "conditional", "conditional", false, []string{stateCredentialOnboardingChooser, stateSuccess}},
		{"passkey always, password conditional", "always", "conditional", false, []string{stateOnboardingCreatePasskey, statePasswordCreation, stateSuccess}},
		{"passkey conditional, password always", "conditional", "always", false, []string{statePasswordCreation, stateOnboardingCreatePasskey, stateSuccess}},
		{"both always, no credential", "always", "always", false, []string{stateOnboardingCreatePasskey, statePasswordCreation, stateSuccess}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newPasskeyEnv(t, storetest.SQLite(t), func(c *config.Hanko) {
				c.Passkey.AcquireOnLogin, c.Password.AcquireOnLogin = tc.passkey, tc.pw
				c.Email.UseForAuthentication = !tc.password
			})
			pw := ""
			if tc.password {
				pw = "a password for the modes"
			}
			e.createUser(t, "mode@example.com", pw)
			cl := e.client(t)
			cl.start("login")
			cl.act("register_client_capabilities", passkeyCaps)
			r := cl.act("continue_with_login_identifier", map[string]any{"email": "mode@example.com"})
			if tc.password {
				r = cl.act("password_login", map[string]any{"password": pw})
			} else {
				if r.Name == stateLoginMethodChooser {
					r = cl.act("continue_to_passcode_confirmation", nil)
				}
				mustState(t, r, statePasscodeConfirmation, 200)
				code, _ := e.lastCode(t, "mode@example.com")
				r = cl.act("verify_passcode", map[string]any{"code": code})
			}
			var got []string
			for {
				got = append(got, r.Name)
				if r.Name == stateSuccess || len(got) > 5 {
					break
				}
				r = cl.act("skip", nil)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("states %v, want %v", got, tc.want)
			}
		})
	}
}

func encodeID(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }

// TestPasskeyUserVerificationRequired: with hanko.passkey.user_verification
// required, an authenticator that did not verify the user neither creates
// nor uses a passkey.
func TestPasskeyUserVerificationRequired(t *testing.T) {
	t.Parallel()
	e := newPasskeyEnv(t, storetest.SQLite(t), func(c *config.Hanko) {
		c.Email.UseForAuthentication = false
		c.Passkey.UserVerification = "required"
	})
	e.createUser(t, "uv@example.com", "uv's password")
	a := newAuthenticator()
	login := e.client(t)
	checkSession(t, e, login, passwordLogin(t, login, "uv@example.com", "uv's password"), AMRPassword)
	p := e.client(t)
	p.bearer = login.bearer
	p.start("profile")
	p.act("register_client_capabilities", passkeyCaps)
	r := p.act("webauthn_credential_create", nil)
	if !strings.Contains(string(r.Payload["creation_options"]), `"userVerification":"required"`) {
		t.Fatalf("creation options do not require user verification: %s", r.Payload["creation_options"])
	}
	a.auth.Options.UserNotVerified = true
	wantFlowError(t, p.act("webauthn_verify_attestation_response", map[string]any{"public_key": a.create(t, testRP, p.last)}),
		stateWebauthnCredentialVerification, 401, "passkey_invalid")
	a.auth.Options.UserNotVerified = false
	mustState(t, p.act("webauthn_verify_attestation_response", map[string]any{"public_key": a.create(t, testRP, p.last)}), stateProfileInit, 200)
	a.auth.Options.UserNotVerified = true
	wantFlowError(t, passkeyLogin(t, e.client(t), a), stateLoginPasskey, 401, "passkey_invalid")
}
