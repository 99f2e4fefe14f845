package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/oauth2-proxy/mockoidc"
)

// oidcBrowser is one browser of BenchmarkOIDCLogin: its cookies, kept by
// name (one host, and the paths do not overlap by name).
type oidcBrowser struct {
	h       http.Handler
	cookies map[string]*http.Cookie
}

func (br *oidcBrowser) do(b testing.TB, req *http.Request, want int) *httptest.ResponseRecorder {
	b.Helper()
	for _, c := range br.cookies {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	br.h.ServeHTTP(w, req)
	if w.Code != want {
		b.Fatalf("%s %s = %d, want %d: %s", req.Method, req.URL, w.Code, want, w.Body)
	}
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(br.cookies, c.Name)
		} else {
			br.cookies[c.Name] = c
		}
	}
	return w
}

// BenchmarkOIDCLogin measures the oidc-login scenario of latchkey bench
// through the whole public handler on SQLite: a new browser per op, GET
// /self-service/login/browser (JSON), POST method=oidc, the provider's
// authorization endpoint (mockoidc on loopback; its time is in ns/op, but
// not in stmts/op), GET the callback (the server redeems the code at the
// provider's token endpoint and verifies the RS256 ID token) → 303 with
// the session cookie. stmts/op counts the server's SQL statements.
func BenchmarkOIDCLogin(b *testing.B) {
	hp, login := newOIDCLogin(b)
	hp.measure(b, login)
}

// newOIDCLogin returns a server on a fresh SQLite file with mockoidc as
// its provider "bench", and one op of oidc-login against it, which fails
// tb when a step does not answer as it should. The provider's user is
// signed up, and the statement caches warm.
func newOIDCLogin(tb testing.TB) (*hotPath, func()) {
	tb.Helper()
	mock, err := mockoidc.Run()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = mock.Shutdown() })
	providers, _ := json.Marshal([]map[string]any{{"id": "bench", "provider": "generic", "label": "Bench",
		"client_id": mock.ClientID, "client_secret": mock.ClientSecret, "issuer_url": mock.Issuer(),
		"scope": []string{"openid", "email", "profile"}}})
	tb.Setenv("LATCHKEY_SELFSERVICE_METHODS_OIDC_ENABLED", "true")
	tb.Setenv("LATCHKEY_SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS", string(providers))
	hp := newHotPath(tb)
	atProvider := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login := func() {
		br := &oidcBrowser{h: hp.public, cookies: map[string]*http.Cookie{}}
		init := httptest.NewRequest(http.MethodGet, "/self-service/login/browser", nil)
		init.Header.Set("Accept", "application/json")
		var f struct {
			ID string `json:"id"`
			UI struct {
				Nodes []struct {
					Attributes struct {
						Name  string `json:"name"`
						Value any    `json:"value"`
					} `json:"attributes"`
				} `json:"nodes"`
			} `json:"ui"`
		}
		if err := json.Unmarshal(br.do(tb, init, http.StatusOK).Body.Bytes(), &f); err != nil {
			tb.Fatal(err)
		}
		csrf := ""
		for _, n := range f.UI.Nodes {
			if n.Attributes.Name == "csrf_token" {
				csrf, _ = n.Attributes.Value.(string)
			}
		}
		form := url.Values{"csrf_token": {csrf}, "method": {"oidc"}, "provider": {"bench"}}
		submit := httptest.NewRequest(http.MethodPost, "/self-service/login?flow="+url.QueryEscape(f.ID), strings.NewReader(form.Encode()))
		submit.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		submit.Header.Set("Accept", "text/html")
		authURL := br.do(tb, submit, http.StatusSeeOther).Header().Get("Location")
		n := hp.stmts.n.Load()
		res, err := atProvider.Get(authURL)
		if err != nil {
			tb.Fatal(err)
		}
		res.Body.Close()
		hp.stmts.n.Store(n)
		cb, err := url.Parse(res.Header.Get("Location"))
		if err != nil || res.StatusCode != http.StatusFound {
			tb.Fatalf("provider answered %d %v", res.StatusCode, err)
		}
		br.do(tb, httptest.NewRequest(http.MethodGet, cb.RequestURI(), nil), http.StatusSeeOther)
		if _, ok := br.cookies["ory_kratos_session"]; !ok {
			tb.Fatalf("no session cookie after the callback: %v", br.cookies)
		}
	}
	login() // the first sign-in registers the provider's user
	login() // warm the statement caches
	return hp, login
}

// BenchmarkOIDCLoginCrypto measures the cryptography one oidc-login op
// must do in the server, alone, so that the op's CPU beyond it can be
// computed: one RS256 verify of an ID token of mockoidc's key (SHA-256 of
// the signing input, the PKCS #1 v1.5 check), the random state (32
// bytes), nonce (24) and PKCE verifier (32) from crypto/rand with their
// base64, the state's SHA-256 (hex) when it is sent and again when it
// comes back, and the verifier's S256 challenge.
func BenchmarkOIDCLoginCrypto(b *testing.B) {
	kp, err := mockoidc.DefaultKeypair()
	if err != nil {
		b.Fatal(err)
	}
	// The claims of mockoidc's ID token for its default user.
	now := time.Now().Unix()
	payload, _ := json.Marshal(map[string]any{"iss": "http://127.0.0.1:46402/oidc", "sub": "1234567890",
		"aud": "latchkey-bench", "exp": now + 3600, "iat": now, "nbf": now, "nonce": "an-24-byte-nonce-in-b64url",
		"email": "jane.doe@example.com", "email_verified": true, "preferred_username": "jane.doe",
		"phone_number": "555-987-6543", "address": "123 Main Street", "groups": []string{"engineering", "design"}})
	signed, err := jws.Sign(payload, jws.WithKey(jwa.RS256(), kp.PrivateKey))
	if err != nil {
		b.Fatal(err)
	}
	idToken := string(signed)
	dot := strings.LastIndexByte(idToken, '.')
	sig, err := base64.RawURLEncoding.DecodeString(idToken[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	random := func(n int) string {
		p := make([]byte, n)
		if _, err := rand.Read(p); err != nil {
			b.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(p)
	}
	stateHash := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	b.ReportAllocs()
	for b.Loop() {
		state := "00000000-0000-4000-8000-000000000000." + random(32)
		_ = random(24)
		verifier := random(32)
		sum := sha256.Sum256([]byte(verifier))
		_ = base64.RawURLEncoding.EncodeToString(sum[:])
		if stateHash(state) != stateHash(state) {
			b.Fatal("hash")
		}
		digest := sha256.Sum256([]byte(idToken[:dot]))
		if err := rsa.VerifyPKCS1v15(kp.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}
