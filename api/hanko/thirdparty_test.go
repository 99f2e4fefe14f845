package hanko

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/latchkey/latchkey/api/hanko/hankotest"
	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/method/oidc"
	"github.com/latchkey/latchkey/store/storetest"
	"github.com/latchkey/latchkey/upstream"
)

const tpCallbackURL = "http://127.0.0.1:4433/thirdparty/callback"

func startMock(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

func thirdPartyMethod(t *testing.T, mocks map[string]*mockoidc.MockOIDC, linking map[string]bool) *oidc.Method {
	t.Helper()
	var ps []*oidc.Provider
	for _, id := range []string{"corp", "linked"} {
		m := mocks[id]
		up, err := upstream.New(upstream.Config{Kind: oidc.KindGeneric, ClientID: m.ClientID, ClientSecret: m.ClientSecret, IssuerURL: m.Issuer()})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, &oidc.Provider{ID: id, Kind: oidc.KindGeneric, Label: strings.ToUpper(id[:1]) + id[1:], Scope: []string{"openid", "email", "profile"},
			PKCE: oidc.PKCEAuto, AllowLinking: linking[id], Upstream: up})
	}
	c, err := cipher.New(strings.Repeat("t", 32))
	if err != nil {
		t.Fatal(err)
	}
	meth, err := oidc.New(oidc.Config{Providers: ps, Sealer: c})
	if err != nil {
		t.Fatal(err)
	}
	return meth
}

func thirdPartyConfig(c *config.Hanko) {
	c.ThirdParty.AllowedRedirectURLs = []string{"https://app.example.com/**"}
	c.ThirdParty.ErrorRedirectURL = "https://app.example.com/error"
	c.ThirdParty.RedirectURL = tpCallbackURL
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// thirdPartyStart runs a flow up to thirdparty_oauth and returns the
// provider URL.
func thirdPartyStart(t *testing.T, cl *client, flowName, provider string) string {
	t.Helper()
	mustState(t, cl.start(flowName), statePreflight, 200)
	r := cl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
	r = cl.act("thirdparty_oauth", map[string]any{"provider": provider, "redirect_to": "https://app.example.com/after", "code_verifier": "client-verifier"})
	mustState(t, r, stateThirdParty, 200)
	var to string
	if err := jsonUnmarshal(r.Payload["redirect_url"], &to); err != nil || to == "" {
		t.Fatalf("no payload.redirect_url: %s", r.raw)
	}
	if _, ok := cl.cookies[tpStateCookie]; !ok {
		t.Fatal("no hanko_thirdparty_state cookie")
	}
	return to
}

// callback follows the browser through the provider back to
// /thirdparty/callback and returns where Latchkey sends it.
func (cl *client) callback(t *testing.T, authURL string, mangle func(q url.Values)) *url.URL {
	t.Helper()
	res, err := noFollow.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	back, err := url.Parse(res.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(back.String(), tpCallbackURL) {
		t.Fatalf("provider sent the browser to %q", res.Header.Get("Location"))
	}
	q := back.Query()
	if mangle != nil {
		mangle(q)
	}
	req := httptest.NewRequest(http.MethodGet, "/thirdparty/callback?"+q.Encode(), nil)
	for _, ck := range cl.cookies {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	cl.e.public.ServeHTTP(rec, req)
	if rec.Code != http.StatusTemporaryRedirect && rec.Code != http.StatusSeeOther {
		t.Fatalf("callback answered %d: %s", rec.Code, rec.Body.Bytes())
	}
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestThirdParty(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mocks := map[string]*mockoidc.MockOIDC{"corp": startMock(t), "linked": startMock(t)}
			e := newFEnvOn(t, open(t), thirdPartyConfig, func(o *Options) { o.OIDC = thirdPartyMethod(t, mocks, map[string]bool{"linked": true}) })
			ctx := context.Background()

			// Sign-up through a provider in a registration flow.
			mocks["corp"].QueueUser(&mockoidc.MockUser{Subject: "c-1", Email: "Carol@Example.com", EmailVerified: true})
			cl := e.client(t)
			back := cl.callback(t, thirdPartyStart(t, cl, "registration", "custom_corp"), nil)
			tok := back.Query().Get("hanko_token")
			if !strings.HasPrefix(back.String(), "https://app.example.com/after?") || tok == "" {
				t.Fatalf("callback redirects to %s", back)
			}
			if bad := cl.act("exchange_token", map[string]any{"token": tok, "code_verifier": "other"}); bad.code != 400 {
				t.Fatalf("wrong code_verifier accepted: %s", bad.raw)
			}
			claims := checkSession(t, e, cl, cl.act("exchange_token", map[string]any{"token": tok, "code_verifier": "client-verifier"}), "ext:corp")
			carol := claims.Subject
			i, err := e.ids.Get(ctx, carol)
			if err != nil {
				t.Fatal(err)
			}
			if a, ok := i.PrimaryAddress(core.ViaEmail); !ok || !a.Verified || a.Value != "carol@example.com" {
				t.Fatalf("addresses %+v", i.Addresses)
			}

			// /me lists the provider connection (validated against the
			// public API spec).
			req := httptest.NewRequest(http.MethodGet, "/me", nil)
			req.Header.Set("Authorization", "Bearer "+cl.bearer)
			rec := httptest.NewRecorder()
			e.public.ServeHTTP(rec, req)
			hankotest.New(t, hankotest.Public).Validate(t, req, rec.Code, rec.Header(), rec.Body.Bytes())
			if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"identities":[{"id":"c-1","identity_id":"`) || !strings.Contains(rec.Body.String(), `"provider":"Corp"`) {
				t.Fatalf("/me: %d %s", rec.Code, rec.Body.Bytes())
			}
			if u := adminUserJSON(i, nil); len(u.Identities) != 1 || u.Identities[0].ID != "c-1" || u.Identities[0].Provider != "corp" {
				t.Fatalf("admin view identities %+v", u.Identities)
			}

			// Sign-in again through a login flow: the same user.
			mocks["corp"].QueueUser(&mockoidc.MockUser{Subject: "c-1", Email: "carol@example.com", EmailVerified: true})
			cl = e.client(t)
			back = cl.callback(t, thirdPartyStart(t, cl, "login", "custom_corp"), nil)
			if got := checkSession(t, e, cl, cl.act("exchange_token", map[string]any{"token": back.Query().Get("hanko_token"), "code_verifier": "client-verifier"}), "ext:corp"); got.Subject != carol {
				t.Fatalf("signed in as %s, want %s", got.Subject, carol)
			}

			// Someone else's e-mail, not linked: user_conflict, no token.
			owner := e.createUser(t, "owner@example.com", "owner's password")
			for _, tc := range []struct {
				provider string
				verified bool
			}{{"custom_corp", true}, {"custom_linked", false}} {
				mocks[strings.TrimPrefix(tc.provider, "custom_")].QueueUser(&mockoidc.MockUser{Subject: "attacker", Email: "owner@example.com", EmailVerified: tc.verified})
				cl = e.client(t)
				back = cl.callback(t, thirdPartyStart(t, cl, "login", tc.provider), nil)
				if !strings.HasPrefix(back.String(), "https://app.example.com/error?") || back.Query().Get("error") != "user_conflict" || back.Query().Get("hanko_token") != "" {
					t.Fatalf("%s verified=%v: redirected to %s", tc.provider, tc.verified, back)
				}
			}
			// The owner's address is not verified yet: even a verified
			// provider e-mail with allow_linking gets nothing.
			mocks["linked"].QueueUser(&mockoidc.MockUser{Subject: "owner-at-linked", Email: "owner@example.com", EmailVerified: true})
			cl = e.client(t)
			if back = cl.callback(t, thirdPartyStart(t, cl, "login", "custom_linked"), nil); back.Query().Get("error") != "user_conflict" {
				t.Fatalf("linked to an unverified address: %s", back)
			}
			// Verified on both sides with allow_linking: linked.
			owner, err = e.ids.Get(ctx, owner.ID)
			if err != nil {
				t.Fatal(err)
			}
			for n := range owner.Addresses {
				owner.Addresses[n].Verified = true
			}
			if err := e.store.UpdateIdentity(ctx, owner); err != nil {
				t.Fatal(err)
			}
			mocks["linked"].QueueUser(&mockoidc.MockUser{Subject: "owner-at-linked", Email: "owner@example.com", EmailVerified: true})
			cl = e.client(t)
			back = cl.callback(t, thirdPartyStart(t, cl, "login", "custom_linked"), nil)
			if got := checkSession(t, e, cl, cl.act("exchange_token", map[string]any{"token": back.Query().Get("hanko_token"), "code_verifier": "client-verifier"}), "ext:linked"); got.Subject != owner.ID {
				t.Fatalf("linked sign-in as %s, want %s", got.Subject, owner.ID)
			}
		})
	}
}

func TestThirdPartyRefusals(t *testing.T) {
	t.Parallel()
	mocks := map[string]*mockoidc.MockOIDC{"corp": startMock(t), "linked": startMock(t)}
	e := newFEnvWith(t, thirdPartyConfig, func(o *Options) { o.OIDC = thirdPartyMethod(t, mocks, nil) })

	// redirect_to outside allowed_redirect_urls, unknown provider.
	cl := e.client(t)
	mustState(t, cl.start("login"), statePreflight, 200)
	cl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
	for _, tc := range []struct{ provider, to, input string }{
		{"custom_corp", "https://evil.example.net/after", "redirect_to"},
		{"custom_corp", "https://app.example.com@evil.example.net/", "redirect_to"},
		{"custom_nope", "https://app.example.com/after", "provider"},
	} {
		r := cl.act("thirdparty_oauth", map[string]any{"provider": tc.provider, "redirect_to": tc.to})
		if r.code != 400 || inputError(r, "thirdparty_oauth", tc.input) == "" {
			t.Fatalf("%+v: %d %s", tc, r.code, r.raw)
		}
	}
	// Clients cannot name the internal callback action.
	href, _ := url.QueryUnescape(cl.last.Actions["thirdparty_oauth"].Href)
	_, fid, _ := strings.Cut(href, "@")
	r := cl.post("/login?action="+url.QueryEscape(tpCallbackAction+"@"+fid), []byte(`{"csrf_token":"`+cl.last.CSRFToken+`"}`))
	if r.code != http.StatusForbidden {
		t.Fatalf("internal action: %d %s", r.code, r.raw)
	}

	for _, tc := range []struct {
		name   string
		mangle func(q url.Values)
		drop   bool
		want   string
	}{
		{"provider refused", func(q url.Values) { q.Del("code"); q.Set("error", "access_denied") }, false, "access_denied"},
		{"state tampered", func(q url.Values) { q.Set("state", q.Get("state")+"x") }, false, "invalid_request"},
		{"no state cookie", nil, true, "invalid_request"},
		{"forged code", func(q url.Values) { q.Set("code", "forged") }, false, "server_error"},
	} {
		cl := e.client(t)
		authURL := thirdPartyStart(t, cl, "login", "custom_corp")
		if tc.drop {
			delete(cl.cookies, tpStateCookie)
		}
		back := cl.callback(t, authURL, tc.mangle)
		if back.Query().Get("error") != tc.want || back.Query().Get("hanko_token") != "" || !strings.HasPrefix(back.String(), "https://app.example.com/error?") {
			t.Errorf("%s: redirected to %s", tc.name, back)
		}
		if r := cl.act("exchange_token", map[string]any{"token": "guess"}); r.code != 400 {
			t.Errorf("%s: exchange without a token: %d", tc.name, r.code)
		}
	}
	// A token is good once; wrong guesses use it up.
	mocks["corp"].QueueUser(&mockoidc.MockUser{Subject: "z", Email: "z@example.com", EmailVerified: true})
	cl = e.client(t)
	back := cl.callback(t, thirdPartyStart(t, cl, "login", "custom_corp"), nil)
	for range tpTokenAttempts {
		cl.act("exchange_token", map[string]any{"token": "wrong", "code_verifier": "client-verifier"})
	}
	if r := cl.act("exchange_token", map[string]any{"token": back.Query().Get("hanko_token"), "code_verifier": "client-verifier"}); r.code != 400 {
		t.Fatalf("token accepted after %d wrong guesses: %s", tpTokenAttempts, r.raw)
	}
}

// TestThirdPartyProfile: a signed-in user connects a provider in the
// profile (the link is made when exchange_token arrives with the session)
// and disconnects it; the last way to sign in stays.
func TestThirdPartyProfile(t *testing.T) {
	t.Parallel()
	mocks := map[string]*mockoidc.MockOIDC{"corp": startMock(t), "linked": startMock(t)}
	e := newFEnvWith(t, func(c *config.Hanko) {
		thirdPartyConfig(c)
		c.Email.UseForAuthentication = false
	}, func(o *Options) { o.OIDC = thirdPartyMethod(t, mocks, nil) })
	e.createUser(t, "pia@example.com", "pia's password")
	cl := e.client(t)
	checkSession(t, e, cl, passwordLogin(t, cl, "pia@example.com", "pia's password"), AMRPassword)

	mocks["corp"].QueueUser(&mockoidc.MockUser{Subject: "pia-at-corp", Email: "someone.else@example.com", EmailVerified: false})
	mustState(t, cl.start("profile"), statePreflight, 200)
	mustState(t, cl.act("register_client_capabilities", map[string]any{"webauthn_available": false}), stateProfileInit, 200)
	r := cl.act("connect_thirdparty_oauth_provider", map[string]any{"provider": "custom_corp", "redirect_to": "https://app.example.com/profile"})
	mustState(t, r, stateThirdParty, 200)
	var authURL string
	_ = jsonUnmarshal(r.Payload["redirect_url"], &authURL)
	back := cl.callback(t, authURL, nil)
	if !strings.HasPrefix(back.String(), "https://app.example.com/profile?") || back.Query().Get("hanko_token") == "" {
		t.Fatalf("callback sent the browser to %s", back)
	}
	r = cl.act("exchange_token", map[string]any{"token": back.Query().Get("hanko_token")})
	mustState(t, r, stateProfileInit, 200)
	var user struct {
		Identities []IdentityJSON `json:"identities"`
	}
	_ = jsonUnmarshal(r.Payload["user"], &user)
	if len(user.Identities) != 1 || user.Identities[0].ID != "pia-at-corp" {
		t.Fatalf("identities after connecting: %s", r.Payload["user"])
	}
	// The provider now signs pia in (an unverified e-mail does not matter:
	// the link is by subject).
	mocks["corp"].QueueUser(&mockoidc.MockUser{Subject: "pia-at-corp", Email: "someone.else@example.com"})
	other := e.client(t)
	back = other.callback(t, thirdPartyStart(t, other, "login", "custom_corp"), nil)
	claims := checkSession(t, e, other, other.act("exchange_token", map[string]any{"token": back.Query().Get("hanko_token"), "code_verifier": "client-verifier"}), "ext:corp")
	if got, _ := e.ids.Get(context.Background(), claims.Subject); got == nil || !strings.Contains(string(got.Traits), "pia@example.com") {
		t.Fatalf("provider signed in %s", claims.Subject)
	}

	r = cl.act("disconnect_thirdparty_oauth_provider", map[string]any{"identity_id": user.Identities[0].IdentityID})
	mustState(t, r, stateProfileInit, 200)
	user.Identities = nil
	_ = jsonUnmarshal(r.Payload["user"], &user)
	if len(user.Identities) != 0 {
		t.Fatalf("identities after disconnecting: %s", r.Payload["user"])
	}

	// A user whose only way in is the provider keeps it.
	mocks["corp"].QueueUser(&mockoidc.MockUser{Subject: "solo", Email: "solo@example.com", EmailVerified: true})
	solo := e.client(t)
	back = solo.callback(t, thirdPartyStart(t, solo, "registration", "custom_corp"), nil)
	checkSession(t, e, solo, solo.act("exchange_token", map[string]any{"token": back.Query().Get("hanko_token"), "code_verifier": "client-verifier"}), "ext:corp")
	mustState(t, solo.start("profile"), statePreflight, 200)
	mustState(t, solo.act("register_client_capabilities", map[string]any{"webauthn_available": false}), stateProfileInit, 200)
	var soloUser struct {
		Identities []IdentityJSON `json:"identities"`
	}
	_ = jsonUnmarshal(solo.last.Payload["user"], &soloUser)
	if len(soloUser.Identities) != 1 {
		t.Fatalf("solo identities %s", solo.last.Payload["user"])
	}
	if r := solo.act("disconnect_thirdparty_oauth_provider", map[string]any{"identity_id": soloUser.Identities[0].IdentityID}); r.code != http.StatusBadRequest {
		t.Fatalf("the last way to sign in was disconnected: %d %s", r.code, r.raw)
	}
}

// TestTokenExchangeWithoutSAML: POST /token_exchange answers 403 as Hanko
// does without SAML (validated against openapi-flow.yaml).
func TestTokenExchangeWithoutSAML(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, nil)
	r := e.client(t).post("/token_exchange", []byte(`{"input_data":{"token":"x"}}`))
	if r.code != http.StatusForbidden || r.Error == nil || r.Error.Code != "operation_not_permitted_error" {
		t.Fatalf("token_exchange: %d %s", r.code, r.raw)
	}
}
