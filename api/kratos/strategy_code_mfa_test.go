package kratos_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/courier/couriertest"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/store/storetest"
)

// codeMFA switches on codes as second factor (ten-minute codes, so one can
// expire inside its flow).
func codeMFA(cfg *config.Config) {
	cfg.SelfService.Methods.Code.MFAEnabled = true
	cfg.SelfService.Methods.Code.Config.Lifespan = 10 * time.Minute
}

// createMFAUser makes an identity with a password whose e-mail address is
// verified or not.
func (e *ssEnv) createMFAUser(t *testing.T, email string, verified bool) *core.Identity {
	t.Helper()
	traits, _ := json.Marshal(map[string]any{"email": email})
	d := identity.Draft{Traits: traits, Credentials: &identity.CredentialsDraft{Password: &identity.PasswordDraft{Password: "an old passphrase 1"}}}
	if verified {
		now := e.clock.now()
		d.VerifiableAddresses = []identity.AddressDraft{{Via: core.ViaEmail, Value: email, Verified: true, VerifiedAt: &now, Status: core.AddressCompleted}}
	}
	i, err := e.ids.Create(context.Background(), d)
	if err != nil {
		t.Fatalf("create identity: %v", err)
	}
	return i
}

// passwordLoginNative logs c in with the password (aal1) and keeps the token.
func passwordLoginNative(t *testing.T, c *client, email string) {
	t.Helper()
	f := c.do("GET", "/self-service/login/api", nil)
	must(t, f, http.StatusOK)
	r := c.do("POST", "/self-service/login?flow="+flowID(t, f), map[string]any{"method": "password", "identifier": email, "password": "an old passphrase 1"})
	must(t, r, http.StatusOK)
	c.token, _ = r.json(t)["session_token"].(string)
}

// mfaCodeSent asks an aal2 flow for a code to address (an address button:
// no method) and checks the sent_email screen.
func mfaCodeSent(t *testing.T, c *client, id, address string) map[string]any {
	t.Helper()
	r := c.do("POST", "/self-service/login?flow="+id, map[string]any{"address": address})
	must(t, r, http.StatusBadRequest)
	return checkSentScreen(t, r, address)
}

// aal2Sent starts an aal2 login flow of c, whose code the flow's creation
// sends to address (the identity's only second factor), and returns its id.
func aal2Sent(t *testing.T, c *client, address string) string {
	t.Helper()
	lf := c.do("GET", "/self-service/login/api?aal=aal2", nil)
	must(t, lf, http.StatusOK)
	checkSentScreen(t, lf, address)
	return flowID(t, lf)
}

// checkSentScreen checks a flow in sent_email after a code went to address.
func checkSentScreen(t *testing.T, r resp, address string) map[string]any {
	t.Helper()
	f := r.json(t)
	ids := messageIDs(f)
	hidden := nodeNamed(f, "identifier", address)
	if stateOf(t, r) != "sent_email" || !hasID(ids, kratos.MsgLoginCodeSentToAuthenticated) || hasID(ids, kratos.MsgLoginMFA) ||
		hidden == nil || hidden["group"] != "code" || nodeNamed(f, "code", "") == nil || nodeNamed(f, "resend", "code") == nil || f["active"] != "code" {
		t.Fatalf("after a code went to %s: %s", address, r.body)
	}
	return f
}

func TestCodeMFANative(t *testing.T) {
	t.Parallel()
	onMailBackends(t, codeMFA, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
		e.createMFAUser(t, "mia@example.com", true)
		c := e.native(t)
		passwordLoginNative(t, c, "mia@example.com")

		// A verified code address makes aal2 the highest available level.
		who := c.do("GET", "/sessions/whoami", nil)
		must(t, who, http.StatusForbidden)
		if who.json(t)["error"].(map[string]any)["id"] != "session_aal2_required" {
			t.Fatalf("whoami: %s", who.body)
		}
		must(t, c.do("GET", "/self-service/settings/api", nil), http.StatusForbidden)

		// The code is the identity's only second factor, at one address:
		// the aal2 flow's creation sends it (Kratos' fast login).
		id := aal2Sent(t, c, "mia@example.com")
		mail := box.Wait(t, "mia@example.com", 1).Plain()
		if !strings.Contains(mail, "Login to your account") {
			t.Errorf("code mail:\n%s", mail)
		}
		code := codeIn(t, mail)

		bad := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "code": otherCode(code)})
		must(t, bad, http.StatusBadRequest)
		if !hasID(messageIDs(bad.json(t)), kratos.MsgLoginCodeInvalid) || stateOf(t, bad) != "sent_email" {
			t.Fatalf("wrong code: %s", bad.body)
		}
		ok := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "identifier": "mia@example.com", "code": code})
		must(t, ok, http.StatusOK)
		if aal, methods := sessionAAL(t, ok); aal != "aal2" || strings.Join(methods, ",") != "password:aal1,code:aal2" {
			t.Fatalf("after the code: %s %v", aal, methods)
		}
		if ok.json(t)["session_token"] != c.token {
			t.Fatalf("the step-up issued another session: %s", ok.body)
		}
		who = c.do("GET", "/sessions/whoami", nil)
		must(t, who, http.StatusOK)
		if aal, _ := sessionAAL(t, who); aal != "aal2" {
			t.Fatalf("whoami after the code: %s", who.body)
		}

		// The code is single use: its finished flow takes nothing more, and
		// a new flow's code is another one.
		again := e.native(t).do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "code": code})
		must(t, again, http.StatusBadRequest)
		if !hasID(messageIDs(again.json(t)), kratos.MsgLoginRetrySuccess) {
			t.Fatalf("same flow again: %s", again.body)
		}
		d := e.native(t)
		passwordLoginNative(t, d, "mia@example.com")
		id2 := aal2Sent(t, d, "mia@example.com")
		fresh := codeIn(t, box.Wait(t, "mia@example.com", 2).Plain())
		if fresh != code {
			reused := d.do("POST", "/self-service/login?flow="+id2, map[string]any{"method": "code", "code": code})
			must(t, reused, http.StatusBadRequest)
			if !hasID(messageIDs(reused.json(t)), kratos.MsgLoginCodeInvalid) {
				t.Fatalf("a used code in another flow: %s", reused.body)
			}
		}
		// Resend replaces the code: the first one dies, the new one works.
		must(t, d.do("POST", "/self-service/login?flow="+id2, map[string]any{"method": "code", "resend": "code"}), http.StatusBadRequest)
		third := codeIn(t, box.Wait(t, "mia@example.com", 3).Plain())
		if third != fresh {
			must(t, d.do("POST", "/self-service/login?flow="+id2, map[string]any{"method": "code", "code": fresh}), http.StatusBadRequest)
		}
		must(t, d.do("POST", "/self-service/login?flow="+id2, map[string]any{"method": "code", "code": third}), http.StatusOK)
	})
}

func TestCodeMFAExpiryAndLimits(t *testing.T) {
	t.Parallel()
	onMailBackends(t, codeMFA, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
		e.createMFAUser(t, "nils@example.com", true)
		e.createMFAUser(t, "ola@example.com", true)

		t.Run("expired code", func(t *testing.T) {
			c := e.native(t)
			passwordLoginNative(t, c, "nils@example.com")
			id := aal2Sent(t, c, "nils@example.com")
			code := codeIn(t, box.Wait(t, "nils@example.com", 1).Plain())
			e.clock.add(11 * time.Minute)
			r := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "code": code})
			must(t, r, http.StatusBadRequest)
			if !hasID(messageIDs(r.json(t)), kratos.MsgLoginCodeInvalid) {
				t.Fatalf("expired code: %s", r.body)
			}
			must(t, c.do("GET", "/sessions/whoami", nil), http.StatusForbidden)
		})

		t.Run("wrong codes", func(t *testing.T) {
			c := e.native(t)
			passwordLoginNative(t, c, "ola@example.com")
			id := aal2Sent(t, c, "ola@example.com")
			code := codeIn(t, box.Wait(t, "ola@example.com", 1).Plain())
			for i := 1; i <= 5; i++ {
				r := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "code": otherCode(code)})
				must(t, r, http.StatusBadRequest)
				if !hasID(messageIDs(r.json(t)), kratos.MsgLoginCodeInvalid) {
					t.Fatalf("attempt %d: %s", i, r.body)
				}
			}
			// The attempt policy (5 per identity and IP a minute) refuses the
			// sixth outright; a minute later the code itself is dead
			// (max_submissions).
			r := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "code": code})
			must(t, r, http.StatusTooManyRequests)
			e.clock.add(time.Minute)
			r = c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "code": code})
			must(t, r, http.StatusBadRequest)
			if !hasID(messageIDs(r.json(t)), kratos.MsgLoginCodeInvalid) {
				t.Fatalf("right code after five wrong ones: %s", r.body)
			}
		})
	})
}

func TestCodeMFABrowser(t *testing.T) {
	t.Parallel()
	onMailBackends(t, codeMFA, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
		e.createMFAUser(t, "pia@example.com", true)

		// SPA: the password answers 422 to the aal2 flow.
		spa := e.spa(t)
		lf := spa.do("GET", "/self-service/login/browser", nil)
		must(t, lf, http.StatusOK)
		r := spa.raw("POST", "/self-service/login?flow="+flowID(t, lf), map[string]any{"method": "password",
			"identifier": "pia@example.com", "password": "an old passphrase 1", "csrf_token": csrfOf(t, lf.json(t))})
		must(t, r, http.StatusUnprocessableEntity)
		to, _ := r.json(t)["redirect_browser_to"].(string)
		if !strings.Contains(to, "aal=aal2") {
			t.Fatalf("first factor: %s", r.body)
		}
		af := spa.do("GET", to, nil)
		must(t, af, http.StatusOK)
		f := checkSentScreen(t, af, "pia@example.com")
		code := codeIn(t, box.Wait(t, "pia@example.com", 1).Plain())
		ok := spa.do("POST", "/self-service/login?flow="+flowID(t, af), map[string]any{"method": "code", "code": code, "csrf_token": csrfOf(t, f)})
		must(t, ok, http.StatusOK)
		if aal, methods := sessionAAL(t, ok); aal != "aal2" || strings.Join(methods, ",") != "password:aal1,code:aal2" {
			t.Fatalf("SPA after the code: %s %v", aal, methods)
		}

		// A browser: forms and redirects only.
		b := e.browser(t)
		lf = b.do("GET", "/self-service/login/browser", nil)
		must(t, lf, http.StatusSeeOther)
		_, form := browserForm(t, b, "login", flowID(t, lf), url.Values{"method": {"password"},
			"identifier": {"pia@example.com"}, "password": {"an old passphrase 1"}})
		r = b.do("POST", "/self-service/login?flow="+flowID(t, lf), form)
		step := location(t, r, e.base+"self-service/login/browser?aal=aal2")
		r = b.do("GET", step, nil)
		must(t, r, http.StatusSeeOther)
		id := flowID(t, r)
		code = codeIn(t, box.Wait(t, "pia@example.com", 2).Plain())
		f, form = browserForm(t, b, "login", id, url.Values{"method": {"code"}, "code": {code}})
		if f["state"] != "sent_email" || nodeNamed(f, "identifier", "pia@example.com") == nil {
			t.Fatalf("browser flow after sending: %v", f)
		}
		must(t, b.do("POST", "/self-service/login?flow="+id, form), http.StatusSeeOther)
		b.json = true
		who := b.do("GET", "/sessions/whoami", nil)
		must(t, who, http.StatusOK)
		if aal, _ := sessionAAL(t, who); aal != "aal2" {
			t.Fatalf("browser whoami: %s", who.body)
		}
	})
}

// TestCodeMFANotOffered: a code is not a second factor of an identity
// without a verified code address, nor when mfa_enabled is off.
func TestCodeMFANotOffered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		tune     func(cfg *config.Config)
		verified bool
		wantMsg  int
	}{
		{name: "unverified address", tune: codeMFA, verified: false, wantMsg: kratos.MsgNoCodeUser},
		{name: "mfa_enabled off", tune: nil, verified: true, wantMsg: 4010002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			onMailBackends(t, tc.tune, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
				e.createMFAUser(t, "quinn@example.com", tc.verified)
				c := e.native(t)
				passwordLoginNative(t, c, "quinn@example.com")
				who := c.do("GET", "/sessions/whoami", nil)
				must(t, who, http.StatusOK)
				if aal, _ := sessionAAL(t, who); aal != "aal1" {
					t.Fatalf("whoami: %s", who.body)
				}
				lf := c.do("GET", "/self-service/login/api?aal=aal2", nil)
				must(t, lf, http.StatusOK)
				if nodeNamed(lf.json(t), "address", "") != nil {
					t.Fatalf("a code is offered: %s", lf.body)
				}
				r := c.do("POST", "/self-service/login?flow="+flowID(t, lf), map[string]any{"method": "code", "address": "quinn@example.com"})
				must(t, r, http.StatusBadRequest)
				if !hasID(messageIDs(r.json(t)), tc.wantMsg) {
					t.Fatalf("code submitted anyway: %s", r.body)
				}
			})
		})
	}
}

// TestCodeMFAChooseAddress: beside another second factor (backup codes),
// the aal2 flow shows a "Send code to …" button per address instead of
// sending at once; ?via= narrows the buttons to a trait's address.
func TestCodeMFAChooseAddress(t *testing.T) {
	t.Parallel()
	tune := func(cfg *config.Config) {
		codeMFA(cfg)
		cfg.SelfService.Flows.Settings.RequiredAAL = "aal1" // to set up backup codes at aal1
	}
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opt, box := withMail(t, tune)
			e := newSelfServiceEnvOn(t, open, opt, withMFA(t))
			e.createMFAUser(t, "rita@example.com", true)
			c := e.native(t)
			passwordLoginNative(t, c, "rita@example.com")
			sf := c.do("GET", "/self-service/settings/api", nil)
			must(t, sf, http.StatusOK)
			sid := flowID(t, sf)
			must(t, c.do("POST", "/self-service/settings?flow="+sid, map[string]any{"method": "lookup_secret", "lookup_secret_regenerate": true}), http.StatusOK)
			must(t, c.do("POST", "/self-service/settings?flow="+sid, map[string]any{"method": "lookup_secret", "lookup_secret_confirm": true}), http.StatusOK)
			must(t, c.do("GET", "/sessions/whoami", nil), http.StatusForbidden)

			lf := c.do("GET", "/self-service/login/api?aal=aal2", nil)
			must(t, lf, http.StatusOK)
			f := lf.json(t)
			btn := nodeNamed(f, "address", "rita@example.com")
			if btn == nil || btn["group"] != "code" || btn["attributes"].(map[string]any)["type"] != "submit" || nodeNamed(f, "lookup_secret", "") == nil ||
				!hasID(messageIDs(f), kratos.MsgLoginMFA) || nodeNamed(f, "password", "") != nil || stateOf(t, lf) != "choose_method" {
				t.Fatalf("aal2 flow: %s", lf.body)
			}
			label := btn["meta"].(map[string]any)["label"].(map[string]any)
			ctx, _ := label["context"].(map[string]any)
			if label["id"].(float64) != kratos.MsgLoginAAL2CodeAddress || label["text"] != "Send code to rita@example.com" ||
				ctx["address"] != "rita@example.com" || ctx["channel"] != "email" {
				t.Fatalf("address button label: %v", label)
			}
			id := flowID(t, lf)
			other := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "address": "eve@example.com"})
			must(t, other, http.StatusBadRequest)
			if !hasID(messageIDs(other.json(t)), kratos.MsgNoCodeUser) {
				t.Fatalf("foreign address: %s", other.body)
			}
			sent := mfaCodeSent(t, c, id, "rita@example.com")
			if nodeNamed(sent, "lookup_secret", "") == nil {
				t.Errorf("the backup code field left the sent_email screen (Kratos keeps it): %v", sent)
			}
			code := codeIn(t, box.Wait(t, "rita@example.com", 1).Plain())
			ok := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "code": code})
			must(t, ok, http.StatusOK)
			if aal, methods := sessionAAL(t, ok); aal != "aal2" || strings.Join(methods, ",") != "password:aal1,code:aal2" {
				t.Fatalf("after the code: %s %v", aal, methods)
			}

			// ?via=
			d := e.native(t)
			passwordLoginNative(t, d, "rita@example.com")
			v := d.do("GET", "/self-service/login/api?aal=aal2&via=email", nil)
			must(t, v, http.StatusOK)
			if stateOf(t, v) != "choose_method" || nodeNamed(v.json(t), "address", "rita@example.com") == nil {
				t.Fatalf("via=email: %s", v.body)
			}
			for _, tc := range []struct{ via, reason string }{
				{"nope", "No value found for trait nope in the current identity."},
				{"name", "No value found for trait name in the current identity."},
			} {
				r := d.do("GET", "/self-service/login/api?aal=aal2&via="+tc.via, nil)
				must(t, r, http.StatusBadRequest)
				if got := r.json(t)["error"].(map[string]any)["reason"]; got != tc.reason {
					t.Errorf("via=%s: reason %q", tc.via, got)
				}
			}
		})
	}
}
