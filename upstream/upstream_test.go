package upstream_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/method/oidc"
	"github.com/latchkey/latchkey/upstream"
)

// noRedirect is a client that stops at the first redirect, as a test
// browser that reads Location itself.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func startMock(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

func newMethod(t *testing.T, ps ...*oidc.Provider) *oidc.Method {
	t.Helper()
	c, err := cipher.New(strings.Repeat("k", 32))
	if err != nil {
		t.Fatal(err)
	}
	m, err := oidc.New(oidc.Config{Providers: ps, Sealer: c})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mockProvider(t *testing.T, m *mockoidc.MockOIDC, clientID string) *oidc.Provider {
	t.Helper()
	up, err := upstream.New(upstream.Config{Kind: oidc.KindGeneric, ClientID: clientID, ClientSecret: m.ClientSecret, IssuerURL: m.Issuer()})
	if err != nil {
		t.Fatal(err)
	}
	return &oidc.Provider{ID: "corp", Kind: oidc.KindGeneric, Scope: []string{"openid", "email", "profile"}, PKCE: oidc.PKCEAuto, Upstream: up}
}

// authorize sends the browser to the provider and returns the callback it
// is sent back with.
func authorize(t *testing.T, authURL string) url.Values {
	t.Helper()
	resp, err := noRedirect.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize answered %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

func flowID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func TestOpenIDSignIn(t *testing.T) {
	t.Parallel()
	mock := startMock(t)
	p := mockProvider(t, mock, mock.ClientID)
	m := newMethod(t, p)
	ctx := context.Background()
	mock.QueueUser(&mockoidc.MockUser{Subject: "sub-1", Email: "Ann@Example.com", EmailVerified: true})
	start, err := m.Begin(ctx, p, flowID(), "https://id.example.com/callback/corp", map[string]string{"login_hint": "ann"})
	if err != nil {
		t.Fatal(err)
	}
	au, _ := url.Parse(start.URL)
	q := au.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") != start.State || q.Get("login_hint") != "ann" {
		t.Fatalf("authorization URL lacks PKCE, nonce, state or upstream parameters: %s", start.URL)
	}
	if start.Pending.Verifier == "" || start.Pending.Nonce == "" || strings.Contains(start.Pending.StateHash, start.State) {
		t.Fatalf("pending = %+v", start.Pending)
	}
	cb := authorize(t, start.URL)
	claims, tokens, err := m.Finish(ctx, p, start.Pending, oidc.Callback{State: cb.Get("state"), CookieState: start.State, Code: cb.Get("code")})
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "sub-1" || claims.Email != "Ann@Example.com" || !claims.EmailVerified || tokens.IDToken == "" || tokens.AccessToken == "" {
		t.Fatalf("claims %+v tokens %+v", claims, tokens)
	}
	// The tokens are stored encrypted and revealed only on request.
	op, err := m.Credential(p, claims, tokens)
	if err != nil {
		t.Fatal(err)
	}
	if op.InitialIDToken == tokens.IDToken || strings.Contains(op.InitialAccessToken, tokens.AccessToken) {
		t.Fatal("tokens are stored in clear")
	}
	if r := m.Reveal(op); r.InitialIDToken != tokens.IDToken || r.InitialAccessToken != tokens.AccessToken || r.InitialRefreshToken != tokens.RefreshToken {
		t.Fatalf("revealed %+v", r)
	}
	// A code is good once.
	if _, _, err := m.Finish(ctx, p, start.Pending, oidc.Callback{State: cb.Get("state"), CookieState: start.State, Code: cb.Get("code")}); core.ErrorCode(err) != core.CodeUnavailable {
		t.Fatalf("replayed code: err = %v", err)
	}
}

// TestOpenIDTampering changes one thing of an otherwise good callback.
func TestOpenIDTampering(t *testing.T) {
	t.Parallel()
	mock := startMock(t)
	p := mockProvider(t, mock, mock.ClientID)
	m := newMethod(t, p)
	other := &oidc.Provider{ID: "other", Kind: oidc.KindGeneric, PKCE: oidc.PKCEAuto, Upstream: p.Upstream}
	for _, tc := range []struct {
		name   string
		tamper func(cb *oidc.Callback, pend *oidc.Pending, p **oidc.Provider)
		code   core.Code
		msg    string
	}{
		{"no cookie", func(cb *oidc.Callback, _ *oidc.Pending, _ **oidc.Provider) { cb.CookieState = "" }, core.CodeInvalid, "matched to this browser"},
		{"cookie of another sign-in", func(cb *oidc.Callback, _ *oidc.Pending, _ **oidc.Provider) { cb.CookieState = cb.State + "x" }, core.CodeInvalid, "matched to this browser"},
		{"state of another flow", func(cb *oidc.Callback, _ *oidc.Pending, _ **oidc.Provider) {
			cb.State, cb.CookieState = "f.other", "f.other"
		}, core.CodeInvalid, "matched to this browser"},
		{"other provider's callback", func(_ *oidc.Callback, _ *oidc.Pending, p **oidc.Provider) { *p = other }, core.CodeInvalid, "did not start"},
		{"nonce changed", func(_ *oidc.Callback, pend *oidc.Pending, _ **oidc.Provider) { pend.Nonce = "n0" }, core.CodeInvalid, "nonce mismatch"},
		{"PKCE verifier changed", func(_ *oidc.Callback, pend *oidc.Pending, _ **oidc.Provider) {
			pend.Verifier = strings.Repeat("v", 43)
		}, core.CodeUnavailable, "could not be verified"},
		{"no code", func(cb *oidc.Callback, _ *oidc.Pending, _ **oidc.Provider) { cb.Code = "" }, core.CodeInvalid, "no authorization code"},
		{"provider refused", func(cb *oidc.Callback, _ *oidc.Pending, _ **oidc.Provider) {
			cb.Code, cb.Error, cb.ErrorDescription = "", "access_denied", "The user said no\x00"
		}, core.CodeUnauthorized, "refused the sign-in (access_denied: The user said no)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			start, err := m.Begin(ctx, p, flowID(), "https://id.example.com/cb", nil)
			if err != nil {
				t.Fatal(err)
			}
			q := authorize(t, start.URL)
			cb := oidc.Callback{State: q.Get("state"), CookieState: start.State, Code: q.Get("code")}
			pend, prov := start.Pending, p
			tc.tamper(&cb, &pend, &prov)
			_, _, err = m.Finish(ctx, prov, pend, cb)
			var ce *core.Error
			if !errors.As(err, &ce) || ce.Code != tc.code || !strings.Contains(ce.Message, tc.msg) {
				t.Fatalf("err = %v, want %s containing %q", err, tc.code, tc.msg)
			}
		})
	}
}

// idToken signs in at the mock provider and returns the ID token it issued.
func idToken(t *testing.T, mock *mockoidc.MockOIDC, nonce string) string {
	t.Helper()
	p := mockProvider(t, mock, mock.ClientID)
	m := newMethod(t, p)
	start, err := m.Begin(context.Background(), p, flowID(), "https://app.example.com/cb", nil)
	if err != nil {
		t.Fatal(err)
	}
	if nonce != "" { // a native app picks its own nonce
		u, _ := url.Parse(start.URL)
		q := u.Query()
		q.Set("nonce", nonce)
		u.RawQuery = q.Encode()
		start.URL = u.String()
	}
	cb := authorize(t, start.URL)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Get("code")}, "redirect_uri": {"https://app.example.com/cb"}, "code_verifier": {start.Pending.Verifier},
		"client_id": {mock.ClientID}, "client_secret": {mock.ClientSecret}}
	req, _ := http.NewRequest(http.MethodPost, mock.TokenEndpoint(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.IDToken == "" {
		t.Fatalf("token endpoint: %d %v", resp.StatusCode, err)
	}
	return tok.IDToken
}

// TestNativeIDToken verifies ID tokens an app got itself: right ones pass;
// another issuer, another audience, an expired token and a wrong nonce do
// not.
func TestNativeIDToken(t *testing.T) {
	t.Parallel()
	mock, stranger := startMock(t), startMock(t)
	p := mockProvider(t, mock, mock.ClientID)
	wrongAud := mockProvider(t, mock, "another-client")
	m := newMethod(t, p)
	good := idToken(t, mock, "app-nonce")
	foreign := idToken(t, stranger, "app-nonce")
	mock.FastForward(-3 * time.Hour)
	expired := idToken(t, mock, "app-nonce")
	mock.FastForward(3 * time.Hour)
	ctx := context.Background()
	c, err := m.VerifyNative(ctx, p, good, "app-nonce")
	if err != nil || c.Subject == "" {
		t.Fatalf("good token: %v", err)
	}
	for _, tc := range []struct {
		name         string
		p            *oidc.Provider
		token, nonce string
		msg          string
	}{
		{"another issuer", p, foreign, "app-nonce", "id_token is not valid"},
		{"another audience", wrongAud, good, "app-nonce", "id_token is not valid"},
		{"expired", p, expired, "app-nonce", "expired"},
		{"wrong nonce", p, good, "other", "does not match"},
		{"nonce missing", p, good, "", "must both be set"},
		{"garbage", p, "not.a.jwt", "", "id_token is not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.VerifyNative(ctx, tc.p, tc.token, tc.nonce)
			if core.ErrorCode(err) != core.CodeInvalid || !strings.Contains(core.ErrorMessage(err), tc.msg) {
				t.Fatalf("err = %v, want invalid containing %q", err, tc.msg)
			}
		})
	}
}

// github is a GitHub-style OAuth2 provider: authorize, access_token,
// /user and /user/emails.
type github struct {
	*httptest.Server
	verified bool
	codes    map[string]bool
}

func startGitHub(t *testing.T, verified bool) *github {
	t.Helper()
	g := &github{verified: verified, codes: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		code := flowID()
		g.codes[code] = true
		u, _ := url.Parse(r.URL.Query().Get("redirect_uri"))
		q := u.Query()
		q.Set("code", code)
		q.Set("state", r.URL.Query().Get("state"))
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if r.ParseForm() != nil || !g.codes[r.PostForm.Get("code")] || !ok || id != "gh-client" || secret != "gh-secret" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"error":"bad_verification_code"}`))
			return
		}
		delete(g.codes, r.PostForm.Get("code"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"gho_token","token_type":"bearer","scope":"user:email"}`))
	})
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer gho_token" {
				http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /user", auth(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"login":"octo","id":583231,"name":"The Octocat","email":"octo@example.com","avatar_url":"https://avatars.example.com/u/583231"}`))
	}))
	mux.HandleFunc("GET /user/emails", auth(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode([]map[string]any{{"email": "octo@example.com", "primary": true, "verified": g.verified}})
	}))
	g.Server = httptest.NewServer(mux)
	t.Cleanup(g.Close)
	return g
}

func TestGitHubSignIn(t *testing.T) {
	t.Parallel()
	for _, verified := range []bool{true, false} {
		g := startGitHub(t, verified)
		up, err := upstream.New(upstream.Config{Kind: oidc.KindGitHub, ClientID: "gh-client", ClientSecret: "gh-secret",
			AuthURL: g.URL + "/login/oauth/authorize", TokenURL: g.URL + "/login/oauth/access_token", APIURL: g.URL})
		if err != nil {
			t.Fatal(err)
		}
		p := &oidc.Provider{ID: "github", Kind: oidc.KindGitHub, Scope: []string{"user:email"}, PKCE: oidc.PKCEAuto, Upstream: up}
		m := newMethod(t, p)
		ctx := context.Background()
		start, err := m.Begin(ctx, p, flowID(), "https://id.example.com/cb/github", nil)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(start.URL, "nonce=") || strings.Contains(start.URL, "code_challenge") {
			t.Fatalf("plain OAuth2 authorization URL carries nonce or PKCE: %s", start.URL)
		}
		cb := authorize(t, start.URL)
		claims, tokens, err := m.Finish(ctx, p, start.Pending, oidc.Callback{State: cb.Get("state"), CookieState: start.State, Code: cb.Get("code")})
		if err != nil {
			t.Fatal(err)
		}
		if claims.Subject != "583231" || claims.Email != "octo@example.com" || claims.EmailVerified != verified || claims.Name != "The Octocat" || tokens.AccessToken != "gho_token" {
			t.Fatalf("verified=%v: claims %+v tokens %+v", verified, claims, tokens)
		}
		if _, err := m.VerifyNative(ctx, p, "x", ""); core.ErrorCode(err) != core.CodeInvalid {
			t.Fatalf("native token at an OAuth2 provider: %v", err)
		}
	}
}

// TestDiscoveryDown shows a provider that cannot be reached gives a clear
// error, and works once it is back.
func TestDiscoveryDown(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	up, err := upstream.New(upstream.Config{Kind: oidc.KindGeneric, ClientID: "c", ClientSecret: "s", IssuerURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	p := &oidc.Provider{ID: "down", Kind: oidc.KindGeneric, PKCE: oidc.PKCEAuto, Upstream: up}
	m := newMethod(t, p)
	_, err = m.Begin(context.Background(), p, flowID(), "https://id.example.com/cb", nil)
	if core.ErrorCode(err) != core.CodeUnavailable || !strings.Contains(core.ErrorMessage(err), "cannot be reached") {
		t.Fatalf("err = %v", err)
	}
}

func TestKinds(t *testing.T) {
	t.Parallel()
	for _, k := range oidc.Kinds {
		c := upstream.Config{Kind: k, ClientID: "c", ClientSecret: "s", MicrosoftTenant: "common"}
		if k == oidc.KindGeneric || k == oidc.KindAuth0 {
			c.IssuerURL = "https://issuer.example.com"
		}
		if _, err := upstream.New(c); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if _, err := upstream.New(upstream.Config{Kind: oidc.KindGeneric}); err == nil {
		t.Error("generic without issuer_url accepted")
	}
	if _, err := upstream.New(upstream.Config{Kind: oidc.KindApple, ClientID: "c", AppleTeamID: "t", ApplePrivateKeyID: "k", ApplePrivateKey: "not pem"}); err == nil {
		t.Error("apple with a broken key accepted")
	}
}

// TestTokenRequestOncePerSignIn signs in twice at a provider that takes the
// client's credentials in the request body only (client_secret_post, as
// mockoidc): oauth2 tries HTTP Basic authentication first, so the first
// sign-in makes two token requests, the first refused; the second sign-in
// must remember the way that worked and make one. (A Config made per
// request forgot it: two requests at every sign-in.)
func TestTokenRequestOncePerSignIn(t *testing.T) {
	t.Parallel()
	mock, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	var tokenRequests, basic atomic.Int64
	if err := mock.AddMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/token") {
				tokenRequests.Add(1)
				if _, _, ok := r.BasicAuth(); ok {
					basic.Add(1)
				}
			}
			next.ServeHTTP(w, r)
		})
	}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := mock.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mock.Shutdown() })
	p := mockProvider(t, mock, mock.ClientID)
	m := newMethod(t, p)
	ctx := context.Background()
	for n := range 2 {
		start, err := m.Begin(ctx, p, flowID(), "https://id.example.com/callback/corp", nil)
		if err != nil {
			t.Fatal(err)
		}
		cb := authorize(t, start.URL)
		if _, _, err := m.Finish(ctx, p, start.Pending, oidc.Callback{State: cb.Get("state"), CookieState: start.State, Code: cb.Get("code")}); err != nil {
			t.Fatalf("sign-in %d: %v", n+1, err)
		}
	}
	if got, b := tokenRequests.Load(), basic.Load(); got != 3 || b != 1 {
		t.Fatalf("two sign-ins made %d token requests (%d with Basic authentication); want 3 (1)", got, b)
	}
}
