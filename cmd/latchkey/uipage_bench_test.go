package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkUILoginPage measures what bench's ui-login-page does per op, in
// process: a new browser's GET /ui/login, the redirect to
// /self-service/login/browser (a new flow and anti-CSRF cookie) and the
// GET /ui/login?flow=ID that renders the hosted page, through the whole
// public handler on SQLite.
func BenchmarkUILoginPage(b *testing.B) {
	hp := newHotPath(b)
	get := func(target string, cookies []*http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Accept", "text/html")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		w := httptest.NewRecorder()
		hp.public.ServeHTTP(w, req)
		return w
	}
	follow := func(w *httptest.ResponseRecorder) string {
		if w.Code/100 != 3 {
			b.Fatalf("answered %d, want a redirect: %s", w.Code, w.Body)
		}
		u, err := url.Parse(w.Header().Get("Location"))
		if err != nil {
			b.Fatal(err)
		}
		return u.RequestURI()
	}
	op := func() {
		start := get("/ui/login", nil)
		browser := get(follow(start), start.Result().Cookies())
		cookies := append(start.Result().Cookies(), browser.Result().Cookies()...)
		page := get(follow(browser), cookies)
		if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), "<form") {
			b.Fatalf("login page answered %d: %s", page.Code, page.Body)
		}
	}
	op()
	hp.measure(b, op)
}
