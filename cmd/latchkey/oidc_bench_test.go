package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"
)

// oidcBrowser is one browser of BenchmarkOIDCLogin: its cookies, kept by
// name (one host, and the paths do not overlap by name).
type oidcBrowser struct {
	h       http.Handler
	cookies map[string]*http.Cookie
}

func (br *oidcBrowser) do(b *testing.B, req *http.Request, want int) *httptest.ResponseRecorder {
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
	mock, err := mockoidc.Run()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = mock.Shutdown() })
	providers, _ := json.Marshal([]map[string]any{{"id": "bench", "provider": "generic", "label": "Bench",
		"client_id": mock.ClientID, "client_secret": mock.ClientSecret, "issuer_url": mock.Issuer(),
		"scope": []string{"openid", "email", "profile"}}})
	b.Setenv("LATCHKEY_SELFSERVICE_METHODS_OIDC_ENABLED", "true")
	b.Setenv("LATCHKEY_SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS", string(providers))
	hp := newHotPath(b)
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
		if err := json.Unmarshal(br.do(b, init, http.StatusOK).Body.Bytes(), &f); err != nil {
			b.Fatal(err)
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
		authURL := br.do(b, submit, http.StatusSeeOther).Header().Get("Location")
		n := hp.stmts.n.Load()
		res, err := atProvider.Get(authURL)
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
		hp.stmts.n.Store(n)
		cb, err := url.Parse(res.Header.Get("Location"))
		if err != nil || res.StatusCode != http.StatusFound {
			b.Fatalf("provider answered %d %v", res.StatusCode, err)
		}
		br.do(b, httptest.NewRequest(http.MethodGet, cb.RequestURI(), nil), http.StatusSeeOther)
		if _, ok := br.cookies["ory_kratos_session"]; !ok {
			b.Fatalf("no session cookie after the callback: %v", br.cookies)
		}
	}
	login() // the first sign-in registers the provider's user
	login() // warm the statement caches
	hp.measure(b, login)
}
