package kratos_test

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/oauth2-proxy/mockoidc"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/jsonnet"
	"github.com/latchkey/latchkey/method/oidc"
	"github.com/latchkey/latchkey/method/totp"
	"github.com/latchkey/latchkey/store/storetest"
	"github.com/latchkey/latchkey/upstream"
)

func TestMain(m *testing.M) {
	jsonnet.RunWorker()
	os.Exit(m.Run())
}

// withOIDC enables the oidc method with one provider "corp" at the mock
// (mapper: a Jsonnet claims mapper, "" for the default mapping).
func withOIDC(t *testing.T, mock *mockoidc.MockOIDC, mapper string) ssOption {
	return func(cfg *config.Config, o *kratos.SelfServiceOptions) {
		t.Helper()
		o.SelfService.Methods.OIDC.Enabled = true
		up, err := upstream.New(upstream.Config{Kind: oidc.KindGeneric, ClientID: mock.ClientID, ClientSecret: mock.ClientSecret, IssuerURL: mock.Issuer()})
		if err != nil {
			t.Fatal(err)
		}
		c, err := cipher.New("0123456789abcdef0123456789abcdef")
		if err != nil {
			t.Fatal(err)
		}
		ev, err := jsonnet.New(jsonnet.Options{})
		if err != nil {
			t.Fatal(err)
		}
		p := &oidc.Provider{ID: "corp", Kind: oidc.KindGeneric, Label: "Corp", Scope: []string{"openid", "email", "profile"},
			PKCE: oidc.PKCEAuto, Mapper: mapper, MapperID: "test-mapper", Upstream: up}
		if o.OIDC, err = oidc.New(oidc.Config{Providers: []*oidc.Provider{p}, Sealer: c, Mapper: ev}); err != nil {
			t.Fatal(err)
		}
	}
}

func startMockOIDC(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

var atProvider = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// providerRound follows the browser to the provider and returns the
// callback URL the provider sends it back to.
func providerRound(t *testing.T, authURL string) string {
	t.Helper()
	res, err := atProvider.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		t.Fatalf("provider answered %d", res.StatusCode)
	}
	return res.Header.Get("Location")
}

// oidcStart submits method=oidc in a browser login or registration flow
// and returns the provider URL it is sent to.
func oidcStart(t *testing.T, b *client, kind string) (flowID, authURL string) {
	t.Helper()
	init := b.do("GET", "/self-service/"+kind+"/browser", nil)
	must(t, init, 303)
	id := flowIDOf(t, init)
	f := b.do("GET", "/self-service/"+kind+"/flows?id="+id, nil)
	must(t, f, 200)
	if !strings.Contains(string(f.body), `"provider"`) || !strings.Contains(string(f.body), `"group":"oidc"`) {
		t.Fatalf("no oidc button in %s", f.body)
	}
	r := b.do("POST", "/self-service/"+kind+"?flow="+id, url.Values{"csrf_token": {csrfOf(t, f.json(t))}, "provider": {"corp"}})
	must(t, r, 303)
	return id, r.hdr.Get("Location")
}

func flowIDOf(t *testing.T, r resp) string { return flowID(t, r) }

// oidcBackends runs test on every backend, each with its own provider.
func oidcBackends(t *testing.T, mapper string, test func(t *testing.T, e *ssEnv, mock *mockoidc.MockOIDC)) {
	t.Helper()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mock := startMockOIDC(t)
			test(t, newSelfServiceEnvOn(t, open, withOIDC(t, mock, mapper)), mock)
		})
	}
}

func TestOIDCBrowserSignUpSignIn(t *testing.T) {
	t.Parallel()
	oidcBackends(t, "", func(t *testing.T, e *ssEnv, mock *mockoidc.MockOIDC) {
		mock.QueueUser(&mockoidc.MockUser{Subject: "sub-" + e.base, Email: "Nina@example.com", EmailVerified: true})
		b := e.browser(t)
		// A first sign-in through a login flow becomes a registration.
		_, authURL := oidcStart(t, b, "login")
		if !strings.HasPrefix(authURL, mock.AuthorizationEndpoint()) || !strings.Contains(authURL, "code_challenge_method=S256") || !strings.Contains(authURL, "nonce=") {
			t.Fatalf("provider URL %s", authURL)
		}
		cb := b.do("GET", providerRound(t, authURL), nil)
		must(t, cb, 303)
		who := b.do("GET", "/sessions/whoami", nil)
		must(t, who, 200)
		ident := who.json(t)["identity"].(map[string]any)
		addrs := asList(ident["verifiable_addresses"])
		if len(addrs) != 1 || addrs[0].(map[string]any)["verified"] != true {
			t.Fatalf("the provider's verified e-mail is not a verified address: %s", who.body)
		}
		i, err := e.ids.Get(t.Context(), ident["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		cred, ok := i.Credential(core.CredentialOIDC)
		if !ok || len(cred.Identifiers) != 1 || cred.Identifiers[0] != "corp:sub-"+e.base {
			t.Fatalf("oidc credential %+v", cred)
		}

		// The admin API shows the provider's tokens decrypted, only with
		// include_credential=oidc.
		ciph, _ := cipher.New("0123456789abcdef0123456789abcdef")
		shown, _ := json.Marshal(kratos.NewIdentityJSON(i, e.base, true, []core.CredentialType{core.CredentialOIDC}, ciph))
		if !strings.Contains(string(shown), `"initial_id_token":"ey`) || !strings.Contains(string(cred.Config), `"initial_id_token":"A`) {
			t.Fatalf("admin view %s of stored %s", shown, cred.Config)
		}
		hidden, _ := json.Marshal(kratos.NewIdentityJSON(i, e.base, true, nil, ciph))
		if strings.Contains(string(hidden), "initial_id_token") {
			t.Fatalf("tokens shown without include_credential: %s", hidden)
		}

		// The same subject signs in again from a new browser.
		mock.QueueUser(&mockoidc.MockUser{Subject: "sub-" + e.base, Email: "changed@example.com", EmailVerified: true})
		b2 := e.browser(t)
		_, authURL = oidcStart(t, b2, "registration")
		must(t, b2.do("GET", providerRound(t, authURL), nil), 303)
		who2 := b2.do("GET", "/sessions/whoami", nil)
		must(t, who2, 200)
		if who2.json(t)["identity"].(map[string]any)["id"] != ident["id"] {
			t.Fatal("the same subject signed in as someone else")
		}
	})
}

// TestOIDCLinking: a provider naming someone else's e-mail — verified or
// not — gets no session; the owner proves the account with the password
// in the same flow, and only then is the provider linked.
func TestOIDCLinking(t *testing.T) {
	t.Parallel()
	oidcBackends(t, "", func(t *testing.T, e *ssEnv, mock *mockoidc.MockOIDC) {
		owner := e.native(t)
		e.registerNative(t, owner, "victim@example.com", "correct horse battery")
		for _, verified := range []bool{false, true} {
			mock.QueueUser(&mockoidc.MockUser{Subject: "attacker", Email: "VICTIM@example.com", EmailVerified: verified})
			b := e.browser(t)
			id, authURL := oidcStart(t, b, "login")
			back := b.do("GET", providerRound(t, authURL), nil)
			must(t, back, 303)
			if !strings.Contains(back.hdr.Get("Location"), "/ui/login?flow="+id) {
				t.Fatalf("verified=%v: callback redirects to %q", verified, back.hdr.Get("Location"))
			}
			must(t, b.do("GET", "/sessions/whoami", nil), 401)
			f := b.do("GET", "/self-service/login/flows?id="+id, nil)
			if !hasID(messageIDs(f.json(t)), 1010016) {
				t.Fatalf("verified=%v: no link message: %s", verified, f.body)
			}
			if verified {
				// The owner signs in with the password in this flow: the
				// provider is linked to the account.
				r := b.do("POST", "/self-service/login?flow="+id, url.Values{"csrf_token": {csrfOf(t, f.json(t))}, "method": {"password"},
					"identifier": {"victim@example.com"}, "password": {"correct horse battery"}})
				must(t, r, 303)
				must(t, b.do("GET", "/sessions/whoami", nil), 200)
			}
		}
		// Now the provider signs the owner in.
		mock.QueueUser(&mockoidc.MockUser{Subject: "attacker", Email: "victim@example.com", EmailVerified: true})
		b := e.browser(t)
		_, authURL := oidcStart(t, b, "login")
		must(t, b.do("GET", providerRound(t, authURL), nil), 303)
		who := b.do("GET", "/sessions/whoami", nil)
		must(t, who, 200)
		traits := who.json(t)["identity"].(map[string]any)["traits"].(map[string]any)
		if traits["email"] != "victim@example.com" {
			t.Fatalf("signed in as %v", traits)
		}
	})
}

// TestOIDCCallbackTampering: callbacks that do not belong to the browser's
// round trip, or that the provider refused, end in a flow message and no
// session, never a 500.
func TestOIDCCallbackTampering(t *testing.T) {
	t.Parallel()
	oidcBackends(t, "", func(t *testing.T, e *ssEnv, mock *mockoidc.MockOIDC) {
		for _, tc := range []struct {
			name   string
			mangle func(cb *url.URL, b *client)
			want   string
		}{
			{"no state cookie", func(_ *url.URL, b *client) { b.http.Jar, _ = newJar() }, "could not be matched to this browser"},
			{"state changed", func(cb *url.URL, _ *client) {
				q := cb.Query()
				q.Set("state", q.Get("state")+"x")
				cb.RawQuery = q.Encode()
			}, "could not be matched to this browser"},
			{"provider refused", func(cb *url.URL, _ *client) {
				q := cb.Query()
				q.Del("code")
				q.Set("error", "access_denied")
				cb.RawQuery = q.Encode()
			}, "Corp refused the sign-in (access_denied)"},
			{"code forged", func(cb *url.URL, _ *client) {
				q := cb.Query()
				q.Set("code", "forged")
				cb.RawQuery = q.Encode()
			}, "could not be verified"},
			// The browser carries the round trip sealed for its flow: a
			// cookie of another flow, a changed one, or the bare state (what
			// the cookie held before it was sealed) opens nothing, and the
			// flow holds no round trip either.
			{"state cookie of another flow", func(cb *url.URL, b *client) {
				other := e.browser(t)
				oidcStart(t, other, "login")
				setStateCookie(b, cb, stateCookie(t, other, cb))
			}, "could not be matched to this browser"},
			{"state cookie changed", func(cb *url.URL, b *client) {
				v := []byte(stateCookie(t, b, cb))
				if v[10] == 'A' {
					v[10] = 'B'
				} else {
					v[10] = 'A'
				}
				setStateCookie(b, cb, string(v))
			}, "could not be matched to this browser"},
			{"state cookie is the state", func(cb *url.URL, b *client) {
				setStateCookie(b, cb, cb.Query().Get("state"))
			}, "could not be matched to this browser"},
		} {
			b := e.browser(t)
			id, authURL := oidcStart(t, b, "login")
			cb, err := url.Parse(providerRound(t, authURL))
			if err != nil {
				t.Fatal(err)
			}
			tc.mangle(cb, b)
			r := b.do("GET", cb.String(), nil)
			if r.code != http.StatusSeeOther {
				t.Fatalf("%s: status %d: %s", tc.name, r.code, r.body)
			}
			must(t, b.do("GET", "/sessions/whoami", nil), 401)
			if tc.name == "no state cookie" {
				continue // the jar that held the flow's CSRF cookie is gone
			}
			f := b.do("GET", "/self-service/login/flows?id="+id, nil)
			if !strings.Contains(string(f.body), tc.want) {
				t.Errorf("%s: flow lacks %q: %s", tc.name, tc.want, f.body)
			}
			// As Kratos, a flow sent to a provider has oidc as its method,
			// whatever came back.
			if !strings.Contains(string(f.body), `"active":"oidc"`) {
				t.Errorf("%s: flow not active oidc: %s", tc.name, f.body)
			}
		}
		// A callback naming no flow of ours is a clean 404 error page.
		b := e.browser(t)
		r := b.do("GET", "/self-service/methods/oidc/callback/corp?state=x.y&code=z", nil)
		if r.code >= 500 {
			t.Fatalf("unknown flow: %d", r.code)
		}
	})
}

// stateCookie returns the OIDC state cookie b holds for the callback cb.
func stateCookie(t *testing.T, b *client, cb *url.URL) string {
	t.Helper()
	for _, c := range b.http.Jar.Cookies(cb) {
		if c.Name == "latchkey_oidc_state" {
			return c.Value
		}
	}
	t.Fatalf("no state cookie for %s", cb)
	return ""
}

// setStateCookie replaces the OIDC state cookie b sends to the callback cb.
func setStateCookie(b *client, cb *url.URL, v string) {
	b.http.Jar.SetCookies(cb, []*http.Cookie{{Name: "latchkey_oidc_state", Value: v, Path: "/self-service/methods/oidc/callback/"}})
}

// TestOIDCSPAAndNative: an SPA gets 422 with redirect_browser_to; a native
// app signs up and in with an id_token and its nonce.
func TestOIDCSPAAndNative(t *testing.T) {
	t.Parallel()
	oidcBackends(t, "", func(t *testing.T, e *ssEnv, mock *mockoidc.MockOIDC) {
		b := e.browser(t)
		b.json = true
		f := b.do("GET", "/self-service/login/browser", nil)
		must(t, f, 200)
		r := b.do("POST", "/self-service/login?flow="+flowID(t, f), map[string]any{"csrf_token": csrfOf(t, f.json(t)), "method": "oidc", "provider": "corp",
			"upstream_parameters": map[string]any{"login_hint": "nina@example.com", "evil": "x"}})
		must(t, r, 422)
		to, _ := r.json(t)["redirect_browser_to"].(string)
		if !strings.HasPrefix(to, mock.AuthorizationEndpoint()) || !strings.Contains(to, "login_hint=nina%40example.com") || strings.Contains(to, "evil") {
			t.Fatalf("redirect_browser_to %q", to)
		}
		r = b.do("POST", "/self-service/login?flow="+flowID(t, f), map[string]any{"csrf_token": csrfOf(t, f.json(t)), "method": "oidc", "provider": "nope"})
		must(t, r, 400)

		// Native: the app got an ID token with its own nonce.
		mock.QueueUser(&mockoidc.MockUser{Subject: "phone-user", Email: "phone@example.com", EmailVerified: true})
		tok := nativeIDToken(t, mock, "app-nonce")
		n := e.native(t)
		for _, kind := range []string{"registration", "login"} {
			f := n.do("GET", "/self-service/"+kind+"/api", nil)
			must(t, f, 200)
			bad := n.do("POST", "/self-service/"+kind+"?flow="+flowID(t, f), map[string]any{"method": "oidc", "provider": "corp", "id_token": tok, "id_token_nonce": "other"})
			must(t, bad, 400)
			ok := n.do("POST", "/self-service/"+kind+"?flow="+flowID(t, f), map[string]any{"method": "oidc", "provider": "corp", "id_token": tok, "id_token_nonce": "app-nonce"})
			must(t, ok, 200)
			if st, _ := ok.json(t)["session_token"].(string); !strings.HasPrefix(st, "ory_st_") {
				t.Fatalf("%s: no session token: %s", kind, ok.body)
			}
			// Without an id_token an API flow cannot be sent to a browser.
			f = n.do("GET", "/self-service/login/api", nil)
			must(t, n.do("POST", "/self-service/login?flow="+flowID(t, f), map[string]any{"method": "oidc", "provider": "corp"}), 400)
		}
	})
}

// TestOIDCMapper: a Jsonnet mapper's traits are used; a mapper that fails
// is a flow message, and a mapping missing required traits asks for them.
func TestOIDCMapper(t *testing.T) {
	t.Parallel()
	const broken = `error "mapper bug"`
	const noEmail = `local c = std.extVar('claims'); {identity: {traits: {name: 'From ' + c.sub}}}`
	for _, tc := range []struct{ name, mapper string }{{"broken", broken}, {"incomplete", noEmail}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mock := startMockOIDC(t)
			e := newSelfServiceEnv(t, withOIDC(t, mock, tc.mapper))
			mock.QueueUser(&mockoidc.MockUser{Subject: "m1", Email: "m1@example.com", EmailVerified: true})
			b := e.browser(t)
			id, authURL := oidcStart(t, b, "registration")
			back := b.do("GET", providerRound(t, authURL), nil)
			must(t, back, 303)
			must(t, b.do("GET", "/sessions/whoami", nil), 401)
			f := b.do("GET", "/self-service/registration/flows?id="+id, nil)
			must(t, f, 200)
			if tc.mapper == broken {
				if !strings.Contains(string(f.body), "mapping of Corp data failed") {
					t.Fatalf("no mapper message: %s", f.body)
				}
				return
			}
			if !strings.Contains(string(f.body), "From m1") || !hasID(messageIDs(f.json(t)), 4000002) {
				t.Fatalf("traits completion not offered: %s", f.body)
			}
			r := b.do("POST", "/self-service/registration?flow="+id, url.Values{"csrf_token": {csrfOf(t, f.json(t))}, "provider": {"corp"},
				"traits.email": {"m1@example.com"}, "traits.name": {"From m1"}})
			must(t, r, 303)
			who := b.do("GET", "/sessions/whoami", nil)
			must(t, who, 200)
			if !strings.Contains(string(who.body), `"verified":true`) {
				t.Errorf("the provider-verified address typed by the user is not verified: %s", who.body)
			}
		})
	}
}

func newJar() (http.CookieJar, error) { return cookiejar.New(nil) }

// nativeIDToken signs in at the mock as a native app would and returns the
// ID token carrying the app's nonce.
func nativeIDToken(t *testing.T, mock *mockoidc.MockOIDC, nonce string) string {
	t.Helper()
	q := url.Values{"client_id": {mock.ClientID}, "response_type": {"code"}, "scope": {"openid email profile"},
		"redirect_uri": {"https://app.example.com/cb"}, "state": {"s"}, "nonce": {nonce}}
	loc, err := url.Parse(providerRound(t, mock.AuthorizationEndpoint()+"?"+q.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {"https://app.example.com/cb"},
		"client_id": {mock.ClientID}, "client_secret": {mock.ClientSecret}}
	res, err := http.PostForm(mock.TokenEndpoint(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.IDToken == "" {
		t.Fatalf("token endpoint: %d %v", res.StatusCode, err)
	}
	return tok.IDToken
}

// TestOIDCSettingsLinkUnlink: the last way to sign in cannot be unlinked;
// with a password set the provider is unlinked and linked again; a
// provider account linked to someone else cannot be linked.
func TestOIDCSettingsLinkUnlink(t *testing.T) {
	t.Parallel()
	oidcBackends(t, "", func(t *testing.T, e *ssEnv, mock *mockoidc.MockOIDC) {
		mock.QueueUser(&mockoidc.MockUser{Subject: "olga", Email: "olga@example.com", EmailVerified: true})
		b := e.browser(t)
		_, authURL := oidcStart(t, b, "registration")
		must(t, b.do("GET", providerRound(t, authURL), nil), 303)
		must(t, b.do("GET", "/sessions/whoami", nil), 200)

		settings := func() (string, map[string]any) {
			init := b.do("GET", "/self-service/settings/browser", nil)
			must(t, init, 303)
			id := flowID(t, init)
			f := b.do("GET", "/self-service/settings/flows?id="+id, nil)
			must(t, f, 200)
			return id, f.json(t)
		}
		id, f := settings()
		if !strings.Contains(mustJSON(f), `"id":1050003`) {
			t.Fatalf("no unlink button: %s", mustJSON(f))
		}
		r := b.do("POST", "/self-service/settings?flow="+id, url.Values{"csrf_token": {csrfOf(t, f)}, "unlink": {"corp"}})
		must(t, r, 303)
		_, f = settings()
		if !strings.Contains(mustJSON(f), `"id":1050003`) {
			t.Fatalf("the last way to sign in was unlinked: %s", mustJSON(f))
		}
		g := b.do("GET", "/self-service/settings/flows?id="+id, nil)
		if !strings.Contains(string(g.body), "last way to sign in") {
			t.Fatalf("no refusal message: %s", g.body)
		}

		// With a password, unlinking works, and linking again too.
		id, f = settings()
		must(t, b.do("POST", "/self-service/settings?flow="+id, url.Values{"csrf_token": {csrfOf(t, f)}, "method": {"password"}, "password": {"olga's long password"}}), 303)
		id, f = settings()
		must(t, b.do("POST", "/self-service/settings?flow="+id, url.Values{"csrf_token": {csrfOf(t, f)}, "unlink": {"corp"}}), 303)
		id, f = settings()
		if !strings.Contains(mustJSON(f), `"id":1050002`) {
			t.Fatalf("no link button after unlinking: %s", mustJSON(f))
		}
		mock.QueueUser(&mockoidc.MockUser{Subject: "olga", Email: "olga@example.com", EmailVerified: true})
		r = b.do("POST", "/self-service/settings?flow="+id, url.Values{"csrf_token": {csrfOf(t, f)}, "link": {"corp"}})
		must(t, r, 303)
		must(t, b.do("GET", providerRound(t, r.hdr.Get("Location")), nil), 303)
		_, f = settings()
		if !strings.Contains(mustJSON(f), `"id":1050003`) {
			t.Fatalf("not linked again: %s", mustJSON(f))
		}

		// Another account cannot take olga's provider account.
		other := e.browser(t)
		e.registerBrowser(t, other, "other@example.com", "another long password")
		init := other.do("GET", "/self-service/settings/browser", nil)
		sid := flowID(t, init)
		sf := other.do("GET", "/self-service/settings/flows?id="+sid, nil)
		mock.QueueUser(&mockoidc.MockUser{Subject: "olga", Email: "olga@example.com", EmailVerified: true})
		r = other.do("POST", "/self-service/settings?flow="+sid, url.Values{"csrf_token": {csrfOf(t, sf.json(t))}, "link": {"corp"}})
		must(t, r, 303)
		must(t, other.do("GET", providerRound(t, r.hdr.Get("Location")), nil), 303)
		sf = other.do("GET", "/self-service/settings/flows?id="+sid, nil)
		if !strings.Contains(string(sf.body), "linked to another account") {
			t.Fatalf("linked to a second account: %s", sf.body)
		}
	})
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// registerBrowser signs up with a password in a browser registration flow
// (both screens of profile_first).
func (e *ssEnv) registerBrowser(t *testing.T, b *client, email, pw string) {
	t.Helper()
	init := b.do("GET", "/self-service/registration/browser", nil)
	id := flowID(t, init)
	f := b.do("GET", "/self-service/registration/flows?id="+id, nil)
	form := url.Values{"csrf_token": {csrfOf(t, f.json(t))}, "method": {"profile"}, "traits.email": {email}}
	must(t, b.do("POST", "/self-service/registration?flow="+id, form), 303)
	f = b.do("GET", "/self-service/registration/flows?id="+id, nil)
	form.Set("csrf_token", csrfOf(t, f.json(t)))
	form.Set("method", "password")
	form.Set("password", pw)
	must(t, b.do("POST", "/self-service/registration?flow="+id, form), 303)
	must(t, b.do("GET", "/sessions/whoami", nil), 200)
}

// TestOIDCTokenExchange: a native app hands the sign-in to the browser
// and collects the session with both codes, once.
func TestOIDCTokenExchange(t *testing.T) {
	t.Parallel()
	oidcBackends(t, "", func(t *testing.T, e *ssEnv, mock *mockoidc.MockOIDC) {
		app := e.native(t)
		f := app.do("GET", "/self-service/login/api?return_session_token_exchange_code=true&return_to=https://app.example.com/native", nil)
		must(t, f, 200)
		initCode, _ := f.json(t)["session_token_exchange_code"].(string)
		if initCode == "" {
			t.Fatalf("no session_token_exchange_code: %s", f.body)
		}
		if again := app.do("GET", "/self-service/login/flows?id="+flowID(t, f), nil); strings.Contains(string(again.body), initCode) {
			t.Fatal("the init code is shown again on a later fetch")
		}
		must(t, app.do("GET", "/sessions/token-exchange?init_code="+url.QueryEscape(initCode)+"&return_to_code=nope", nil), 404)
		r := app.do("POST", "/self-service/login?flow="+flowID(t, f), map[string]any{"method": "oidc", "provider": "corp"})
		must(t, r, 422)
		to, _ := r.json(t)["redirect_browser_to"].(string)

		// The system browser: no cookie of the flow.
		mock.QueueUser(&mockoidc.MockUser{Subject: "app-user", Email: "app@example.com", EmailVerified: true})
		br := e.browser(t)
		back := br.do("GET", providerRound(t, to), nil)
		must(t, back, 303)
		loc, _ := url.Parse(back.hdr.Get("Location"))
		code := loc.Query().Get("code")
		if !strings.HasPrefix(loc.String(), "https://app.example.com/native?") || code == "" {
			t.Fatalf("browser sent to %s", loc)
		}
		must(t, app.do("GET", "/sessions/token-exchange?init_code=x"+url.QueryEscape(initCode[1:])+"&return_to_code="+url.QueryEscape(code), nil), 404)
		ok := app.do("GET", "/sessions/token-exchange?init_code="+url.QueryEscape(initCode)+"&return_to_code="+url.QueryEscape(code), nil)
		must(t, ok, 200)
		tok, _ := ok.json(t)["session_token"].(string)
		app.token = tok
		must(t, app.do("GET", "/sessions/whoami", nil), 200)
		must(t, app.do("GET", "/sessions/token-exchange?init_code="+url.QueryEscape(initCode)+"&return_to_code="+url.QueryEscape(code), nil), 404)
	})
}

// TestOIDCSignInAsksForSecondFactor: a provider sign-in of an account with
// TOTP leaves an aal1 session and sends the browser to the aal2 login
// (whoami requires the highest available level), although the sign-in
// reads the linked identity without its credentials.
func TestOIDCSignInAsksForSecondFactor(t *testing.T) {
	t.Parallel()
	mock := startMockOIDC(t)
	e := newSelfServiceEnv(t, withMFA(t), withOIDC(t, mock, ""))
	mock.QueueUser(&mockoidc.MockUser{Subject: "mfa-" + e.base, Email: "mira@example.com", EmailVerified: true})
	b := e.browser(t)
	_, authURL := oidcStart(t, b, "login")
	must(t, b.do("GET", providerRound(t, authURL), nil), 303)
	who := b.do("GET", "/sessions/whoami", nil)
	must(t, who, 200)
	id := who.json(t)["identity"].(map[string]any)["id"].(string)

	// The account gets a TOTP key.
	k, err := pqtotp.Generate(pqtotp.GenerateOpts{Issuer: "latchkey.test", AccountName: "mira@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := totp.ParseURL(k.URL())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := cipher.New("0123456789abcdef0123456789abcdef")
	sealed, err := totp.SealConfig(c, id, key)
	if err != nil {
		t.Fatal(err)
	}
	i, err := e.st.GetIdentity(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.now()
	i.SetCredential(core.Credential{ID: uuid.NewString(), Type: core.CredentialTOTP, Config: sealed, CreatedAt: now, UpdatedAt: now})
	if err := e.st.UpdateIdentity(t.Context(), i); err != nil {
		t.Fatal(err)
	}

	// A new browser signs in with the provider: aal1, on to the aal2 login.
	mock.QueueUser(&mockoidc.MockUser{Subject: "mfa-" + e.base, Email: "mira@example.com", EmailVerified: true})
	b2 := e.browser(t)
	_, authURL = oidcStart(t, b2, "login")
	cb := b2.do("GET", providerRound(t, authURL), nil)
	must(t, cb, 303)
	if loc := cb.hdr.Get("Location"); !strings.Contains(loc, "/self-service/login/browser?aal=aal2") {
		t.Fatalf("provider sign-in of an account with TOTP: Location %q", loc)
	}
	must(t, b2.do("GET", "/sessions/whoami", nil), 403)
}
