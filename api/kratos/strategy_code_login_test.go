package kratos_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/courier/couriertest"
)

// passwordless switches on login and registration by code (and tunes the
// code lifespan to ten minutes, so a code can expire inside its flow).
func passwordless(cfg *config.Config) {
	cfg.SelfService.Methods.Code.PasswordlessEnabled = true
	cfg.SelfService.Methods.Code.Config.Lifespan = 10 * time.Minute
}

// nodeNamed returns the first node with the given name and value ("" for
// any value), or nil.
func nodeNamed(f map[string]any, name, value string) map[string]any {
	for _, n := range asList(f["ui"].(map[string]any)["nodes"]) {
		a := n.(map[string]any)["attributes"].(map[string]any)
		if a["name"] == name && (value == "" || a["value"] == value) {
			return n.(map[string]any)
		}
	}
	return nil
}

// otherCode returns a six-digit code different from c.
func otherCode(c string) string {
	if c == "000000" {
		return "111111"
	}
	return "000000"
}

// sendLoginCode starts a native login flow and asks for a code to
// identifier; it returns the flow id and the answer (400, sent_email).
func sendLoginCode(t *testing.T, c *client, identifier string) (string, resp) {
	t.Helper()
	f := c.do("GET", "/self-service/login/api", nil)
	must(t, f, http.StatusOK)
	id := flowID(t, f)
	r := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "identifier": identifier})
	must(t, r, http.StatusBadRequest)
	if stateOf(t, r) != "sent_email" || !hasID(messageIDs(r.json(t)), kratos.MsgLoginCodeSent) {
		t.Fatalf("after asking for a code: %s", r.body)
	}
	return id, r
}

func TestCodeLoginNative(t *testing.T) {
	t.Parallel()
	onMailBackends(t, passwordless, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
		lena := e.createUser(t, "lena@example.com")
		c := e.native(t)
		id, _ := sendLoginCode(t, c, "Lena@Example.com")
		mail := box.Wait(t, "lena@example.com", 1).Plain()
		if !strings.Contains(mail, "Login to your account") {
			t.Errorf("login code mail:\n%s", mail)
		}
		code := codeIn(t, mail)

		bad := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "identifier": "lena@example.com", "code": otherCode(code)})
		must(t, bad, http.StatusBadRequest)
		if !hasID(messageIDs(bad.json(t)), kratos.MsgLoginCodeInvalid) || stateOf(t, bad) != "sent_email" {
			t.Fatalf("wrong code: %s", bad.body)
		}
		ok := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "identifier": "lena@example.com", "code": code})
		must(t, ok, http.StatusOK)
		m := ok.json(t)
		tok, _ := m["session_token"].(string)
		if !strings.HasPrefix(tok, "ory_st_") {
			t.Fatalf("no session token: %s", ok.body)
		}
		amr := m["session"].(map[string]any)["authentication_methods"].([]any)[0].(map[string]any)
		if amr["method"] != "code" || amr["aal"] != "aal1" {
			t.Errorf("amr %v", amr)
		}
		if !e.addressVerified(t, lena.ID, "lena@example.com") {
			t.Error("a login code did not verify the address it went to")
		}
		c.token = tok
		must(t, c.do("GET", "/sessions/whoami", nil), http.StatusOK)

		// The finished flow cannot be submitted again.
		again := e.native(t).do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "code": code})
		must(t, again, http.StatusBadRequest)
		if !hasID(messageIDs(again.json(t)), kratos.MsgLoginRetrySuccess) {
			t.Errorf("replay: %s", again.body)
		}
	})
}

func TestCodeLoginLimitsAndEnumeration(t *testing.T) {
	t.Parallel()
	onMailBackends(t, passwordless, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
		e.createUser(t, "max@example.com")
		e.createUser(t, "nina@example.com")
		e.createUser(t, "olga@example.com")

		t.Run("wrong code six times", func(t *testing.T) {
			c := e.native(t)
			id, _ := sendLoginCode(t, c, "max@example.com")
			code := codeIn(t, box.Wait(t, "max@example.com", 1).Plain())
			for i := 1; i <= 5; i++ {
				r := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "code": otherCode(code)})
				must(t, r, http.StatusBadRequest)
				if !hasID(messageIDs(r.json(t)), kratos.MsgLoginCodeInvalid) {
					t.Fatalf("attempt %d: %s", i, r.body)
				}
			}
			// The shared attempt policy refuses a sixth attempt from the
			// same client within the minute outright (5 per identity and
			// IP), before the code is looked at.
			r := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "code": code})
			must(t, r, http.StatusTooManyRequests)
			if r.hdr.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			e.clock.add(time.Minute)
			// A minute later the sixth submission, even with the right code,
			// finds the code dead (max_submissions).
			r = c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "code": code})
			must(t, r, http.StatusBadRequest)
			if !hasID(messageIDs(r.json(t)), kratos.MsgLoginCodeInvalid) {
				t.Fatalf("right code after five wrong ones: %s", r.body)
			}
			// A resend issues a fresh code, which works.
			must(t, c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "resend": "code"}), http.StatusBadRequest)
			fresh := codeIn(t, box.Wait(t, "max@example.com", 2).Plain())
			must(t, c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "code": fresh}), http.StatusOK)
		})

		t.Run("unknown identifier", func(t *testing.T) {
			c := e.native(t)
			id, sent := sendLoginCode(t, c, "nobody@example.com")
			known, knownSent := sendLoginCode(t, e.native(t), "nina@example.com")
			_ = known
			// The answers differ only in ids and tokens: nothing tells the
			// unknown address apart.
			if messageIDs(sent.json(t))[0] != messageIDs(knownSent.json(t))[0] {
				t.Errorf("answers differ: %s vs %s", sent.body, knownSent.body)
			}
			box.Wait(t, "nina@example.com", 1).Plain()
			time.Sleep(100 * time.Millisecond)
			if n := len(box.To("nobody@example.com")); n != 0 {
				t.Errorf("%d mails to an unknown address", n)
			}
			r := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "code": "123456"})
			must(t, r, http.StatusBadRequest)
			if !hasID(messageIDs(r.json(t)), kratos.MsgLoginCodeInvalid) {
				t.Errorf("code for an unknown address: %s", r.body)
			}
		})

		t.Run("expired code", func(t *testing.T) {
			c := e.native(t)
			id, _ := sendLoginCode(t, c, "olga@example.com")
			code := codeIn(t, box.Wait(t, "olga@example.com", 1).Plain())
			e.clock.add(11 * time.Minute) // the code lives 10 minutes, the flow an hour
			r := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "code": code})
			must(t, r, http.StatusBadRequest)
			if !hasID(messageIDs(r.json(t)), kratos.MsgLoginCodeInvalid) {
				t.Errorf("expired code: %s", r.body)
			}
		})

		t.Run("missing identifier and code", func(t *testing.T) {
			c := e.native(t)
			f := c.do("GET", "/self-service/login/api", nil)
			r := c.do("POST", "/self-service/login?flow="+flowID(t, f), map[string]any{"method": "code"})
			must(t, r, http.StatusBadRequest)
			if stateOf(t, r) != "choose_method" || !hasID(messageIDs(r.json(t)), kratos.MsgValidationRequired) {
				t.Errorf("no identifier: %s", r.body)
			}
		})

		t.Run("send limit", func(t *testing.T) {
			c := e.native(t)
			f := c.do("GET", "/self-service/login/api", nil)
			id := flowID(t, f)
			// withMail allows four sends per address and hour: a send and
			// three resends go out, the fourth resend is refused.
			last := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "identifier": "pia@example.com"})
			for i := 0; i < 4; i++ {
				last = c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "resend": "code"})
			}
			must(t, last, http.StatusTooManyRequests)
			if last.hdr.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		})

		t.Run("expired flow", func(t *testing.T) {
			c := e.native(t)
			f := c.do("GET", "/self-service/login/api", nil)
			e.clock.add(2 * time.Hour)
			r := c.do("POST", "/self-service/login?flow="+flowID(t, f), map[string]any{"method": "code", "identifier": "max@example.com"})
			must(t, r, http.StatusGone)
			if r.json(t)["use_flow_id"] == nil {
				t.Errorf("expired: %s", r.body)
			}
		})
	})
}

func TestCodeRegistrationNative(t *testing.T) {
	t.Parallel()
	onMailBackends(t, passwordless, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
		c := e.native(t)
		f := c.do("GET", "/self-service/registration/api", nil)
		must(t, f, http.StatusOK)
		id := flowID(t, f)
		traits := map[string]any{"email": "quinn@example.com", "name": "Quinn"}

		// profile_first: traits first, then the credentials screen offers
		// the code.
		s2 := c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "profile", "traits": traits})
		must(t, s2, http.StatusBadRequest)
		if nodeNamed(s2.json(t), "method", "code") == nil {
			t.Fatalf("credentials screen lacks the code method: %s", s2.body)
		}
		sent := c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "code", "traits": traits})
		must(t, sent, http.StatusBadRequest)
		if stateOf(t, sent) != "sent_email" || !hasID(messageIDs(sent.json(t)), kratos.MsgRegistrationCodeSent) {
			t.Fatalf("after sending: %s", sent.body)
		}
		mail := box.Wait(t, "quinn@example.com", 1).Plain()
		if !strings.Contains(mail, "Complete your account registration") {
			t.Errorf("registration mail:\n%s", mail)
		}
		code := codeIn(t, mail)

		other := c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "code", "code": code,
			"traits": map[string]any{"email": "mallory@example.com"}})
		must(t, other, http.StatusBadRequest)
		if !hasID(messageIDs(other.json(t)), kratos.MsgTraitsMismatch) {
			t.Errorf("changed traits: %s", other.body)
		}
		bad := c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "code", "code": otherCode(code), "traits": traits})
		must(t, bad, http.StatusBadRequest)
		if !hasID(messageIDs(bad.json(t)), kratos.MsgRegistrationCodeInvalid) {
			t.Errorf("wrong code: %s", bad.body)
		}
		ok := c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "code", "code": code, "traits": traits})
		must(t, ok, http.StatusOK)
		m := ok.json(t)
		tok, _ := m["session_token"].(string)
		if !strings.HasPrefix(tok, "ory_st_") {
			t.Fatalf("no session: %s", ok.body)
		}
		identityID := m["identity"].(map[string]any)["id"].(string)
		if !e.addressVerified(t, identityID, "quinn@example.com") {
			t.Error("the registration code did not verify the address")
		}
		if cw := continueWith(t, ok); cw["show_verification_ui"] != nil || cw["set_ory_session_token"] == nil {
			t.Errorf("continue_with: %s", ok.body)
		}
		c.token = tok
		who := c.do("GET", "/sessions/whoami", nil)
		must(t, who, http.StatusOK)
		if amr := who.json(t)["authentication_methods"].([]any)[0].(map[string]any); amr["method"] != "code" {
			t.Errorf("amr %v", amr)
		}

		// The new identity logs in by code.
		anon := e.native(t)
		lid, _ := sendLoginCode(t, anon, "quinn@example.com")
		lcode := codeIn(t, box.WaitFor(t, "quinn@example.com", "Login to your account").Plain())
		must(t, anon.do("POST", "/self-service/login?flow="+lid, map[string]any{"method": "code", "code": lcode}), http.StatusOK)

		// Registering the same address again: the code still goes out, and
		// only its holder learns that the account exists.
		d := e.native(t)
		df := d.do("GET", "/self-service/registration/api", nil)
		did := flowID(t, df)
		must(t, d.do("POST", "/self-service/registration?flow="+did, map[string]any{"method": "code", "traits": traits}), http.StatusBadRequest)
		wrong := d.do("POST", "/self-service/registration?flow="+did, map[string]any{"method": "code", "code": "12345", "traits": traits})
		if hasID(messageIDs(wrong.json(t)), kratos.MsgDuplicateCredentials) {
			t.Errorf("a wrong code revealed the account: %s", wrong.body)
		}
		dcode := codeIn(t, box.Wait(t, "quinn@example.com", 3).Plain())
		dup := d.do("POST", "/self-service/registration?flow="+did, map[string]any{"method": "code", "code": dcode, "traits": traits})
		must(t, dup, http.StatusBadRequest)
		if !hasID(messageIDs(dup.json(t)), kratos.MsgDuplicateCredentials) {
			t.Errorf("duplicate: %s", dup.body)
		}
	})
}

func TestCodeRegistrationBackAndSchemaErrors(t *testing.T) {
	t.Parallel()
	opt, box := withMail(t, passwordless)
	e := newSelfServiceEnv(t, opt)
	c := e.native(t)
	id := flowID(t, c.do("GET", "/self-service/registration/api", nil))
	bad := c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "code", "traits": map[string]any{"email": "not-an-address"}})
	must(t, bad, http.StatusBadRequest)
	if stateOf(t, bad) != "choose_method" || len(messageIDs(bad.json(t))) == 0 {
		t.Fatalf("schema-invalid traits: %s", bad.body)
	}
	traits := map[string]any{"email": "rita@example.com"}
	must(t, c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "code", "traits": traits}), http.StatusBadRequest)
	box.Wait(t, "rita@example.com", 1).Plain()
	back := c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "code", "screen": "credential-selection", "traits": traits})
	must(t, back, http.StatusBadRequest)
	if stateOf(t, back) != "choose_method" || nodeNamed(back.json(t), "password", "") == nil {
		t.Fatalf("back: %s", back.body)
	}
	// From the credentials screen, a password still registers.
	ok := c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "password", "traits": traits, "password": "correct horse battery"})
	must(t, ok, http.StatusOK)
}

func TestCodeLoginBrowserAndSPA(t *testing.T) {
	t.Parallel()
	opt, box := withMail(t, passwordless)
	e := newSelfServiceEnv(t, opt)
	e.createUser(t, "sam@example.com")
	e.createUser(t, "tess@example.com")

	// A browser through forms and redirects, with return_to.
	b := e.browser(t)
	id := flowID(t, b.do("GET", "/self-service/login/browser?return_to=https://app.example.com/home", nil))
	_, form := browserForm(t, b, "login", id, url.Values{"method": {"code"}, "identifier": {"sam@example.com"}})
	bad := b.do("POST", "/self-service/login?flow="+id, url.Values{"csrf_token": {"nope"}, "method": {"code"}, "identifier": {"sam@example.com"}})
	location(t, bad, e.base+"ui/error?id=")
	location(t, b.do("POST", "/self-service/login?flow="+id, form), e.base+"ui/login?flow="+id)
	code := codeIn(t, box.Wait(t, "sam@example.com", 1).Plain())
	if n := len(box.To("sam@example.com")); n != 1 {
		t.Errorf("%d mails; the refused post must not send", n)
	}
	f, form := browserForm(t, b, "login", id, url.Values{"method": {"code"}, "code": {code}})
	if f["state"] != "sent_email" || nodeNamed(f, "password", "") != nil || nodeNamed(f, "code", "") == nil {
		t.Fatalf("sent_email screen: %v", f["ui"])
	}
	form.Set("identifier", nodeNamed(f, "identifier", "")["attributes"].(map[string]any)["value"].(string))
	location(t, b.do("POST", "/self-service/login?flow="+id, form), "https://app.example.com/home")
	b.json = true
	must(t, b.do("GET", "/sessions/whoami", nil), http.StatusOK)

	// An SPA gets JSON: 400 with the flow after sending, then the session
	// and continue_with redirect_browser_to.
	spa := e.browser(t)
	spa.json = true
	sf := spa.do("GET", "/self-service/login/browser", nil)
	must(t, sf, http.StatusOK)
	sid := flowID(t, sf)
	sent := spa.do("POST", "/self-service/login?flow="+sid, map[string]any{"csrf_token": csrfOf(t, sf.json(t)), "method": "code", "identifier": "tess@example.com"})
	must(t, sent, http.StatusBadRequest)
	scode := codeIn(t, box.Wait(t, "tess@example.com", 1).Plain())
	done := spa.do("POST", "/self-service/login?flow="+sid, map[string]any{"csrf_token": csrfOf(t, sent.json(t)), "method": "code", "code": scode})
	must(t, done, http.StatusOK)
	if _, ok := done.json(t)["session_token"]; ok || continueWith(t, done)["redirect_browser_to"] == nil {
		t.Errorf("SPA login: %s", done.body)
	}
	must(t, spa.do("GET", "/sessions/whoami", nil), http.StatusOK)
}

func TestCodeRegistrationBrowser(t *testing.T) {
	t.Parallel()
	opt, box := withMail(t, passwordless)
	e := newSelfServiceEnv(t, opt)
	b := e.browser(t)
	id := flowID(t, b.do("GET", "/self-service/registration/browser", nil))
	_, form := browserForm(t, b, "registration", id, url.Values{"method": {"profile"}, "traits.email": {"uma@example.com"}})
	location(t, b.do("POST", "/self-service/registration?flow="+id, form), e.base+"ui/registration?flow="+id)
	_, form = browserForm(t, b, "registration", id, url.Values{"method": {"code"}, "traits.email": {"uma@example.com"}})
	location(t, b.do("POST", "/self-service/registration?flow="+id, form), e.base+"ui/registration?flow="+id)
	code := codeIn(t, box.Wait(t, "uma@example.com", 1).Plain())
	f, form := browserForm(t, b, "registration", id, url.Values{"method": {"code"}, "code": {code}, "traits.email": {"uma@example.com"}})
	if f["state"] != "sent_email" || nodeNamed(f, "screen", "credential-selection") == nil {
		t.Fatalf("sent_email screen: %v", f["ui"])
	}
	location(t, b.do("POST", "/self-service/registration?flow="+id, form), e.base)
	b.json = true
	must(t, b.do("GET", "/sessions/whoami", nil), http.StatusOK)
}

// TestCodeGoldenNodes pins the node lists of the code method's screens
// (testdata/code/*.golden.json).
func TestCodeGoldenNodes(t *testing.T) {
	t.Parallel()
	opt, _ := withMail(t, passwordless)
	e := newSelfServiceEnv(t, opt)
	e.createUser(t, "vera@example.com")
	b := e.browser(t)
	b.json = true
	lf := b.do("GET", "/self-service/login/browser", nil)
	ls := b.do("POST", "/self-service/login?flow="+flowID(t, lf), map[string]any{"csrf_token": csrfOf(t, lf.json(t)),
		"method": "code", "identifier": "vera@example.com"})
	rf := b.do("GET", "/self-service/registration/browser", nil)
	rid := flowID(t, rf)
	traits := map[string]any{"email": "wendy@example.com"}
	r2 := b.do("POST", "/self-service/registration?flow="+rid, map[string]any{"csrf_token": csrfOf(t, rf.json(t)), "method": "profile", "traits": traits})
	rs := b.do("POST", "/self-service/registration?flow="+rid, map[string]any{"csrf_token": csrfOf(t, r2.json(t)), "method": "code", "traits": traits})
	goldenIn(t, e, "code", "login_choose", lf)
	goldenIn(t, e, "code", "login_sent", ls)
	goldenIn(t, e, "code", "registration_credentials", r2)
	goldenIn(t, e, "code", "registration_sent", rs)
}

// TestCodeUnified checks the unified registration style: traits and the
// "Send sign up code" button on one screen.
func TestCodeUnified(t *testing.T) {
	t.Parallel()
	opt, box := withMail(t, func(cfg *config.Config) {
		passwordless(cfg)
		cfg.SelfService.Flows.Registration.Style = config.RegistrationUnified
	})
	e := newSelfServiceEnv(t, opt)
	c := e.native(t)
	f := c.do("GET", "/self-service/registration/api", nil)
	goldenIn(t, e, "code", "registration_unified", f)
	traits := map[string]any{"email": "xena@example.com"}
	must(t, c.do("POST", "/self-service/registration?flow="+flowID(t, f), map[string]any{"method": "code", "traits": traits}), http.StatusBadRequest)
	code := codeIn(t, box.Wait(t, "xena@example.com", 1).Plain())
	must(t, c.do("POST", "/self-service/registration?flow="+flowID(t, f), map[string]any{"method": "code", "code": code, "traits": traits}), http.StatusOK)
}

// TestCodeOnlyLogin checks login with the password method switched off: the
// code strategy renders the identifier itself.
func TestCodeOnlyLogin(t *testing.T) {
	t.Parallel()
	opt, box := withMail(t, func(cfg *config.Config) {
		passwordless(cfg)
		cfg.SelfService.Methods.Password.Enabled = false
	})
	e := newSelfServiceEnv(t, opt)
	e.createUser(t, "yara@example.com")
	c := e.native(t)
	f := c.do("GET", "/self-service/login/api", nil)
	must(t, f, http.StatusOK)
	goldenIn(t, e, "code", "login_code_only", f)
	if nodeNamed(f.json(t), "identifier", "") == nil || nodeNamed(f.json(t), "password", "") != nil {
		t.Fatalf("code-only login nodes: %s", f.body)
	}
	id := flowID(t, f)
	must(t, c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "identifier": "yara@example.com"}), http.StatusBadRequest)
	code := codeIn(t, box.Wait(t, "yara@example.com", 1).Plain())
	must(t, c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "code": code}), http.StatusOK)
}
