package kratos_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/method/webauthn"
	"github.com/latchkey/latchkey/store"
)

// withSecurityKeys enables the webauthn method (security keys; as first
// factor when passwordless) with the test relying party.
func withSecurityKeys(t *testing.T, passwordless bool) ssOption {
	t.Helper()
	m, err := webauthn.New(webauthn.Config{RPID: testRP.ID, RPDisplayName: testRP.Name, RPOrigins: []string{testRP.Origin},
		NotFound: store.ErrNotFound, Conflict: store.ErrConflict})
	if err != nil {
		t.Fatal(err)
	}
	return func(_ *config.Config, o *kratos.SelfServiceOptions) {
		o.SelfService.Methods.WebAuthn.Enabled = true
		o.SelfService.Methods.WebAuthn.Config.Passwordless = passwordless
		o.SecurityKeys = m
	}
}

// passwordLoginSPA signs c in with a password through a browser flow and
// returns the answer (200, or 422 to the aal2 flow).
func passwordLoginSPA(t *testing.T, c *client, email string) resp {
	t.Helper()
	lf := c.do("GET", "/self-service/login/browser", nil)
	must(t, lf, 200)
	return c.raw("POST", "/self-service/login?flow="+flowID(t, lf), map[string]any{"method": "password",
		"identifier": email, "password": "an old passphrase 1", "csrf_token": csrfOf(t, lf.json(t))})
}

// TestSecurityKeySecondFactor adds a security key in settings, then logs in
// with a password and the key at aal2; refuses wrong keys; and removing the
// key ends the aal2 requirement, on every backend.
func TestSecurityKeySecondFactor(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		e.createUser(t, "sekura@example.com")
		c := e.spa(t)
		must(t, passwordLoginSPA(t, c, "sekura@example.com"), 200)
		sf := c.do("GET", "/self-service/settings/browser", nil)
		must(t, sf, 200)
		f := sf.json(t)
		if nodeByName(t, f, "webauthn_remove") != nil {
			t.Fatalf("a remove button without keys: %s", sf.body)
		}
		key := newAuthenticator()
		r := c.do("POST", "/self-service/settings?flow="+f["id"].(string), map[string]any{"csrf_token": csrfOf(t, f),
			"webauthn_register_displayname": "Blue key", "webauthn_register": key.create(t, testRP, nodeValue(t, f, "webauthn_register_trigger"))})
		must(t, r, 200)
		rm := nodeByName(t, r.json(t), "webauthn_remove")
		if rm == nil {
			t.Fatalf("no remove button after adding a key: %s", r.body)
		}
		label := rm["meta"].(map[string]any)["label"].(map[string]any)
		if label["id"].(float64) != kratos.MsgSettingsRemoveWebAuthn || label["text"] != `Remove security key "Blue key"` {
			t.Errorf("remove label %v", label)
		}

		// Password, then the key: 422 to the aal2 flow, whose key button
		// carries the request options.
		s2 := e.spa(t)
		first := passwordLoginSPA(t, s2, "sekura@example.com")
		must(t, first, 422)
		to, _ := first.json(t)["redirect_browser_to"].(string)
		af := s2.do("GET", to, nil)
		must(t, af, 200)
		f = af.json(t)
		if nodeByName(t, f, "webauthn_login_trigger") == nil || nodeByName(t, f, "webauthn_script") == nil {
			t.Fatalf("aal2 flow without the security key: %s", af.body)
		}
		refuse := func(name, answer string, want int) {
			t.Helper()
			cur := s2.do("GET", "/self-service/login/flows?id="+f["id"].(string), nil)
			must(t, cur, 200)
			r := s2.do("POST", "/self-service/login?flow="+f["id"].(string), map[string]any{"method": "webauthn",
				"csrf_token": csrfOf(t, cur.json(t)), "webauthn_login": answer})
			must(t, r, 400)
			if ids := messageIDs(r.json(t)); !hasID(ids, want) {
				t.Errorf("%s: messages %v lack %d: %s", name, ids, want, r.body)
			}
		}
		challenge := func() string {
			cur := s2.do("GET", "/self-service/login/flows?id="+f["id"].(string), nil)
			must(t, cur, 200)
			return nodeValue(t, cur.json(t), "webauthn_login_trigger")
		}
		refuse("unknown key", newAuthenticator().get(t, testRP, challenge()), kratos.MsgNoWebAuthnUser)
		refuse("forged signature", forgeSignature(t, key.get(t, testRP, challenge())), kratos.MsgWebAuthnVerifierWrong)
		refuse("wrong origin", key.get(t, evilOrigin(), challenge()), kratos.MsgWebAuthnVerifierWrong)
		answer := key.get(t, testRP, challenge())
		cur := s2.do("GET", "/self-service/login/flows?id="+f["id"].(string), nil)
		ok := s2.do("POST", "/self-service/login?flow="+f["id"].(string), map[string]any{"csrf_token": csrfOf(t, cur.json(t)), "webauthn_login": answer})
		must(t, ok, 200)
		who := s2.do("GET", "/sessions/whoami", nil)
		must(t, who, 200)
		if aal, methods := sessionAAL(t, who); aal != "aal2" || strings.Join(methods, ",") != "password:aal1,webauthn:aal2" {
			t.Errorf("whoami aal %s methods %v", aal, methods)
		}

		// The same assertion on another aal2 flow is a replay.
		s3 := e.spa(t)
		first = passwordLoginSPA(t, s3, "sekura@example.com")
		must(t, first, 422)
		to, _ = first.json(t)["redirect_browser_to"].(string)
		af = s3.do("GET", to, nil)
		must(t, af, 200)
		r = s3.do("POST", "/self-service/login?flow="+flowID(t, af), map[string]any{"csrf_token": csrfOf(t, af.json(t)), "webauthn_login": answer})
		must(t, r, 400)
		if !hasID(messageIDs(r.json(t)), kratos.MsgWebAuthnVerifierWrong) {
			t.Errorf("replay: %s", r.body)
		}

		// Removing the key (from the aal2 session) ends the requirement.
		sf = s2.do("GET", "/self-service/settings/browser", nil)
		must(t, sf, 200)
		f = sf.json(t)
		r = s2.do("POST", "/self-service/settings?flow="+f["id"].(string), map[string]any{"method": "webauthn", "csrf_token": csrfOf(t, f),
			"webauthn_remove": hexOf(key.cred.ID)})
		must(t, r, 200)
		s4 := e.spa(t)
		must(t, passwordLoginSPA(t, s4, "sekura@example.com"), 200)
	}, withSecurityKeys(t, false), withMFA(t))
}

func evilOrigin() virtualwebauthn.RelyingParty {
	return virtualwebauthn.RelyingParty{ID: testRP.ID, Name: testRP.Name, Origin: "https://evil.example"}
}

// TestSecurityKeyPasswordless: with passwordless, security keys sign up and
// sign in as a first factor: the identifier first, then the key.
func TestSecurityKeyPasswordless(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		key := newAuthenticator()
		c := e.spa(t)
		f := c.do("GET", "/self-service/registration/browser", nil)
		must(t, f, 200)
		id := flowID(t, f)
		tr := map[string]any{"email": "pwl@example.com"}
		r := c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "profile", "traits": tr, "csrf_token": csrfOf(t, f.json(t))})
		must(t, r, 400)
		screen := r.json(t)
		r = c.do("POST", "/self-service/registration?flow="+id, map[string]any{"traits": tr, "csrf_token": csrfOf(t, screen),
			"webauthn_register_displayname": "Desk key", "webauthn_register": key.create(t, testRP, nodeValue(t, screen, "webauthn_register_trigger"))})
		must(t, r, 200)
		checkAMR(t, r.json(t)["session"].(map[string]any), "webauthn")

		l := e.spa(t)
		lf := l.do("GET", "/self-service/login/browser", nil)
		must(t, lf, 200)
		lid := flowID(t, lf)
		unknown := l.do("POST", "/self-service/login?flow="+lid, map[string]any{"method": "webauthn", "identifier": "nobody@example.com",
			"csrf_token": csrfOf(t, lf.json(t))})
		must(t, unknown, 400)
		if !hasID(messageIDs(unknown.json(t)), kratos.MsgNoWebAuthnUser) {
			t.Errorf("unknown identifier: %s", unknown.body)
		}
		ask := l.raw("POST", "/self-service/login?flow="+lid, map[string]any{"method": "webauthn", "identifier": "PWL@example.com",
			"csrf_token": csrfOf(t, unknown.json(t))})
		must(t, ask, 422)
		cur := l.do("GET", "/self-service/login/flows?id="+lid, nil)
		must(t, cur, 200)
		cf := cur.json(t)
		if !hasID(messageIDs(cf), kratos.MsgLoginWebAuthnPasswordless) || nodeAttr(t, cf, "identifier", "type") != "hidden" {
			t.Errorf("second screen: %s", cur.body)
		}
		ok := l.do("POST", "/self-service/login?flow="+lid, map[string]any{"csrf_token": csrfOf(t, cf), "identifier": "PWL@example.com",
			"webauthn_login": key.get(t, testRP, nodeValue(t, cf, "webauthn_login_trigger"))})
		must(t, ok, 200)
		checkAMR(t, ok.json(t)["session"].(map[string]any), "webauthn")
	}, withSecurityKeys(t, true))
}

// TestSecurityKeyStepUpReturnsToSettings: after a security key is added,
// the settings flow asks a browser for aal2; that login is a form (its
// return_to accepted), and the key's aal2 login returns to the settings.
func TestSecurityKeyStepUpReturnsToSettings(t *testing.T) {
	t.Parallel()
	e := newSelfServiceEnv(t, withSecurityKeys(t, false), withMFA(t))
	e.createUser(t, "step@example.com")
	c := e.spa(t)
	must(t, passwordLoginSPA(t, c, "step@example.com"), 200)
	sf := c.do("GET", "/self-service/settings/browser", nil)
	must(t, sf, 200)
	f := sf.json(t)
	key := newAuthenticator()
	must(t, c.do("POST", "/self-service/settings?flow="+f["id"].(string), map[string]any{"csrf_token": csrfOf(t, f),
		"webauthn_register": key.create(t, testRP, nodeValue(t, f, "webauthn_register_trigger"))}), 200)
	g := c.raw("GET", "/self-service/settings/flows?id="+f["id"].(string), nil)
	must(t, g, 403)
	to, _ := g.json(t)["redirect_browser_to"].(string)
	c.json = false
	l := c.do("GET", to, nil)
	must(t, l, http.StatusSeeOther)
	loc := l.hdr.Get("Location")
	if !strings.Contains(loc, "/ui/login?flow=") {
		t.Fatalf("the aal2 login for the settings page went to %s", loc)
	}
	c.json = true
	af := c.do("GET", "/self-service/login/flows?id="+flowID(t, l), nil)
	must(t, af, 200)
	c.json = false
	r := c.do("POST", "/self-service/login?flow="+flowID(t, l), url.Values{"csrf_token": {csrfOf(t, af.json(t))},
		"webauthn_login": {key.get(t, testRP, nodeValue(t, af.json(t), "webauthn_login_trigger"))}})
	must(t, r, http.StatusSeeOther)
	if loc := r.hdr.Get("Location"); !strings.Contains(loc, "/self-service/settings/browser") && !strings.Contains(loc, "/ui/settings") {
		t.Errorf("after the key: Location %s, want the settings", loc)
	}
}
