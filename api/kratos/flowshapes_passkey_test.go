package kratos_test

import (
	"testing"
)

// TestPasskeyFlowShapesGolden pins the passkey method's steps in the three
// modes (testdata/flows/*_passkey_*.golden.json): browsers post the form
// natively as webauthn.js does (no method, 303s), SPAs send JSON, native
// apps are not offered passkeys (Kratos serves them to browser flows only).
func TestPasskeyFlowShapesGolden(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name string
		run  func(s *shaper)
	}{
		{name: "registration_passkey", run: func(s *shaper) {
			a := newAuthenticator()
			id := s.init("init", "registration", shapeReturn)
			s.submit("profile", "registration", id, map[string]string{"method": "profile", "traits.email": "pam@example.com"})
			if s.mode == modeNative {
				s.submit("passkey", "registration", id, map[string]string{"method": "passkey", "traits.email": "pam@example.com", "passkey_register": "{}"})
				return
			}
			s.submit("ask_for_options", "registration", id, map[string]string{"method": "passkey", "traits.email": "pam@example.com"})
			s.submit("forged", "registration", id, map[string]string{"traits.email": "pam@example.com",
				"passkey_register": forgeAttestation(s.t, a.create(s.t, testRP, createOptions(s.t, s.last)))})
			s.submit("passkey", "registration", id, map[string]string{"traits.email": "pam@example.com",
				"passkey_register": a.create(s.t, testRP, createOptions(s.t, s.last))})
		}},
		{name: "login_passkey", run: func(s *shaper) {
			a := newAuthenticator()
			if s.mode == modeNative {
				id := s.init("init", "login", shapeReturn)
				s.submit("passkey", "login", id, map[string]string{"method": "passkey", "passkey_login": "{}"})
				return
			}
			s.e.passkeySignUp(s.t, a, "lena@example.com")
			id := s.init("init", "login", shapeReturn)
			s.submit("ask_for_options", "login", id, map[string]string{"method": "passkey"})
			stranger := newAuthenticator()
			stranger.auth.Options.UserHandle = []byte("0123456789abcdef")
			s.submit("unknown_passkey", "login", id, map[string]string{"passkey_login": stranger.get(s.t, testRP, nodeValue(s.t, s.last, "passkey_challenge"))})
			s.submit("passkey", "login", id, map[string]string{"passkey_login": a.get(s.t, testRP, nodeValue(s.t, s.last, "passkey_challenge"))})
			s.init("refresh", "login", "refresh=true")
		}},
		{name: "security_key_aal2", run: func(s *shaper) {
			s.e.createUser(s.t, "kai@example.com")
			s.login("kai@example.com", "an old passphrase 1")
			id := s.init("settings", "settings", "")
			if s.mode == modeNative {
				s.submit("add", "settings", id, map[string]string{"method": "webauthn", "webauthn_register": "{}"})
				return
			}
			key := newAuthenticator()
			// Added as an SPA would (a browser's 303 leads to a settings
			// flow that now needs aal2: 403, which the shaper cannot fetch).
			added := s.c.raw("POST", "/self-service/settings?flow="+id, map[string]any{"csrf_token": csrfOf(s.t, s.last),
				"webauthn_register_displayname": "Blue key", "webauthn_register": key.create(s.t, testRP, nodeValue(s.t, s.last, "webauthn_register_trigger"))})
			must(s.t, added, 200)
			// A new browser: password first, then the key at aal2.
			s.c = s.e.browser(s.t)
			s.c.json = s.mode == modeSPA
			s.last = nil
			lid := s.init("login", "login", "")
			s.submit("password", "login", lid, map[string]string{"method": "password", "identifier": "kai@example.com", "password": "an old passphrase 1"})
			aid := s.init("aal2", "login", "aal=aal2")
			s.submit("wrong_key", "login", aid, map[string]string{"webauthn_login": newAuthenticator().get(s.t, testRP, nodeValue(s.t, s.last, "webauthn_login_trigger"))})
			s.submit("key", "login", aid, map[string]string{"webauthn_login": key.get(s.t, testRP, nodeValue(s.t, s.last, "webauthn_login_trigger"))})
			sid := s.init("settings_aal2", "settings", "")
			s.submit("remove", "settings", sid, map[string]string{"webauthn_remove": hexOf(key.cred.ID)})
		}},
		{name: "settings_passkey", run: func(s *shaper) {
			if s.mode == modeNative {
				s.e.createUser(s.t, "nia@example.com")
				s.login("nia@example.com", "an old passphrase 1")
				s.init("init", "settings", "")
				return
			}
			a := newAuthenticator()
			s.passkeySignUp(a, "sara@example.com")
			id := s.init("init", "settings", shapeReturn)
			second := newAuthenticator()
			s.submit("add", "settings", id, map[string]string{"passkey_settings_register": second.create(s.t, testRP, nodeValue(s.t, s.last, "passkey_create_data"))})
			s.submit("remove", "settings", id, map[string]string{"passkey_remove": hexOf(a.cred.ID)})
			s.submit("remove_last", "settings", id, map[string]string{"method": "passkey", "passkey_remove": hexOf(second.cred.ID)})
		}},
	}
	for _, sc := range scenarios {
		for _, mode := range shapeModes {
			t.Run(sc.name+"_"+string(mode), func(t *testing.T) {
				t.Parallel()
				s := newShaper(t, newSelfServiceEnv(t, withPasskeys(t), withSecurityKeys(t, false), withMFA(t)), mode)
				sc.run(s)
				s.check(sc.name + "_" + string(mode))
			})
		}
	}
}

// passkeySignUp signs the shaper's client up with a passkey (SPA style,
// whatever the mode: the cookies are the same), without recording it.
func (s *shaper) passkeySignUp(a *authenticator, email string) {
	s.t.Helper()
	was := s.c.json
	s.c.json = true
	defer func() { s.c.json = was }()
	rec := s.steps
	id := s.init("signup", "registration", "")
	s.submit("signup", "registration", id, map[string]string{"method": "profile", "traits.email": email})
	was2 := s.mode
	s.mode = modeSPA
	s.submit("signup", "registration", id, map[string]string{"traits.email": email, "passkey_register": a.create(s.t, testRP, createOptions(s.t, s.last))})
	s.mode = was2
	s.steps = rec
}
