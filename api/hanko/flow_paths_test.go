package hanko

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/store"
)

// capabilities is what hanko-elements sends in a browser without WebAuthn.
var capabilities = map[string]any{"webauthn_available": false,
	"webauthn_conditional_mediation_available": false, "webauthn_platform_authenticator_available": false}

// TestFlowRememberMe: cookie retention persistent, session and prompt
// (remember_me on login_init and registration_init), with the cookie's
// Max-Age and X-Session-Retention as Hanko's IssueSession sets them.
func TestFlowRememberMe(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		retention  string
		authHeader bool
		remember   []bool // remember_me submissions, in order
		register   bool
		offered    bool
		want       Retention
	}{
		{name: "persistent", retention: "persistent", want: RetentionPersistent},
		{name: "session", retention: "session", want: RetentionSession},
		{name: "prompt without a choice", retention: "prompt", offered: true, want: RetentionSession},
		{name: "prompt, remember me", retention: "prompt", offered: true, remember: []bool{true}, want: RetentionPersistent},
		{name: "prompt, changed mind", retention: "prompt", offered: true, remember: []bool{true, false}, want: RetentionSession},
		{name: "prompt, registration", retention: "prompt", offered: true, register: true, remember: []bool{true}, want: RetentionPersistent},
		{name: "prompt, auth token header", retention: "prompt", authHeader: true, offered: true, remember: []bool{true}, want: RetentionPersistent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newFEnv(t, func(c *config.Hanko) {
				c.Email.UseForAuthentication = false
				c.Session.Cookie.Retention = tc.retention
				c.Session.EnableAuthTokenHeader = tc.authHeader
			})
			cl := e.client(t)
			init := stateLoginInit
			if tc.register {
				init = stateRegistrationInit
				cl.start("registration")
			} else {
				e.createUser(t, "quinn@example.com", "quinn's password")
				cl.start("login")
			}
			r := cl.act("register_client_capabilities", capabilities)
			mustState(t, r, init, 200)
			if _, ok := r.Actions["remember_me"]; ok != tc.offered {
				t.Fatalf("remember_me offered = %v, want %v: %v", ok, tc.offered, actionNames(r))
			}
			if tc.offered && !tc.register && !tc.authHeader && len(tc.remember) == 1 {
				golden(t, "login_init_remember_me", r)
			}
			for _, v := range tc.remember {
				mustState(t, cl.act("remember_me", map[string]any{"remember_me": v}), init, 200)
			}
			if tc.register {
				mustState(t, cl.act("register_login_identifier", map[string]any{"email": "quinn@example.com"}), statePasscodeConfirmation, 200)
				c, _ := e.lastCode(t, "quinn@example.com")
				mustState(t, cl.act("verify_passcode", map[string]any{"code": c}), statePasswordCreation, 200)
				r = cl.act("register_password", map[string]any{"new_password": "quinn's password"})
			} else {
				mustState(t, cl.act("continue_with_login_identifier", map[string]any{"email": "quinn@example.com"}), stateLoginPassword, 200)
				r = cl.act("password_login", map[string]any{"password": "quinn's password"})
			}
			amr := AMRPassword
			if tc.register {
				amr = AMRPasscode // the address was verified first
			}
			checkSession(t, e, cl, r, amr)
			if got := r.header.Get("X-Session-Retention"); got != string(tc.want) {
				t.Errorf("X-Session-Retention = %q, want %q", got, tc.want)
			}
			if r.header.Get("X-Session-Lifetime") != "43200" {
				t.Errorf("X-Session-Lifetime = %q, want 43200 (12h)", r.header.Get("X-Session-Lifetime"))
			}
			ck, hasCookie := cl.cookies["hanko"]
			if tc.authHeader {
				if hasCookie || r.header.Get("X-Auth-Token") == "" {
					t.Fatalf("auth token header: cookie %v, X-Auth-Token %q", hasCookie, r.header.Get("X-Auth-Token"))
				}
				return
			}
			if !hasCookie {
				t.Fatal("no hanko cookie")
			}
			switch tc.want {
			case RetentionPersistent:
				if ck.MaxAge != 43200 {
					t.Errorf("persistent cookie Max-Age = %d, want 43200", ck.MaxAge)
				}
			case RetentionSession:
				if ck.MaxAge != 0 || ck.RawExpires != "" {
					t.Errorf("session cookie has Max-Age %d, Expires %q", ck.MaxAge, ck.RawExpires)
				}
			}
		})
	}
}

// TestFlowOnboardingUsername: login asks a user without a username for one
// (username_create, as the real server names it), refusing taken and
// too-short names on the input, and skip when usernames are optional.
func TestFlowOnboardingUsername(t *testing.T) {
	t.Parallel()
	for _, optional := range []bool{true, false} {
		name := "optional"
		if !optional {
			name = "required"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newFEnv(t, func(c *config.Hanko) {
				c.Email.UseForAuthentication = false
				c.Username.Enabled, c.Username.AcquireOnLogin, c.Username.Optional = true, true, optional
			})
			e.createUser(t, "olga@example.com", "olga's password")
			e.createUser(t, "rita@example.com", "rita's password")
			taken := e.createUser(t, "sam@example.com", "")
			if _, err := e.ids.Update(context.Background(), taken.ID, identity.Draft{SchemaID: taken.SchemaID,
				Traits: json.RawMessage(`{"email":"sam@example.com","username":"taken"}`)}); err != nil {
				t.Fatal(err)
			}

			cl := e.client(t)
			r := passwordLogin(t, cl, "olga@example.com", "olga's password")
			mustState(t, r, stateOnboardingUsername, 200)
			if optional {
				golden(t, "onboarding_username", r)
			} else if _, ok := r.Actions["skip"]; ok {
				t.Fatal("skip offered although usernames are required")
			}
			cases := []struct{ value, code string }{
				{"ab", "value_too_short_error"},
				{"Taken", codeUsernameAlreadyExists},
				{"no spaces", codeInvalidUsername},
			}
			for _, c := range cases {
				r = cl.act("username_create", map[string]any{"username": c.value})
				mustState(t, r, stateOnboardingUsername, 400)
				if got := inputError(r, "username_create", "username"); got != c.code {
					t.Errorf("username %q: input error %q, want %q (%s)", c.value, got, c.code, r.raw)
				}
			}
			claims := checkSession(t, e, cl, cl.act("username_create", map[string]any{"username": "Olga_K"}), AMRPassword)
			if claims.Extra["username"] != "olga_k" {
				t.Errorf("username claim = %v", claims.Extra["username"])
			}
			again := e.client(t)
			checkSession(t, e, again, passwordLogin(t, again, "olga@example.com", "olga's password"), AMRPassword)

			if optional {
				other := e.client(t)
				mustState(t, passwordLogin(t, other, "rita@example.com", "rita's password"), stateOnboardingUsername, 200)
				claims := checkSession(t, e, other, other.act("skip", nil), AMRPassword)
				if _, ok := claims.Extra["username"]; ok {
					t.Errorf("skipped, yet username claim %v", claims.Extra["username"])
				}
			}
		})
	}
}

// optionalEmailSchema is the default identity schema without the
// requirement of an e-mail address, so users with a username only exist.
func optionalEmailSchema(t *testing.T) []schema.Source {
	t.Helper()
	raw, err := os.ReadFile("../../schema/default.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc["properties"].(map[string]any)["traits"].(map[string]any), "required")
	raw, _ = json.Marshal(doc)
	return []schema.Source{{ID: "default", URL: "base64://" + base64.StdEncoding.EncodeToString(raw)}}
}

// withSchemas replaces the identity service by one over sources.
func withSchemas(t *testing.T, sources []schema.Source) func(o *Options) {
	return func(o *Options) {
		reg, err := schema.New(sources)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := identity.New(identity.Options{Store: o.Store, Schemas: reg, Hasher: o.Hasher})
		if err != nil {
			t.Fatal(err)
		}
		o.Identities = ids
	}
}

// TestFlowOnboardingEmail: a user with a username and no e-mail address
// logs in by username and is asked for an address (onboarding_email),
// which is verified by passcode before it is stored as the primary one.
func TestFlowOnboardingEmail(t *testing.T) {
	t.Parallel()
	e := newFEnvWith(t, func(c *config.Hanko) {
		c.Username.Enabled, c.Username.UseAsLoginIdentifier = true, true
		c.Email.Optional, c.Email.AcquireOnLogin = true, true
	}, withSchemas(t, optionalEmailSchema(t)))
	mk := func(username string) *core.Identity {
		raw, _ := json.Marshal(map[string]string{"username": username})
		i, err := e.ids.Create(context.Background(), identity.Draft{Traits: raw,
			Credentials: &identity.CredentialsDraft{Password: &identity.PasswordDraft{Password: username + "'s password"}}})
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	pavel, tom := mk("pavel"), mk("tom")
	e.createUser(t, "uma@example.com", "")

	login := func(cl *client, username string) *flowResp {
		cl.start("login")
		r := cl.act("register_client_capabilities", capabilities)
		mustState(t, r, stateLoginInit, 200)
		golden(t, "login_init_identifier", r)
		// No e-mail address to mail a passcode to: straight to the password.
		mustState(t, cl.act("continue_with_login_identifier", map[string]any{"identifier": username}), stateLoginPassword, 200)
		return cl.act("password_login", map[string]any{"password": username + "'s password"})
	}

	cl := e.client(t)
	r := login(cl, "pavel")
	mustState(t, r, stateOnboardingEmail, 200)
	golden(t, "onboarding_email", r)
	r = cl.act("email_address_set", map[string]any{"email": "uma@example.com"})
	mustState(t, r, stateOnboardingEmail, 400)
	if got := inputError(r, "email_address_set", "email"); got != codeEmailAlreadyExists {
		t.Fatalf("taken address: %q (%s)", got, r.raw)
	}
	mustState(t, cl.act("email_address_set", map[string]any{"email": "Pavel@Example.com"}), statePasscodeConfirmation, 200)
	code, m := e.lastCode(t, "pavel@example.com")
	if m.TemplateType != "email_verification" {
		t.Errorf("mail type %s", m.TemplateType)
	}
	claims := checkSession(t, e, cl, cl.act("verify_passcode", map[string]any{"code": code}), AMRPassword)
	if claims.Subject != pavel.ID {
		t.Fatalf("sub %s", claims.Subject)
	}
	email, _ := claims.Extra["email"].(map[string]any)
	if email["address"] != "pavel@example.com" || email["is_primary"] != true || email["is_verified"] != true {
		t.Errorf("email claim %v", claims.Extra["email"])
	}
	i, err := e.ids.Get(context.Background(), pavel.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := i.PrimaryAddress(core.ViaEmail); !ok || !a.Verified || a.Value != "pavel@example.com" {
		t.Errorf("addresses %+v", i.Addresses)
	}

	other := e.client(t)
	mustState(t, login(other, "tom"), stateOnboardingEmail, 200)
	if got := checkSession(t, e, other, other.act("skip", nil), AMRPassword); got.Subject != tom.ID {
		t.Errorf("sub %s", got.Subject)
	}

	unknown := e.client(t)
	unknown.start("login")
	unknown.act("register_client_capabilities", capabilities)
	r = unknown.act("continue_with_login_identifier", map[string]any{"identifier": "nobody"})
	mustState(t, r, stateLoginInit, 400)
	if got := inputError(r, "continue_with_login_identifier", "identifier"); got != codeUnknownUsername {
		t.Errorf("unknown username: %q", got)
	}
}

// validate calls GET /sessions/validate with token as Bearer.
func (e *fEnv) validate(t *testing.T, token string) bool {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/sessions/validate", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	e.public.ServeHTTP(rec, req)
	var v struct {
		IsValid bool `json:"is_valid"`
	}
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &v) != nil {
		t.Fatalf("validate: %d %s", rec.Code, rec.Body.Bytes())
	}
	return v.IsValid
}

// TestFlowSessionDelete: the profile lists the user's sessions and
// session_delete revokes another one (its JWT is no longer valid) but
// refuses the current one and sessions of others.
func TestFlowSessionDelete(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, func(c *config.Hanko) { c.Email.UseForAuthentication = false })
	e.createUser(t, "vera@example.com", "vera's password")
	e.createUser(t, "walt@example.com", "walt's password")
	a, b, w := e.client(t), e.client(t), e.client(t)
	sa := checkSession(t, e, a, passwordLogin(t, a, "vera@example.com", "vera's password"), AMRPassword)
	sb := checkSession(t, e, b, passwordLogin(t, b, "vera@example.com", "vera's password"), AMRPassword)
	sw := checkSession(t, e, w, passwordLogin(t, w, "walt@example.com", "walt's password"), AMRPassword)

	cl := e.client(t)
	cl.bearer = a.bearer
	cl.start("profile")
	r := cl.act("register_client_capabilities", capabilities)
	mustState(t, r, stateProfileInit, 200)
	var sessions []SessionJSON
	if err := json.Unmarshal(r.Payload["sessions"], &sessions); err != nil || len(sessions) != 2 {
		t.Fatalf("sessions %s (%v)", r.Payload["sessions"], err)
	}
	for _, s := range sessions {
		if s.Current != (s.ID == sa.SessionID) {
			t.Errorf("session %s current = %v", s.ID, s.Current)
		}
	}

	for _, tc := range []struct{ name, id string }{
		{"the current session", sa.SessionID},
		{"another user's session", sw.SessionID},
		{"an unknown session", "0b7c1a52-5c1e-4f44-9d0e-3c2d6f1d9a11"},
	} {
		r = cl.act("session_delete", map[string]any{"session_id": tc.id})
		mustState(t, r, stateProfileInit, 400)
		if got := inputError(r, "session_delete", "session_id"); got != "value_invalid_error" {
			t.Errorf("%s: input error %q", tc.name, got)
		}
	}
	if !e.validate(t, a.bearer) || !e.validate(t, w.bearer) {
		t.Fatal("a refused session_delete revoked a session")
	}

	r = cl.act("session_delete", map[string]any{"session_id": sb.SessionID})
	mustState(t, r, stateProfileInit, 200)
	if err := json.Unmarshal(r.Payload["sessions"], &sessions); err != nil || len(sessions) != 1 || sessions[0].ID != sa.SessionID {
		t.Fatalf("sessions after delete %s", r.Payload["sessions"])
	}
	if e.validate(t, b.bearer) {
		t.Error("the deleted session's JWT is still valid")
	}
	if !e.validate(t, a.bearer) {
		t.Error("the current session ended")
	}
	ev := e.events.of(EventSessionDelete)
	if len(ev) != 1 || ev[0].Data.(SessionEventJSON).ID != sb.SessionID {
		t.Errorf("session.delete events %+v", ev)
	}
}

// TestFlowEmailDeliveryOff: with hanko.email.delivery false no mail is
// queued; the passcode reaches the user only through the email.send
// webhook event, with the code and the X-Language language.
func TestFlowEmailDeliveryOff(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, func(c *config.Hanko) { c.Email.Delivery = false })
	u := e.createUser(t, "xena@example.com", "")

	cl := e.client(t)
	cl.lang = "de"
	toPasscode(t, cl, "xena@example.com")
	toPasscode(t, e.client(t), "nobody@example.com")
	for _, addr := range []string{"xena@example.com", "nobody@example.com"} {
		msgs, err := e.store.ListMessages(context.Background(), store.MessageQuery{Recipient: addr})
		if err != nil || len(msgs) != 0 {
			t.Fatalf("courier messages to %s: %d (%v)", addr, len(msgs), err)
		}
	}
	sends := e.events.of(EventEmailSend)
	if len(sends) != 2 {
		t.Fatalf("%d email.send events, want 2", len(sends))
	}
	known, notice := sends[0].Data.(EmailSendJSON), sends[1].Data.(EmailSendJSON)
	if known.DeliveredByHanko || known.ToEmailAddress != "xena@example.com" || known.Type != "passcode" ||
		known.Language != "de" || !bytes.Contains([]byte(known.Subject), []byte("Code")) {
		t.Errorf("email.send = %+v", known)
	}
	data, ok := known.Data.(EmailPasscodeData)
	if !ok || !regexp.MustCompile(`^\d{6}$`).MatchString(data.OTPCode) || data.TTL != 300 {
		t.Fatalf("email.send data %+v", known.Data)
	}
	if notice.Type != "email_login_attempted" || notice.ToEmailAddress != "nobody@example.com" {
		t.Errorf("notice %+v", notice)
	}
	if _, isCode := notice.Data.(EmailPasscodeData); isCode {
		t.Error("the notice for an unknown address carries a code")
	}
	if got := checkSession(t, e, cl, cl.act("verify_passcode", map[string]any{"code": data.OTPCode}), AMRPasscode); got.Subject != u.ID {
		t.Errorf("sub %s", got.Subject)
	}
}

// TestFlowBack: back from the method chooser's choices returns to the
// chooser; the passcode's attempt count survives going back and forth.
func TestFlowBack(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, nil)
	e.createUser(t, "yara@example.com", "yara's password")
	cl := e.client(t)
	cl.start("login")
	cl.act("register_client_capabilities", capabilities)
	r := cl.act("continue_with_login_identifier", map[string]any{"email": "yara@example.com"})
	mustState(t, r, stateLoginMethodChooser, 200)
	golden(t, "login_method_chooser", r)
	mustState(t, cl.act("back", nil), stateLoginInit, 200)
	mustState(t, cl.act("continue_with_login_identifier", map[string]any{"email": "yara@example.com"}), stateLoginMethodChooser, 200)
	mustState(t, cl.act("continue_to_password_login", nil), stateLoginPassword, 200)
	mustState(t, cl.act("back", nil), stateLoginMethodChooser, 200)
	mustState(t, cl.act("continue_to_passcode_confirmation", nil), statePasscodeConfirmation, 200)
	for n := 0; n < 2; n++ {
		mustState(t, cl.act("verify_passcode", map[string]any{"code": "000000"}), statePasscodeConfirmation, 400)
	}
	mustState(t, cl.act("back", nil), stateLoginMethodChooser, 200)
	mustState(t, cl.act("continue_to_passcode_confirmation", nil), statePasscodeConfirmation, 200)
	code, _ := e.lastCode(t, "yara@example.com")
	r = cl.act("verify_passcode", map[string]any{"code": code})
	if r.code == 200 {
		// A new passcode was mailed on re-entry: the count starts again
		// only with a new code, which Hanko does too (SendPasscode issues
		// a fresh passcode each time the state is entered).
		checkSession(t, e, cl, r, AMRPasscode)
		return
	}
	t.Fatalf("verify after back: %s", r.raw)
}

// TestFlowGoldenStates pins the actions of the states not pinned elsewhere:
// registration with a username, and passcode_confirmation in the
// registration and profile flows.
func TestFlowGoldenStates(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, func(c *config.Hanko) {
		c.Username.Enabled, c.Username.AcquireOnRegistration = true, true
	})
	cl := e.client(t)
	cl.start("registration")
	r := cl.act("register_client_capabilities", capabilities)
	mustState(t, r, stateRegistrationInit, 200)
	golden(t, "registration_init_username", r)
	r = cl.act("register_login_identifier", map[string]any{"email": "zoe@example.com", "username": "zoe"})
	mustState(t, r, statePasscodeConfirmation, 200)
	golden(t, "registration_passcode_confirmation", r)
	code, _ := e.lastCode(t, "zoe@example.com")
	mustState(t, cl.act("verify_passcode", map[string]any{"code": code}), statePasswordCreation, 200)
	claims := checkSession(t, e, cl, cl.act("register_password", map[string]any{"new_password": "zoe's password"}), AMRPasscode)
	if claims.Extra["username"] != "zoe" {
		t.Errorf("username claim %v", claims.Extra["username"])
	}

	p := e.client(t)
	p.bearer = cl.bearer
	p.start("profile")
	p.act("register_client_capabilities", capabilities)
	r = p.act("email_create", map[string]any{"email": "zoe2@example.com"})
	mustState(t, r, statePasscodeConfirmation, 200)
	golden(t, "profile_passcode_confirmation", r)
	mustState(t, p.act("back", nil), stateProfileInit, 200)
}

// flowIDOf returns the flow id in the hrefs of the last response.
func flowIDOf(t *testing.T, r *flowResp) string {
	t.Helper()
	for _, a := range r.Actions {
		if _, id, ok := strings.Cut(a.Href, "%40"); ok {
			return id
		}
	}
	t.Fatalf("no action href in %s", r.raw)
	return ""
}

// TestFlowServerErrors: a step that cannot go on answers in the error
// state with Hanko's 500 codes and no internals.
func TestFlowServerErrors(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, nil)

	t.Run("technical_error", func(t *testing.T) {
		u := e.createUser(t, "ada@example.com", "")
		cl := e.client(t)
		toPasscode(t, cl, "ada@example.com")
		code, _ := e.lastCode(t, "ada@example.com")
		if err := e.store.DeleteIdentity(context.Background(), u.ID); err != nil {
			t.Fatal(err)
		}
		r := cl.act("verify_passcode", map[string]any{"code": code})
		if r.code != 500 || r.Name != stateError || r.Error == nil || r.Error.Code != "technical_error" ||
			r.Error.Message != "Something went wrong." || bytes.Contains(r.raw, []byte(u.ID)) {
			t.Fatalf("got %d %s", r.code, r.raw)
		}
	})

	t.Run("flow_discontinuity_error", func(t *testing.T) {
		e.createUser(t, "bea@example.com", "")
		cl := e.client(t)
		r := toPasscode(t, cl, "bea@example.com")
		// The passcode in play vanishes from the stash (a flow stored by
		// an older release, say): resending has nothing to resend.
		ctx := context.Background()
		f, err := e.store.GetFlow(ctx, flowIDOf(t, r))
		if err != nil {
			t.Fatal(err)
		}
		var stash map[string]json.RawMessage
		if err := json.Unmarshal(f.Stash, &stash); err != nil {
			t.Fatal(err)
		}
		var data map[string]json.RawMessage
		if err := json.Unmarshal(stash["data"], &data); err != nil || data["passcode"] == nil {
			t.Fatalf("no passcode in the stash %s (%v)", f.Stash, err)
		}
		delete(data, "passcode")
		stash["data"], _ = json.Marshal(data)
		if f.Stash, err = json.Marshal(stash); err != nil {
			t.Fatal(err)
		}
		if err := e.store.UpdateFlow(ctx, f); err != nil {
			t.Fatal(err)
		}
		r = cl.act("resend_passcode", nil)
		if r.code != 500 || r.Name != stateError || r.Error == nil || r.Error.Code != "flow_discontinuity_error" {
			t.Fatalf("got %d %s", r.code, r.raw)
		}
	})
}

// TestFlowLoginPasscodeOnly: with passwords off the identifier step mails
// the passcode itself and goes straight to passcode_confirmation (notes §6,
// passcode login), and a successful login reports last_login passcode.
func TestFlowLoginPasscodeOnly(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, func(c *config.Hanko) { c.Password.Enabled = false })
	u := e.createUser(t, "cleo@example.com", "")
	cl := e.client(t)
	mustState(t, cl.start("login"), statePreflight, 200)
	mustState(t, cl.act("register_client_capabilities", capabilities), stateLoginInit, 200)
	r := cl.act("continue_with_login_identifier", map[string]any{"email": "cleo@example.com"})
	mustState(t, r, statePasscodeConfirmation, 200)
	code, m := e.lastCode(t, "cleo@example.com")
	if m.TemplateType != "login" {
		t.Fatalf("mail type %s", m.TemplateType)
	}
	r = cl.act("verify_passcode", map[string]any{"code": code})
	if got := checkSession(t, e, cl, r, AMRPasscode); got.Subject != u.ID {
		t.Errorf("sub %s", got.Subject)
	}
	if !strings.Contains(string(r.Payload["last_login"]), `"passcode"`) {
		t.Errorf("last_login = %s", r.Payload["last_login"])
	}
}
