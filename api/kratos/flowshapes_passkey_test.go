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
				s := newShaper(t, newSelfServiceEnv(t, withPasskeys(t)), mode)
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
