package hanko

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store/storetest"
)

func otpCodeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := pqtotp.GenerateCodeCustom(secret, at, pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// profileClient opens the profile of the session bearer holds.
func profileClient(t *testing.T, e *fEnv, bearer string) *client {
	t.Helper()
	cl := e.client(t)
	cl.bearer = bearer
	mustState(t, cl.start("profile"), statePreflight, 200)
	mustState(t, cl.act("register_client_capabilities", map[string]any{"webauthn_available": false}), stateProfileInit, 200)
	return cl
}

func mfaConfigOf(t *testing.T, r *flowResp) MFAConfigJSON {
	t.Helper()
	var u ProfileJSON
	if err := json.Unmarshal(r.Payload["user"], &u); err != nil {
		t.Fatalf("user payload %s: %v", r.Payload["user"], err)
	}
	return u.MFAConfig
}

// setUpOTP runs the profile's TOTP setup (a wrong code first) and returns
// the secret; the enrollment code is of the clock's current step.
func setUpOTP(t *testing.T, e *fEnv, cl *client) string {
	t.Helper()
	r := cl.act("continue_to_otp_secret_creation", nil)
	mustState(t, r, stateMFAOTPSecretCreation, 200)
	var secret, img string
	_ = json.Unmarshal(r.Payload["otp_secret"], &secret)
	_ = json.Unmarshal(r.Payload["otp_image_source"], &img)
	if secret == "" || !strings.HasPrefix(img, "data:image/png;base64,") {
		t.Fatalf("payload %s", r.raw)
	}
	r = cl.act("otp_code_verify", map[string]any{"otp_code": "000000"})
	mustState(t, r, stateMFAOTPSecretCreation, 400)
	if inputError(r, "otp_code_verify", "otp_code") != codePasscodeInvalid {
		t.Fatalf("wrong setup code: %s", r.raw)
	}
	var again string
	_ = json.Unmarshal(r.Payload["otp_secret"], &again)
	if again != secret {
		t.Fatalf("the offered secret changed on a wrong code")
	}
	r = cl.act("otp_code_verify", map[string]any{"otp_code": otpCodeAt(t, secret, e.limitClock.Now())})
	mustState(t, r, stateProfileInit, 200)
	if mc := mfaConfigOf(t, r); !mc.AuthAppSetUp || !mc.TOTPEnabled || mc.SecurityKeysEnabled != e.h.skOn() {
		t.Fatalf("mfa_config after setup: %+v", mc)
	}
	if _, ok := r.Actions["continue_to_otp_secret_creation"]; ok {
		t.Fatal("continue_to_otp_secret_creation offered with an OTP secret set up")
	}
	return secret
}

// passOTP validates a right code in login_otp, meets device_trust (the
// default policy prompts) and skips it, as a user who does not trust the
// device; it returns the response to skip.
func passOTP(t *testing.T, cl *client, code string) *flowResp {
	t.Helper()
	r := cl.act("otp_code_validate", map[string]any{"otp_code": code})
	mustState(t, r, stateDeviceTrust, 200)
	for _, a := range []string{"trust_device", "skip"} {
		if _, ok := r.Actions[a]; !ok {
			t.Fatalf("device_trust without %s: %s", a, r.raw)
		}
	}
	return cl.act("skip", nil)
}

func TestFlowMFATOTP(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newFEnvOn(t, open(t), func(c *config.Hanko) { c.Email.UseForAuthentication = false }, nil)
			u := e.createUser(t, "otto@example.com", "otto's password")
			login := e.client(t)
			checkSession(t, e, login, passwordLogin(t, login, "otto@example.com", "otto's password"), AMRPassword)
			secret := setUpOTP(t, e, profileClient(t, e, login.bearer))
			enrollment := otpCodeAt(t, secret, e.limitClock.Now())

			// A password login now asks for the code.
			cl := e.client(t)
			r := passwordLogin(t, cl, "otto@example.com", "otto's password")
			mustState(t, r, stateLoginOTP, 200)
			r = cl.act("otp_code_validate", map[string]any{"otp_code": "123456"})
			mustState(t, r, stateLoginOTP, 400)
			if r.Error == nil || r.Error.Code != codePasscodeInvalid || inputError(r, "otp_code_validate", "otp_code") != codePasscodeInvalid {
				t.Fatalf("wrong code: %s", r.raw)
			}
			// The code used at setup is refused (once per code).
			r = cl.act("otp_code_validate", map[string]any{"otp_code": enrollment})
			mustState(t, r, stateLoginOTP, 400)
			if r.Error == nil || r.Error.Code != "form_data_invalid_error" {
				t.Fatalf("replayed code: %s", r.raw)
			}
			// A code two steps old is outside the window.
			mustState(t, cl.act("otp_code_validate", map[string]any{"otp_code": otpCodeAt(t, secret, e.limitClock.Now().Add(-90*time.Second))}), stateLoginOTP, 400)
			next := otpCodeAt(t, secret, e.limitClock.Now().Add(30*time.Second))
			r = passOTP(t, cl, next)
			claims := checkSession(t, e, cl, r, AMRPassword)
			if _, ok := cl.cookies[e.h.cfg.MFA.DeviceTrustCookieName]; ok {
				t.Fatal("skip in device_trust set the device-trust cookie")
			}
			if amr, _ := claims.Extra["amr"].([]any); len(amr) != 2 || amr[1] != AMRTOTP {
				t.Fatalf("amr = %v", claims.Extra["amr"])
			}
			sess, err := e.store.GetSession(context.Background(), claims.SessionID)
			if err != nil || sess.AAL != core.AAL2 {
				t.Fatalf("session %+v (%v), want aal2", sess, err)
			}

			// The same code in another login is refused.
			again := e.client(t)
			mustState(t, passwordLogin(t, again, "otto@example.com", "otto's password"), stateLoginOTP, 200)
			mustState(t, again.act("otp_code_validate", map[string]any{"otp_code": next}), stateLoginOTP, 400)

			// Deleting the secret: no more login_otp, and no session keeps
			// claiming it.
			pc := profileClient(t, e, cl.bearer)
			r = pc.act("otp_secret_delete", nil)
			mustState(t, r, stateProfileInit, 200)
			if mc := mfaConfigOf(t, r); mc.AuthAppSetUp {
				t.Fatalf("mfa_config after delete: %+v", mc)
			}
			sess, err = e.store.GetSession(context.Background(), claims.SessionID)
			if err != nil || sess.AAL != core.AAL1 || len(sess.Methods) != 1 {
				t.Fatalf("session after delete %+v (%v), want aal1 with one method", sess, err)
			}
			if i, _ := e.ids.Get(context.Background(), u.ID); hasOTP(i) {
				t.Fatal("OTP credential still stored")
			}
			// /sessions/validate reports the session as it now stands.
			if amr := validatedAMR(t, e, cl.bearer); amr != AMRPassword {
				t.Fatalf("validate after removing the factor: amr %s", amr)
			}
			last := e.client(t)
			checkSession(t, e, last, passwordLogin(t, last, "otto@example.com", "otto's password"), AMRPassword)
		})
	}
}

// validatedAMR returns the amr POST /sessions/validate reports for token
// (comma-separated), failing unless the session is valid.
func validatedAMR(t *testing.T, e *fEnv, token string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	e.public.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/sessions/validate",
		strings.NewReader(`{"session_token":"`+token+`"}`)))
	var v struct {
		IsValid bool `json:"is_valid"`
		Claims  struct {
			AMR []string `json:"amr"`
		} `json:"claims"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || !v.IsValid {
		t.Fatalf("validate: %d %s", rec.Code, rec.Body.Bytes())
	}
	return strings.Join(v.Claims.AMR, ",")
}

func TestFlowMFAAttemptLimit(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, func(c *config.Hanko) { c.Email.UseForAuthentication = false })
	e.createUser(t, "lim@example.com", "lim's password")
	login := e.client(t)
	checkSession(t, e, login, passwordLogin(t, login, "lim@example.com", "lim's password"), AMRPassword)
	secret := setUpOTP(t, e, profileClient(t, e, login.bearer))
	cl := e.client(t)
	mustState(t, passwordLogin(t, cl, "lim@example.com", "lim's password"), stateLoginOTP, 200)
	for i := 0; i < 5; i++ {
		mustState(t, cl.act("otp_code_validate", map[string]any{"otp_code": "000000"}), stateLoginOTP, 400)
	}
	r := cl.act("otp_code_validate", map[string]any{"otp_code": otpCodeAt(t, secret, e.limitClock.Now().Add(30*time.Second))})
	mustState(t, r, stateLoginOTP, 429)
	if r.Error == nil || r.Error.Code != "rate_limit_exceeded" {
		t.Fatalf("after the limit: %s", r.raw)
	}
	e.limitClock.Add(time.Minute)
	checkSession(t, e, cl, passOTP(t, cl, otpCodeAt(t, secret, e.limitClock.Now())), AMRPassword)
}

func TestFlowMFAOnboarding(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, func(c *config.Hanko) {
		c.Email.RequireVerification = false
		c.Privacy.ShowAccountExistenceHints = true
		c.MFA.AcquireOnRegistration = true
		c.MFA.AcquireOnLogin = true
	})
	// Registration offers a second factor; the key is stored with the user.
	cl := e.client(t)
	mustState(t, cl.start("registration"), statePreflight, 200)
	cl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
	mustState(t, cl.act("register_login_identifier", map[string]any{"email": "reg@example.com"}), statePasswordCreation, 200)
	mustState(t, cl.act("register_password", map[string]any{"new_password": "reg's password"}), stateMFAMethodChooser, 200)
	r := cl.act("continue_to_otp_secret_creation", nil)
	mustState(t, r, stateMFAOTPSecretCreation, 200)
	var secret string
	_ = json.Unmarshal(r.Payload["otp_secret"], &secret)
	checkSession(t, e, cl, cl.act("otp_code_verify", map[string]any{"otp_code": otpCodeAt(t, secret, e.limitClock.Now())}), AMRPassword)
	l := e.client(t)
	mustState(t, passwordLogin(t, l, "reg@example.com", "reg's password"), stateLoginOTP, 200)
	checkSession(t, e, l, passOTP(t, l, otpCodeAt(t, secret, e.limitClock.Now().Add(30*time.Second))), AMRPassword)

	// Login of a user without a second factor offers one; skip goes on.
	e.createUser(t, "plain@example.com", "plain's password")
	p := e.client(t)
	mustState(t, passwordLogin(t, p, "plain@example.com", "plain's password"), stateMFAMethodChooser, 200)
	checkSession(t, e, p, p.act("skip", nil), AMRPassword)
}

// TestFlowMFARequired covers hanko.mfa.optional: false. Registration and
// login of a user without a second factor reach mfa_method_chooser without
// skip (a forged skip is refused) and get a session only once one is set
// up; a client that can be offered no method is refused with
// platform_authenticator_required and gets no session.
func TestFlowMFARequired(t *testing.T) {
	t.Parallel()
	required := func(totp bool) func(c *config.Hanko) {
		return func(c *config.Hanko) {
			c.Email.RequireVerification = false
			c.Privacy.ShowAccountExistenceHints = true
			c.MFA.Optional = false
			c.MFA.AcquireOnRegistration = true
			c.MFA.AcquireOnLogin = true
			c.MFA.TOTP.Enabled = totp
		}
	}
	noSkip := func(t *testing.T, cl *client) {
		t.Helper()
		chooser := cl.last
		if _, ok := chooser.Actions["skip"]; ok {
			t.Fatalf("mfa_method_chooser offers skip though a second factor is required: %v", actionNames(chooser))
		}
		a := chooser.Actions["continue_to_otp_secret_creation"]
		body, _ := json.Marshal(map[string]any{"input_data": map[string]any{}, "csrf_token": chooser.CSRFToken})
		r := cl.post(strings.Replace(a.Href, "continue_to_otp_secret_creation", "skip", 1), body)
		if r.Name == stateSuccess || r.Error == nil || r.code < 400 || r.code >= 500 {
			t.Fatalf("forged skip: %d %s", r.code, r.raw)
		}
		cl.last = chooser
	}

	e := newFEnv(t, required(true))
	cl := e.client(t)
	mustState(t, cl.start("registration"), statePreflight, 200)
	cl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
	mustState(t, cl.act("register_login_identifier", map[string]any{"email": "reg@example.com"}), statePasswordCreation, 200)
	mustState(t, cl.act("register_password", map[string]any{"new_password": "reg's password"}), stateMFAMethodChooser, 200)
	noSkip(t, cl)
	r := cl.act("continue_to_otp_secret_creation", nil)
	mustState(t, r, stateMFAOTPSecretCreation, 200)
	var secret string
	_ = json.Unmarshal(r.Payload["otp_secret"], &secret)
	checkSession(t, e, cl, cl.act("otp_code_verify", map[string]any{"otp_code": otpCodeAt(t, secret, e.limitClock.Now())}), AMRPassword)

	e.createUser(t, "plain@example.com", "plain's password")
	p := e.client(t)
	mustState(t, passwordLogin(t, p, "plain@example.com", "plain's password"), stateMFAMethodChooser, 200)
	noSkip(t, p)
	r = p.act("continue_to_otp_secret_creation", nil)
	mustState(t, r, stateMFAOTPSecretCreation, 200)
	_ = json.Unmarshal(r.Payload["otp_secret"], &secret)
	checkSession(t, e, p, p.act("otp_code_verify", map[string]any{"otp_code": otpCodeAt(t, secret, e.limitClock.Now())}), AMRPassword)
	// The next login asks for the code it set up.
	l := e.client(t)
	mustState(t, passwordLogin(t, l, "plain@example.com", "plain's password"), stateLoginOTP, 200)

	// Authenticator apps off and no WebAuthn on the client: nothing can be
	// set up, so neither registration nor login goes on.
	n := newFEnv(t, required(false))
	rc := n.client(t)
	mustState(t, rc.start("registration"), statePreflight, 200)
	rc.act("register_client_capabilities", map[string]any{"webauthn_available": false})
	r = rc.act("register_login_identifier", map[string]any{"email": "none@example.com"})
	mustState(t, r, stateRegistrationInit, 401)
	if r.Error == nil || r.Error.Code != "platform_authenticator_required" {
		t.Fatalf("registration without a usable second factor: %s", r.raw)
	}
	n.createUser(t, "nokey@example.com", "nokey's password")
	lc := n.client(t)
	r = passwordLogin(t, lc, "nokey@example.com", "nokey's password")
	mustState(t, r, stateLoginPassword, 401)
	if r.Error == nil || r.Error.Code != "platform_authenticator_required" {
		t.Fatalf("login without a usable second factor: %s", r.raw)
	}
}
