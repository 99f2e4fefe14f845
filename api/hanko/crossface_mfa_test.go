package hanko_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/api/hanko"
	"github.com/latchkey/latchkey/method/totp"
	"github.com/latchkey/latchkey/store/storetest"
)

// stepClock is a settable clock for the TOTP method both faces share.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := pqtotp.GenerateCodeCustom(secret, at, pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// flowAs drives a Hanko flow with a session JWT (the profile).
type flowAs struct {
	t      *testing.T
	f      *faces
	bearer string
	last   map[string]any
	code   int
}

func (fl *flowAs) post(path string, body any) string {
	fl.t.Helper()
	r := call(fl.t, fl.f.hankoPub, nil, "POST", path, body, "Authorization: Bearer "+fl.bearer)
	fl.code = r.code
	fl.last = r.json(fl.t)
	name, _ := fl.last["name"].(string)
	return name
}

func (fl *flowAs) act(action string, input map[string]any) string {
	fl.t.Helper()
	a, ok := fl.last["actions"].(map[string]any)[action].(map[string]any)
	if !ok {
		fl.t.Fatalf("action %s not offered in %v", action, fl.last["name"])
	}
	if input == nil {
		input = map[string]any{}
	}
	return fl.post(a["href"].(string), map[string]any{"input_data": input, "csrf_token": fl.last["csrf_token"]})
}

func payloadString(fl *flowAs, key string) string {
	s, _ := fl.last["payload"].(map[string]any)[key].(string)
	return s
}

// kratosStepUp logs in at aal2 with a TOTP code through a native flow and
// returns the status and the session's AAL.
func kratosStepUp(t *testing.T, f *faces, token, code string) (int, string) {
	t.Helper()
	lf := call(t, f.kratosPub, f.kratosV, "GET", "/self-service/login/api?aal=aal2", nil, "X-Session-Token: "+token)
	if lf.code != http.StatusOK {
		t.Fatalf("aal2 flow: %d %s", lf.code, lf.body)
	}
	id, _ := lf.json(t)["id"].(string)
	r := call(t, f.kratosPub, f.kratosV, "POST", "/self-service/login?flow="+id,
		map[string]any{"method": "totp", "totp_code": code}, "X-Session-Token: "+token)
	if r.code != http.StatusOK {
		return r.code, ""
	}
	aal, _ := r.json(t)["session"].(map[string]any)["authenticator_assurance_level"].(string)
	return r.code, aal
}

// hankoOTPLogin logs in with a password and answers login_otp with each
// code in turn (skipping device_trust); it returns the final state.
func hankoOTPLogin(t *testing.T, f *faces, email, pw string, codes ...string) string {
	t.Helper()
	fl := f.startFlow(t, "login")
	if fl.act("continue_with_login_identifier", map[string]any{"email": email}) == "login_method_chooser" {
		fl.act("continue_to_password_login", nil)
	}
	if s := fl.act("password_login", map[string]any{"password": pw}); s != "login_otp" {
		t.Fatalf("after the password: state %s, want login_otp", s)
	}
	state := ""
	for _, c := range codes {
		state = fl.act("otp_code_validate", map[string]any{"otp_code": c})
		if state == "device_trust" { // the default policy prompts; a user who does not trust the device skips
			state = fl.act("skip", nil)
		}
		if state == "success" {
			break
		}
	}
	return state
}

// TestCrossFaceTOTP: a TOTP secret set up on one face is the second factor
// of the other, and each code is accepted once across both.
func TestCrossFaceTOTP(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := &stepClock{t: time.Date(2026, 12, 6, 12, 0, 5, 0, time.UTC)}
			f := newFaces(t, open, func(d *hanko.TestingDeps) {
				var err error
				if d.TOTP, err = totp.New(d.Seal, totp.Options{Issuer: "latchkey.test", Now: clk.now}); err != nil {
					t.Fatal(err)
				}
			})

			t.Run("set up on Hanko, asked by Kratos", func(t *testing.T) {
				jwt := f.hankoRegister(t, "hedy@example.com", "hedy's password")
				pf := &flowAs{t: t, f: f, bearer: jwt}
				pf.post("/profile", nil)
				pf.act("register_client_capabilities", map[string]any{"webauthn_available": false})
				if s := pf.act("continue_to_otp_secret_creation", nil); s != "mfa_otp_secret_creation" {
					t.Fatalf("state %s", s)
				}
				secret := payloadString(pf, "otp_secret")
				setup := codeAt(t, secret, clk.now())
				if s := pf.act("otp_code_verify", map[string]any{"otp_code": setup}); s != "profile_init" {
					t.Fatalf("after otp_code_verify: %s %v", s, pf.last)
				}

				tok, code := f.kratosNativeLogin(t, "hedy@example.com", "hedy's password")
				if code != http.StatusOK {
					t.Fatalf("kratos login: %d", code)
				}
				who := call(t, f.kratosPub, f.kratosV, "GET", "/sessions/whoami", nil, "X-Session-Token: "+tok)
				if who.code != http.StatusForbidden {
					t.Fatalf("whoami of the aal1 session: %d %s", who.code, who.body)
				}
				if c, _ := kratosStepUp(t, f, tok, setup); c != http.StatusBadRequest {
					t.Fatalf("the code used on Hanko was accepted by Kratos: %d", c)
				}
				next := codeAt(t, secret, clk.now().Add(30*time.Second))
				if c, aal := kratosStepUp(t, f, tok, next); c != http.StatusOK || aal != "aal2" {
					t.Fatalf("kratos step-up: %d %s", c, aal)
				}
				// Hanko asks for it too, refuses the code Kratos accepted,
				// and accepts a fresh one.
				clk.add(30 * time.Second)
				fresh := codeAt(t, secret, clk.now().Add(30*time.Second))
				if s := hankoOTPLogin(t, f, "hedy@example.com", "hedy's password", next); s != "login_otp" {
					t.Fatalf("the code used on Kratos was accepted by Hanko: %s", s)
				}
				if s := hankoOTPLogin(t, f, "hedy@example.com", "hedy's password", fresh); s != "success" {
					t.Fatalf("fresh code on Hanko: %s", s)
				}
			})

			t.Run("set up on Kratos, asked by Hanko", func(t *testing.T) {
				f.hankoRegister(t, "kurt@example.com", "kurt's password")
				tok, _ := f.kratosNativeLogin(t, "kurt@example.com", "kurt's password")
				sf := call(t, f.kratosPub, f.kratosV, "GET", "/self-service/settings/api", nil, "X-Session-Token: "+tok)
				if sf.code != http.StatusOK {
					t.Fatalf("settings: %d %s", sf.code, sf.body)
				}
				var flowDoc struct {
					ID string `json:"id"`
					UI struct {
						Nodes []struct {
							Attributes json.RawMessage `json:"attributes"`
						} `json:"nodes"`
					} `json:"ui"`
				}
				_ = json.Unmarshal(sf.body, &flowDoc)
				var secret string
				for _, n := range flowDoc.UI.Nodes {
					var a struct {
						ID   string `json:"id"`
						Text struct {
							Context map[string]any `json:"context"`
						} `json:"text"`
					}
					_ = json.Unmarshal(n.Attributes, &a)
					if a.ID == "totp_secret_key" {
						secret, _ = a.Text.Context["secret"].(string)
					}
				}
				if secret == "" {
					t.Fatalf("no totp_secret_key node: %s", sf.body)
				}
				setup := codeAt(t, secret, clk.now())
				r := call(t, f.kratosPub, f.kratosV, "POST", "/self-service/settings?flow="+flowDoc.ID,
					map[string]any{"method": "totp", "totp_code": setup}, "X-Session-Token: "+tok)
				if r.code != http.StatusOK {
					t.Fatalf("kratos totp setup: %d %s", r.code, r.body)
				}
				if s := hankoOTPLogin(t, f, "kurt@example.com", "kurt's password", setup); s != "login_otp" {
					t.Fatalf("the setup code was accepted by Hanko: %s", s)
				}
				next := codeAt(t, secret, clk.now().Add(30*time.Second))
				if s := hankoOTPLogin(t, f, "kurt@example.com", "kurt's password", next); s != "success" {
					t.Fatalf("hanko login with a fresh code: %s", s)
				}
				if c, _ := kratosStepUp(t, f, tok, next); c != http.StatusBadRequest {
					t.Fatalf("the code used on Hanko was accepted by Kratos: %d", c)
				}
			})
		})
	}
}
